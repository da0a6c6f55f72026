package main

import (
	"strings"
	"testing"
)

func TestFormatPairingCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ABCDEFGH", "ABCD-EFGH"},
		{"wxyz2345", "WXYZ-2345"},
		{" 12345678 ", "1234-5678"},
		{"ABC", "ABC"},
		{"ABCD-EFGH", "ABCD-EFGH"},
		{"", ""},
	} {
		if got := formatPairingCode(tc.in); got != tc.want {
			t.Errorf("formatPairingCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFontCoversAlphabet(t *testing.T) {
	seen := map[[glyphH]string]rune{}
	for r, g := range font {
		for _, row := range g {
			if len(row) != glyphW || strings.Trim(row, "#.") != "" {
				t.Fatalf("glyph %q row %q is malformed", r, row)
			}
		}
		if other, dup := seen[g]; dup {
			t.Fatalf("glyphs %q and %q are identical", r, other)
		}
		seen[g] = r
	}
	for _, r := range pairingAlphabet + "-" {
		if _, ok := font[r]; !ok {
			t.Fatalf("no glyph for %q", r)
		}
	}
}

// The big code reads back as the glyphs of ABCD-EFGH, four lines tall.
func TestBigTextRoundTrip(t *testing.T) {
	code := formatPairingCode("ZX9K2QRM")
	drawing := renderBigText(code)
	if n := strings.Count(drawing, "\n"); n != 4 {
		t.Fatalf("big text is %d lines, want 4", n)
	}
	got := parseHalfBlocks(t, drawing, qrPlain)
	for y := glyphH; y < len(got); y++ { // the padding row is empty
		for _, ink := range got[y] {
			if ink {
				t.Fatal("ink in the padding row")
			}
		}
	}
	got = got[:glyphH]
	for i, r := range code {
		for y := range glyphH {
			for x := range glyphW {
				if got[y][i*(glyphW+1)+x] != (font[r][y][x] == '#') {
					t.Fatalf("character %d (%q) differs at (%d,%d)", i, r, x, y)
				}
			}
		}
	}
	if renderBigText("AB€") != "" {
		t.Fatal("a character without a glyph was drawn")
	}
}
