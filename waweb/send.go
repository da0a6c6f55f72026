package waweb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/internal/redact"
	"github.com/wapool/wapool/internal/wait"
)

// Send sends text to the phone number digits through the running app and
// returns the message's id: the data-id of its bubble ("true_<jid>_<msgid>",
// or a bare id on the pages of fact 20), which is what identifies a message
// on WhatsApp Web. It is Prepare, Click and WaitAck in a
// row, for callers that keep no record between the phases; a caller that
// must never send twice records the Draft before Click (see Prepare).
//
// Errors: ErrRecipientNotOnWhatsApp (the dialog was closed), ErrNotLinked,
// ErrConflict, ErrUpdateBrowser, ErrUnexpectedPage, ErrComposeMismatch and
// errors before the click mean nothing was sent. After the click every error
// wraps ErrNotAcked, and the id is returned too when the bubble showed.
func (p *Page) Send(ctx context.Context, digits, text string) (waMessageID string, err error) {
	d, err := p.Prepare(ctx, digits, text)
	if err != nil {
		return "", err
	}
	return p.send(ctx, d)
}

// send is Click and WaitAck of a prepared draft, for Send and SendFile.
func (p *Page) send(ctx context.Context, d Draft) (waMessageID string, err error) {
	clicked, err := p.Click(ctx, d)
	if err != nil {
		if clicked {
			return "", fmt.Errorf("%w: %w", ErrNotAcked, err)
		}
		return "", err
	}
	b, err := p.WaitAck(ctx, d)
	return b.ID, err
}

// Draft is a message entered in its chat's compose box and taken by the
// app's editor: the send button shows. For a file (PrepareFile) it is the
// file's preview, its caption entered in the preview's caption box and
// held by its editor. Nothing has been sent.
type Draft struct {
	To   string // the recipient's digits
	Text string // the text (a file's caption, maybe empty) as the box holds it ("\r\n" and "\r" made "\n")
	// File is the file the preview shows; nil for a text.
	File *File
	// Noted lists the data-ids of the chat's outgoing bubbles when the draft
	// was ready, oldest first. The app's editor takes the box only after the
	// chat's messages have loaded (fact 17), so the list is the chat's
	// history, not a partial view of it.
	Noted []string
	// Out describes the bubbles of Noted, in the same order: what an earlier
	// clicked attempt at a message may have left is among those its own
	// noted list lacks.
	Out []Bubble
	// Entries is how many times the text was entered before the editor kept
	// it (1 when the editor was live at once).
	Entries int
}

// editor names the box a draft is entered in: the open chat's compose box
// (facts 7, 8), or the caption box of a file's preview (fact 19).
type editor struct{ file bool }

// boxKey and sendKey are the Selectors keys of the box and of its send button.
func (e editor) boxKey() string {
	if e.file {
		return "preview_caption"
	}
	return "compose"
}

func (e editor) sendKey() string {
	if e.file {
		return "preview_send_button"
	}
	return "send_button"
}

func (e editor) String() string {
	if e.file {
		return "caption box"
	}
	return "compose box"
}

func (d Draft) editor() editor { return editor{file: d.File != nil} }

// Bubble is one outgoing message bubble of the open chat. An outgoing
// bubble is one with a "true_" id or, where ids are bare (fact 20), one with
// a status element: the driver opened the chat, so it needs no jid.
type Bubble struct {
	ID    string `json:"id"`    // data-id: "true_<jid>_<msgid>", or a bare id (fact 20)
	Acked bool   `json:"acked"` // its status is sent, delivered or read (icon or label)
	// Match: its text, rebuilt from the drawing (fact 18), is the draft's
	// text (or, behind "Read more", starts with 20+ characters of it).
	// False for a drawing the driver does not know: a check, never the way
	// to find a bubble.
	Match bool `json:"match"`
}

