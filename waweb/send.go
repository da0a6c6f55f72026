package waweb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Send sends text to the phone number digits through the running app and
// returns the message's id: the full data-id of its bubble,
// "true_<digits>@c.us_<msgid>" (or "true_<lid>@lid_<msgid>"), which is what
// identifies a message on WhatsApp Web.
//
// No page load in the usual case: the chat Send opened last is used as it is
// when it still shows; else the chat opens inside the app (fact 14), and
// only when the app does not take that over within Limits.InAppOpen, or the
// main screen does not show, by the deep link of fact 6 (without the text).
// The box is cleared with real key events, the text entered with
// Input.insertText per line and Shift+Enter between lines (fact 7), read back
// (trimmed, as the app sends it), and sent with the send button (fact 8).
// Send returns once the new bubble shows msg-check or msg-dblcheck (fact 10).
// "\r\n" and "\r" in text are sent as "\n".
//
// Errors: ErrRecipientNotOnWhatsApp (the dialog was closed), ErrNotLinked,
// ErrConflict, ErrUpdateBrowser, ErrUnexpectedPage, ErrComposeMismatch and
// errors before the click mean nothing was sent. After the click every error
// wraps ErrNotAcked, and the id is returned too when the bubble showed.
func (p *Page) Send(ctx context.Context, digits, text string) (waMessageID string, err error) {
	if err := checkDigits(digits); err != nil {
		return "", err
	}
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text)
	if strings.TrimSpace(text) == "" {
		return "", errors.New("waweb: empty text")
	}
	cctx, cancel := p.with(ctx)
	defer cancel()
	if err := p.openChat(cctx, digits); err != nil {
		return "", fmt.Errorf("recipient %s: %w", mask(digits), err)
	}
	if err := p.fillCompose(cctx, text); err != nil {
		return "", fmt.Errorf("recipient %s: %w", mask(digits), err)
	}
	before, err := p.confirmAndClick(cctx, text)
	if err != nil {
		return "", fmt.Errorf("recipient %s: %w", mask(digits), err)
	}
	id, err := p.waitAck(cctx, digits, text, before)
	if err != nil {
		return id, fmt.Errorf("recipient %s: %w", mask(digits), err)
	}
	return id, nil
}

// checkDigits accepts a phone number as digits only.
func checkDigits(digits string) error {
	if digits == "" || len(digits) > 20 || digitsOf(digits) != digits {
		return fmt.Errorf("waweb: recipient must be 1-20 digits, got %d characters", len(digits))
	}
	return nil
}

// mask keeps the last 4 digits of a phone number, for errors and logs.
func mask(digits string) string {
	if len(digits) <= 4 {
		return "…" + digits
	}
	return "…" + digits[len(digits)-4:]
}

type prepareResult struct {
	State string `json:"state"`
	Open  bool   `json:"open"`
}

// openChat makes the chat with digits show its compose box: as it is, inside
// the app, or by deep link.
func (p *Page) openChat(ctx context.Context, digits string) error {
	for attempt := 0; ; attempt++ {
		r, err := eval[prepareResult](ctx, p, jsPrepare, map[string]any{"digits": digits, "known": p.chatIs(digits)})
		if err != nil {
			return fmt.Errorf("open chat: %w", err)
		}
		if r.Open {
			p.setOpen(digits, OpenAlready)
			return nil
		}
		switch st := parseState(r.State); st {
		case StateMain:
			if p.sel.ChatLink == "" {
				return p.openDeepLink(ctx, digits)
			}
			return p.openInApp(ctx, digits)
		case StateBooting:
			if attempt > 0 {
				return p.openDeepLink(ctx, digits)
			}
			if _, err := p.waitBooted(ctx); err != nil {
				return err
			}
		case StateUnknown:
			return p.openDeepLink(ctx, digits)
		default:
			return stateError(st)
		}
	}
}

type clickResult struct {
	R          string `json:"r"`
	State      string `json:"state"`
	HadMain    bool   `json:"hadMain"`
	HadBubbles bool   `json:"hadBubbles"`
}

