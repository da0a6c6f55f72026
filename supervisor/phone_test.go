package supervisor

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	good := map[string]string{
		"+1 555 010 2222":   "15550102222",
		"15550002222":       "15550002222",
		"+49 (30) 123-4567": "49301234567",
		"+44.20.7946.0958":  "442079460958",
	}
	for in, want := range good {
		got, err := NormalizePhone(in)
		if err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "+", "abc", "12", "+1555abc", "1+555", "1234567890123456", "+999 1"} {
		if got, err := NormalizePhone(in); !errors.Is(err, ErrInvalidPhone) {
			t.Errorf("NormalizePhone(%q) = %q, %v; want ErrInvalidPhone", in, got, err)
		}
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+15550102222", "15550100000", "+49 30 1234567", "", "++1", "١٢٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NormalizePhone(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPhone) {
				t.Fatalf("error of the wrong class: %v", err)
			}
			return
		}
		if strings.Trim(d, "0123456789") != "" || len(d) == 0 || len(d) > 15 {
			t.Fatalf("NormalizePhone(%q) = %q: not 1-15 digits", s, d)
		}
		if again, err := NormalizePhone(d); err != nil || again != d {
			t.Fatalf("not idempotent: %q → %q, %v", d, again, err)
		}
	})
}

func TestNormalizeText(t *testing.T) {
	if got, err := NormalizeText("  hi\nthere \n"); err != nil || got != "hi\nthere" {
		t.Errorf("got %q, %v", got, err)
	}
	for _, in := range []string{"", "  \n\t", strings.Repeat("é", MaxTextRunes+1), "\xff"} {
		if _, err := NormalizeText(in); !errors.Is(err, ErrInvalidText) {
			t.Errorf("NormalizeText(%.20q) = %v, want ErrInvalidText", in, err)
		}
	}
	if _, err := NormalizeText(strings.Repeat("é", MaxTextRunes)); err != nil {
		t.Errorf("max length refused: %v", err)
	}
}