// Prepare opens the chat with digits (as it is when the driver left it open;
// else inside the app, fact 14; else by the deep link, fact 6), empties the
// compose box with real key events, enters text with Input.insertText per
// line and Shift+Enter between lines (fact 7), and returns once the app's
// editor holds it: the box reads back the text (trimmed, as the app sends
// it) and the send button shows (fact 8). Nothing is sent.
//
// A chat's editor may take over its box a moment after the box shows and
// redraw it empty (fact 17): when the text does not stay, Prepare enters it
// again, at once after the box was redrawn, within Limits.ChatOpen. Only
// then it fails with ErrComposeMismatch.
//
// Errors (nothing was sent with any of them): ErrRecipientNotOnWhatsApp,
// ErrNotLinked, ErrConflict, ErrUpdateBrowser, ErrUnexpectedPage,
// ErrComposeMismatch, ErrPageClosed, the context's.
func (p *Page) Prepare(ctx context.Context, digits, text string) (Draft, error) {
	if err := checkDigits(digits); err != nil {
		return Draft{}, err
	}
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text)
	if strings.TrimSpace(text) == "" {
		return Draft{}, errors.New("waweb: empty text")
	}
	cctx, cancel := p.with(ctx)
	defer cancel()
	if err := p.closePreview(cctx); err != nil {
		return Draft{}, fmt.Errorf("recipient %s: %w", redact.Phone(digits), err)
	}
	if err := p.openChat(cctx, digits); err != nil {
		return Draft{}, fmt.Errorf("recipient %s: %w", redact.Phone(digits), err)
	}
	d, err := p.enter(cctx, digits, text, nil)
	if err != nil {
		return Draft{}, fmt.Errorf("recipient %s: %w", redact.Phone(digits), err)
	}
	return d, nil
}

type draftResult struct {
	R   string   `json:"r"`
	Got int      `json:"got"`
	Out []Bubble `json:"out"`
}

// enter fills the open chat's box (with f, the caption box of f's
// preview) until the editor keeps the text (fact 17).
func (p *Page) enter(ctx context.Context, digits, text string, f *File) (Draft, error) {
	ed := editor{file: f != nil}
	deadline := time.Now().Add(p.limits.ChatOpen)
	arg := map[string]any{"digits": digits, "text": text, "file": ed.file}
	var last draftResult
	for entries := 1; ; entries++ {
		if err := p.fill(ctx, ed, text); err != nil {
			return Draft{}, err
		}
		// The editor either keeps the text and shows the send button, or
		// redraws the box without it; the wait ends within a frame of either.
		bound := min(p.limits.Control, time.Until(deadline))
		r, ok, err := waitJS[draftResult](ctx, p, jsDraft, arg, max(bound, 0))
		if err != nil {
			return Draft{}, fmt.Errorf("%s: %w", ed, err)
		}
		if ok {
			last = r
		}
		switch {
		case ok && r.R == "ready":
			noted := make([]string, len(r.Out))
			for i, b := range r.Out {
				noted[i] = b.ID
			}
			return Draft{To: digits, Text: text, File: f, Noted: noted, Out: r.Out, Entries: entries}, nil
		case ok && r.R == "nobox":
			return Draft{}, contractErr(ed.boxKey(), "the %s went away while the text was entered", ed)
		}
		if !ok {
			// The editor holds the text (its own text elements) and no send
			// button showed within Limits.Control: the selector no longer
			// finds the button (facts 8, 19).
			if held, err := eval[bool](ctx, p, jsHeld, arg); err == nil && held {
				return Draft{}, contractErr(ed.sendKey(), "the editor holds the text but no send button showed within %v", p.limits.Control)
			}
		}
		if !time.Now().Before(deadline) {
			if !ok && !ed.file {
				return Draft{}, contractErr("send_button", "the box holds the text but no send button showed after %d entries in %v", entries, p.limits.ChatOpen)
			}
			return Draft{}, fmt.Errorf("box holds %d characters, want %d, after %d entries in %v: %w", last.Got, len([]rune(strings.TrimSpace(text))), entries, p.limits.ChatOpen, ErrComposeMismatch)
		}
		// "lost": the editor redrew the box. Enter again at once; a box that
		// loses the text right away again is given a short breath.
		if entries > 1 {
			if err := wait.Sleep(ctx, min(time.Duration(entries)*25*time.Millisecond, 250*time.Millisecond)); err != nil {
				return Draft{}, p.wrap(err)
			}
		}
	}
}

