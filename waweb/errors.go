package waweb

import (
	"errors"
	"fmt"
)

// Sentinel errors. Check them with errors.Is: the driver wraps them with
// details ("recipient 1555…: waweb: recipient is not on WhatsApp").
var (
	// ErrRecipientNotOnWhatsApp: the page said the number is not on WhatsApp
	// (facts 9, 14). Permanent: a retry gives the same answer.
	ErrRecipientNotOnWhatsApp = errors.New("waweb: recipient is not on WhatsApp")
	// ErrNotLinked: the page shows the landing (QR code) instead of the app.
	ErrNotLinked = errors.New("waweb: not linked")
	// ErrUnexpectedPage: the page is in no state the operation can work from
	// (booting too long, a missing control, an unknown page).
	ErrUnexpectedPage = errors.New("waweb: unexpected page")
	// ErrConflict: another window uses the account; UseHere takes over
	// (fact 12). It wraps ErrUnexpectedPage.
	ErrConflict = fmt.Errorf("waweb: account open in another window (Use here): %w", ErrUnexpectedPage)
	// ErrUpdateBrowser: the page asks to update Chrome, usually because the
	// user agent says HeadlessChrome (fact 13). It wraps ErrUnexpectedPage.
	ErrUpdateBrowser = fmt.Errorf("waweb: the page asks to update the browser: %w", ErrUnexpectedPage)
	// ErrComposeMismatch: the compose box does not hold the text to send
	// after entering it; nothing was sent.
	ErrComposeMismatch = errors.New("waweb: compose box does not hold the text")
	// ErrNotAcked: the send button was clicked but the message's bubble did
	// not reach msg-check in time. The message may or may not have gone out:
	// look for its bubble (a new one in Draft.Out) before sending again.
	ErrNotAcked = errors.New("waweb: message clicked but not acknowledged")
	// ErrPageClosed: the tab or the browser is gone.
	ErrPageClosed = errors.New("waweb: page closed")
	// ErrPageContract: the page no longer matches the page contract where
	// an operation needs it: a selector finds nothing where the contract
	// says its element must be (no compose box in an open chat, no send
	// button while the box holds text, a page that is none of the known
	// screens). WhatsApp Web changed: the selectors need an update
	// (--selectors, reloaded on SIGHUP). Nothing was sent. The error is a
	// *ContractError naming the check. It wraps ErrUnexpectedPage.
	ErrPageContract = fmt.Errorf("waweb: the page does not match the page contract: %w", ErrUnexpectedPage)
)

// ContractError is an ErrPageContract that names what did not match.
type ContractError struct {
	// Check is the Selectors key (JSON name) whose selector found nothing,
	// such as "compose" or "send_button", or the fact's name where no
	// single selector applies ("page_state").
	Check string
	// Detail says what was looked for and where; never message text,
	// names or numbers.
	Detail string
}

func (e *ContractError) Error() string {
	return fmt.Sprintf("page contract: %s: %s", e.Check, e.Detail)
}

// Unwrap makes errors.Is(err, ErrPageContract) hold.
func (e *ContractError) Unwrap() error { return ErrPageContract }

// asContract finds a *ContractError in err's chain.
func asContract(err error) (*ContractError, bool) {
	var ce *ContractError
	ok := errors.As(err, &ce)
	return ce, ok
}

// contractErr is a *ContractError for check.
func contractErr(check, format string, args ...any) error {
	return &ContractError{Check: check, Detail: fmt.Sprintf(format, args...)}
}

// stateError turns a page state that an operation cannot work from into an error.
func stateError(st State) error {
	switch st {
	case StateLanding:
		return ErrNotLinked
	case StateConflict:
		return ErrConflict
	case StateUpdateBrowser:
		return ErrUpdateBrowser
	}
	return fmt.Errorf("page is %s: %w", st, ErrUnexpectedPage)
}