// openInApp opens the chat by a clicked link the app takes over (fact 14),
// and falls back to the deep link when it does not.
func (p *Page) openInApp(ctx context.Context, digits string) error {
	p.forget()
	tok := p.token()
	href := strings.NewReplacer("{origin}", p.origin, "{base}", p.base, "{phone}", digits).Replace(p.sel.ChatLink)
	c, err := eval[clickResult](ctx, p, jsClickChat, map[string]string{"href": href, "token": tok})
	if err != nil {
		return fmt.Errorf("open chat in the app: %w", err)
	}
	switch c.R {
	case "not-main":
		if st := parseState(c.State); st == StateLanding || st == StateConflict || st == StateUpdateBrowser {
			return stateError(st)
		}
		return p.openDeepLink(ctx, digits)
	case "unhandled":
		return p.openDeepLink(ctx, digits)
	}
	arg := map[string]any{"digits": digits, "token": tok, "hadMain": c.HadMain, "hadBubbles": c.HadBubbles}
	res, ok, err := waitJS[string](ctx, p, jsChatOpened, arg, p.limits.InAppOpen)
	switch {
	case err != nil:
		return fmt.Errorf("open chat in the app: %w", err)
	case !ok:
		return p.openDeepLink(ctx, digits)
	case res == "invalid":
		return p.dismissInvalid(ctx)
	}
	p.setOpen(digits, OpenInApp)
	return nil
}

// openDeepLink loads the deep link of fact 6 (no text in it) and waits for
// the compose box or the invalid-number dialog.
func (p *Page) openDeepLink(ctx context.Context, digits string) error {
	u := strings.NewReplacer("{origin}", p.origin, "{base}", p.base, "{phone}", digits).Replace(p.sel.DeepLink)
	if err := p.navigate(ctx, u); err != nil {
		return err
	}
	st, err := p.waitBooted(ctx)
	if err != nil {
		return err
	}
	if st != StateMain {
		return stateError(st)
	}
	arg := map[string]any{"digits": digits, "token": "", "hadMain": false, "hadBubbles": false}
	res, ok, err := waitJS[string](ctx, p, jsChatOpened, arg, p.limits.ChatOpen)
	switch {
	case err != nil:
		return fmt.Errorf("open chat by deep link: %w", err)
	case !ok:
		return fmt.Errorf("deep link showed neither a compose box nor a dialog after %v: %w", p.limits.ChatOpen, ErrUnexpectedPage)
	case res == "invalid":
		return p.dismissInvalid(ctx)
	}
	p.setOpen(digits, OpenDeepLink)
	return nil
}

// dismissInvalid closes the not-on-WhatsApp dialog and returns
// ErrRecipientNotOnWhatsApp.
func (p *Page) dismissInvalid(ctx context.Context) error {
	p.forget()
	if _, err := eval[bool](ctx, p, jsDismissInvalid, nil); err != nil {
		return fmt.Errorf("%w (closing the dialog: %w)", ErrRecipientNotOnWhatsApp, err)
	}
	return ErrRecipientNotOnWhatsApp
}

// fillCompose empties the compose box with real key events, if it holds
// anything, then enters text.
func (p *Page) fillCompose(ctx context.Context, text string) error {
	n, err := eval[int](ctx, p, jsFocusCompose, nil)
	if err != nil {
		return fmt.Errorf("focus compose box: %w", err)
	}
	if n < 0 {
		return fmt.Errorf("no compose box: %w", ErrUnexpectedPage)
	}
	for try := 0; n > 0; try++ {
		if try == 2 {
			return fmt.Errorf("cannot clear it: %w", ErrComposeMismatch)
		}
		if try == 1 { // select through the DOM if the shortcut did not
			if _, err := eval[bool](ctx, p, jsSelectCompose, nil); err != nil {
				return fmt.Errorf("select compose box: %w", err)
			}
		} else if err := press(ctx, keySelectAll); err != nil {
			return p.wrap(err)
		}
		if err := press(ctx, keyBackspace); err != nil {
			return p.wrap(err)
		}
		if n, err = eval[int](ctx, p, jsFocusCompose, nil); err != nil {
			return fmt.Errorf("focus compose box: %w", err)
		}
	}
	return p.wrap(insertText(ctx, text))
}

