package fakewa

import "errors"

// Errors of the control API. The HTTP control API answers them with the
// status in brackets.
var (
	// ErrUnknownCode: no page ever showed this QR or pairing code (404).
	ErrUnknownCode = errors.New("unknown code")
	// ErrExpiredCode: the code was shown but is no longer: it expired, its page
	// moved on to another code, another screen or away (410).
	ErrExpiredCode = errors.New("expired code")
	// ErrInvalidPhone: the phone number is not 6 to 15 digits (400).
	ErrInvalidPhone = errors.New("invalid phone number")
	// ErrInvalidOption: an option has a value the fake does not know, such
	// as an unknown Build or Drawing (400).
	ErrInvalidOption = errors.New("invalid option")
)