// Discard discards a file's preview (Escape, else its close button: fact
// 19) and empties the open chat's compose box, e.g. after Prepare or
// PrepareFile when the message turned out to be sent already. Nothing is
// sent.
func (p *Page) Discard(ctx context.Context) error {
	cctx, cancel := p.with(ctx)
	defer cancel()
	if err := p.closePreview(cctx); err != nil {
		return err
	}
	return p.clearCompose(cctx)
}

type sendClickResult struct {
	R   string `json:"r"`
	Got int    `json:"got"`
}

// Click clicks the send button of a Draft that Prepare returned (of a
// PrepareFile draft: the preview's send button), after checking that the
// box still holds its text (the caption box: in its editor's own text
// elements) and the chat's outgoing bubbles are still Draft.Noted. clicked
// reports whether the click was made: with clicked false nothing was sent,
// whatever the error; with clicked true the message may be out, and WaitAck
// tells.
func (p *Page) Click(ctx context.Context, d Draft) (clicked bool, err error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	ed := d.editor()
	r, err := eval[sendClickResult](cctx, p, jsClickSend, map[string]any{"text": d.Text, "noted": d.Noted, "file": ed.file})
	if err != nil {
		// The script may have run and clicked before the error (the call
		// timed out, the page went away): only an exception thrown by the
		// script, which clicks last, says nothing was clicked.
		var exc *chromedp.ExceptionError
		return !errors.As(err, &exc), fmt.Errorf("recipient %s: send button: %w", redact.Phone(d.To), err)
	}
	switch r.R {
	case "clicked":
		return true, nil
	case "mismatch":
		return false, fmt.Errorf("recipient %s: %s holds %d characters before the click, want %d: %w", redact.Phone(d.To), ed, r.Got, len([]rune(strings.TrimSpace(d.Text))), ErrComposeMismatch)
	case "changed":
		return false, fmt.Errorf("recipient %s: the chat's outgoing messages changed before the click: %w", redact.Phone(d.To), ErrUnexpectedPage)
	case "nobox":
		return false, fmt.Errorf("recipient %s: %w", redact.Phone(d.To), contractErr(ed.boxKey(), "no %s before the click", ed))
	}
	return false, fmt.Errorf("recipient %s: %w", redact.Phone(d.To), contractErr(ed.sendKey(), "no send button before the click although the %s holds the text", ed))
}

// WaitAck waits, after Click, for the draft's new bubble to be acked (sent,
// delivered or read: fact 10's icons or fact 20's labels) within
// Limits.Ack (for a file, Limits.AckFor its size: it uploads first), and
// returns it. The new bubble is the outgoing one not in Noted; its text (a
// file's caption; none or an empty one for an empty caption) is a check
// (Bubble.Match), not the way to find it: a drawing the driver does not
// know still gives the bubble, with Match false. Every error wraps
// ErrNotAcked; the bubble is returned with it when it showed.
func (p *Page) WaitAck(ctx context.Context, d Draft) (Bubble, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	limit := p.limits.Ack
	if d.File != nil {
		limit = p.limits.AckFor(d.File.Size)
	}
	b, err := p.waitAck(cctx, d.Text, d.Noted, d.File != nil, limit)
	if err != nil {
		return b, fmt.Errorf("recipient %s: %w", redact.Phone(d.To), err)
	}
	return b, nil
}

// WaitAcked waits for the open chat's bubble id to show msg-check or
// msg-dblcheck, within Limits.Ack. Errors wrap ErrNotAcked.
func (p *Page) WaitAcked(ctx context.Context, id string) error {
	cctx, cancel := p.with(ctx)
	defer cancel()
	_, ok, err := waitJS[bool](cctx, p, jsBubbleAcked, map[string]any{"id": id}, p.limits.Ack)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrNotAcked, err)
	case !ok:
		return fmt.Errorf("no msg-check after %v: %w", p.limits.Ack, ErrNotAcked)
	}
	return nil
}