type confirmResult struct {
	R      string   `json:"r"`
	Got    int      `json:"got"`
	Want   int      `json:"want"`
	Before []string `json:"before"`
}

// confirmAndClick checks the box holds text, notes the chat's outgoing
// bubbles and clicks the send button; it returns the noted bubble ids.
func (p *Page) confirmAndClick(ctx context.Context, text string) ([]string, error) {
	r, err := eval[confirmResult](ctx, p, jsConfirmAndClick, map[string]any{"text": text, "ms": p.limits.Control.Milliseconds()})
	if err != nil {
		return nil, fmt.Errorf("send button: %w", err)
	}
	switch r.R {
	case "clicked":
		return r.Before, nil
	case "mismatch":
		return nil, fmt.Errorf("box holds %d characters, want %d: %w", r.Got, r.Want, ErrComposeMismatch)
	case "nocompose":
		return nil, fmt.Errorf("compose box gone: %w", ErrUnexpectedPage)
	}
	return nil, fmt.Errorf("no send button shows: %w", ErrUnexpectedPage)
}

type outgoing struct {
	ID    string `json:"id"`
	Acked bool   `json:"acked"`
}

// waitAck waits for the new outgoing bubble to show msg-check or msg-dblcheck.
func (p *Page) waitAck(ctx context.Context, digits, text string, before []string) (string, error) {
	arg := map[string]any{"digits": digits, "text": text, "before": before, "any": false}
	o, ok, err := waitJS[outgoing](ctx, p, jsOutgoing, arg, p.limits.Ack)
	if ok {
		return o.ID, nil
	}
	// Report the pending bubble's id, if it shows, with the error.
	arg["any"] = true
	var id string
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	if r, e := eval[*outgoing](pctx, p, jsOutgoing, arg); e == nil && r != nil {
		id = r.ID
	}
	cancel()
	if err != nil {
		return id, fmt.Errorf("%w: %w", ErrNotAcked, err)
	}
	return id, fmt.Errorf("no msg-check after %v: %w", p.limits.Ack, ErrNotAcked)
}

type sentBubble struct {
	ID    string `json:"id"`
	At    *int64 `json:"at"`
	Acked bool   `json:"acked"`
}

// FindOutgoing opens the chat with digits the way Send does and looks for an
// outgoing bubble that shows text (trimmed, as the app sent it) and whose
// data-pre-plain-text time is not before since truncated to the minute (the
// page's local time). It returns the newest such bubble's full data-id. Use
// it after a crash between the click and the ack, to not send twice. A
// bubble whose time does not parse is not taken. Errors as Send's before the
// click.
func (p *Page) FindOutgoing(ctx context.Context, digits, text string, since time.Time) (waMessageID string, found bool, err error) {
	if err := checkDigits(digits); err != nil {
		return "", false, err
	}
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text)
	cctx, cancel := p.with(ctx)
	defer cancel()
	if err := p.openChat(cctx, digits); err != nil {
		return "", false, fmt.Errorf("recipient %s: %w", mask(digits), err)
	}
	// The chat shows its recent messages (fact 10), maybe a moment after its box.
	if _, _, err := waitJS[bool](cctx, p, jsAnyBubble, nil, 1500*time.Millisecond); err != nil {
		return "", false, fmt.Errorf("recipient %s: %w", mask(digits), err)
	}
	list, err := eval[[]sentBubble](cctx, p, jsFindSent, map[string]any{"digits": digits, "text": text})
	if err != nil {
		return "", false, fmt.Errorf("recipient %s: read bubbles: %w", mask(digits), err)
	}
	from := since.Truncate(time.Minute).UnixMilli()
	for i := len(list) - 1; i >= 0; i-- {
		if b := list[i]; b.At != nil && *b.At >= from {
			return b.ID, true, nil
		}
	}
	return "", false, nil
}
