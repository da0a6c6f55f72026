package supervisor

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/wapool/wapool/internal/redact"
)

// MaxTextRunes is the longest text Send accepts, in Unicode code points.
const MaxTextRunes = 65536

// NormalizePhone turns a number in international format ("+" optional;
// spaces, dashes, dots and parentheses ignored) into digits. It refuses what
// libphonenumber does not call a possible number; it does not demand a valid
// one, since numbering plans change faster than the library.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return "", fmt.Errorf("phone %q: unexpected character %q: %w", redact.Phone(s), r, ErrInvalidPhone)
		}
	}
	digits := b.String()
	if digits == "" || len(digits) > 15 {
		return "", fmt.Errorf("phone %q: want 1 to 15 digits in international format: %w", redact.Phone(s), ErrInvalidPhone)
	}
	n, err := phonenumbers.Parse("+"+digits, "")
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", fmt.Errorf("phone %q: not a possible number in international format: %w", redact.Phone(s), ErrInvalidPhone)
	}
	return digits, nil
}

// NormalizeText trims the white space WhatsApp drops and checks the length.
func NormalizeText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("text is not valid UTF-8: %w", ErrInvalidText)
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return "", fmt.Errorf("text is empty: %w", ErrInvalidText)
	}
	if n := utf8.RuneCountInString(t); n > MaxTextRunes {
		return "", fmt.Errorf("text has %d characters, more than %d: %w", n, MaxTextRunes, ErrInvalidText)
	}
	return t, nil
}