// checkDigits accepts a phone number as digits only.
func checkDigits(digits string) error {
	if digits == "" || len(digits) > 20 || digitsOf(digits) != digits {
		return fmt.Errorf("waweb: recipient must be 1-20 digits, got %d characters", len(digits))
	}
	return nil
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
			if p.sel().ChatLink == "" {
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
	href := strings.NewReplacer("{origin}", p.origin, "{base}", p.base, "{phone}", digits).Replace(p.sel().ChatLink)
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
		// The chat shows, with an editable box, but the compose selector
		// finds none: a page load by the deep link would show the same.
		if shown, err := eval[bool](ctx, p, jsChatShown, map[string]any{"token": tok}); err == nil && shown {
			return contractErr("compose", "the chat opened but no compose box matches (an editable element shows in #main)")
		}
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
	u := strings.NewReplacer("{origin}", p.origin, "{base}", p.base, "{phone}", digits).Replace(p.sel().DeepLink)
	if err := p.navigate(ctx, u); err != nil {
		return err
	}
	st, err := p.waitBooted(ctx)
	if err != nil {
		return err
	}
	if st == StateUnknown {
		return contractErr("page_state", "after the deep link the page is neither the landing, the main screen nor booting")
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
		return contractErr("compose", "the deep link showed neither a compose box nor a dialog after %v", p.limits.ChatOpen)
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
	return p.fill(ctx, editor{}, text)
}

// fill empties ed's box with real key events, if it holds anything, then
// enters text.
func (p *Page) fill(ctx context.Context, ed editor, text string) error {
	if err := p.clear(ctx, ed); err != nil {
		return err
	}
	return p.wrap(insertText(ctx, text))
}

// clearCompose focuses the compose box and empties it with real key events.
func (p *Page) clearCompose(ctx context.Context) error { return p.clear(ctx, editor{}) }

// clear focuses ed's box and empties it with real key events.
func (p *Page) clear(ctx context.Context, ed editor) error {
	arg := map[string]any{"file": ed.file}
	n, err := eval[int](ctx, p, jsFocusCompose, arg)
	if err != nil {
		return fmt.Errorf("focus %s: %w", ed, err)
	}
	if n < 0 {
		if ed.file {
			return contractErr(ed.boxKey(), "no caption box in the file's preview")
		}
		return contractErr("compose", "no compose box in the open chat")
	}
	for try := 0; n > 0; try++ {
		if try == 2 {
			return fmt.Errorf("cannot clear it: %w", ErrComposeMismatch)
		}
		if try == 1 { // select through the DOM if the shortcut did not
			if _, err := eval[bool](ctx, p, jsSelectCompose, arg); err != nil {
				return fmt.Errorf("select %s: %w", ed, err)
			}
		} else if err := press(ctx, keySelectAll); err != nil {
			return p.wrap(err)
		}
		if err := press(ctx, keyBackspace); err != nil {
			return p.wrap(err)
		}
		if n, err = eval[int](ctx, p, jsFocusCompose, arg); err != nil {
			return fmt.Errorf("focus %s: %w", ed, err)
		}
	}
	return nil
}

// waitAck waits, within limit, for the new outgoing bubble (not in before)
// to be acked; file: it is a file's, text its caption.
func (p *Page) waitAck(ctx context.Context, text string, before []string, file bool, limit time.Duration) (Bubble, error) {
	if before == nil {
		before = []string{}
	}
	arg := map[string]any{"text": text, "before": before, "any": false, "file": file}
	o, ok, err := waitJS[Bubble](ctx, p, jsOutgoing, arg, limit)
	if ok {
		return o, nil
	}
	// Report the pending bubble, if it shows, with the error.
	arg["any"] = true
	var b Bubble
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	if r, e := eval[*Bubble](pctx, p, jsOutgoing, arg); e == nil && r != nil {
		b = *r
	}
	cancel()
	if err != nil {
		return b, fmt.Errorf("%w: %w", ErrNotAcked, err)
	}
	return b, fmt.Errorf("no acked bubble after %v: %w", limit, ErrNotAcked)
}
