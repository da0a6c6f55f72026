package redact

import (
	"strings"
	"testing"
)

func TestPhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"15550002222", "…2222"},
		{"+1 555 000-2222", "…2222"},
		{"+49 (30) 123-4567", "…4567"},
		{"12ab", "…12"},
		{"1234", "…1234"},
		{"", "…"},
		{"abc", "…"},
		{"١٢٣٤٥", "…"}, // not ASCII digits
	} {
		if got := Phone(tc.in); got != tc.want {
			t.Errorf("Phone(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+15550102222", "", "12", "١٢٣", "+1 (555) 010-2222"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Phone(s)
		digits := strings.TrimPrefix(got, "…")
		if len(digits) > 4 || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("Phone(%q) = %q: more than the last 4 digits", s, got)
		}
		if !strings.HasPrefix(got, "…") {
			t.Fatalf("Phone(%q) = %q: no … in front", s, got)
		}
	})
}
