// Package redact hides personal data before it reaches a log line or an
// error text. DESIGN ("Logs and privacy"): message text is never logged,
// and phone numbers are masked to their last 4 digits.
package redact

// Phone masks a phone number to its last 4 digits: "…2222" for
// "15550002222" or "+1 555 000-2222". Everything but the ASCII digits is
// dropped first, so raw input (a "+", spaces, dashes, a stray letter) is
// masked the same way; a number of 4 digits or fewer shows only those
// digits, and one without digits shows "…". The output never tells the
// number's length.
func Phone(s string) string {
	var last [4]byte
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			copy(last[:], last[1:])
			last[3] = c
			n++
		}
	}
	return "…" + string(last[4-min(n, 4):])
}
