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
)

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
