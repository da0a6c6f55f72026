package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// parseHalfBlocks reads a half-block drawing back into modules (true =
// dark), two rows per line. It fails the test on any other character.
func parseHalfBlocks(t *testing.T, drawing string, style qrStyle) [][]bool {
	t.Helper()
	var m [][]bool
	for line := range strings.Lines(ansiEscape.ReplaceAllString(drawing, "")) {
		line = strings.TrimSuffix(line, "\n")
		var top, bottom []bool
		for _, r := range line {
			var a, b bool
			switch r {
			case '█':
				a, b = true, true
			case '▀':
				a = true
			case '▄':
				b = true
			case ' ':
			default:
				t.Fatalf("unexpected character %q in the drawing", r)
			}
			if style == qrInvert {
				a, b = !a, !b
			}
			top, bottom = append(top, a), append(bottom, b)
		}
		m = append(m, top, bottom)
	}
	return m
}

// whatsappLikeCode builds a code shaped like the page's data-ref:
// ref,noiseKey,identityKey,advSecret.
func whatsappLikeCode(seed string) string {
	b64 := func(s string) string {
		h := sha256.Sum256([]byte(seed + s))
		return base64.StdEncoding.EncodeToString(h[:])
	}
	ref := "2@" + strings.Repeat(b64("ref"), 2)[:86]
	return ref + "," + b64("noise") + "," + b64("identity") + "," + b64("adv")
}

// trim cuts n modules off every side of m.
func trim(m [][]bool, n int) [][]bool {
	var out [][]bool
	for _, row := range m[n : len(m)-n] {
		out = append(out, row[n:len(row)-n])
	}
	return out
}

func equalMatrix(a, b [][]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for y := range a {
		if len(a[y]) != len(b[y]) {
			return false
		}
		for x := range a[y] {
			if a[y][x] != b[y][x] {
				return false
			}
		}
	}
	return true
}

// checkQRDrawing proves that drawing is code's QR: read back, it holds
// go-qrcode's modules (level Low, its own 4-module border removed) inside a
// light quiet zone of quietZone modules (plus at most one light padding row).
func checkQRDrawing(t *testing.T, drawing, code string, style qrStyle) {
	t.Helper()
	q, err := qrcode.New(code, qrcode.Low)
	if err != nil {
		t.Fatal(err)
	}
	want := trim(q.Bitmap(), 4) // go-qrcode's default border is 4 modules
	got := parseHalfBlocks(t, drawing, style)
	n := len(want) + 2*quietZone
	if len(got) != n && len(got) != n+1 {
		t.Fatalf("drawing has %d rows, want %d (+1 padding)", len(got), n)
	}
	for y, row := range got {
		if len(row) != n {
			t.Fatalf("row %d has %d modules, want %d", y, len(row), n)
		}
		for x, dark := range row {
			inside := y >= quietZone && y < quietZone+len(want) && x >= quietZone && x < quietZone+len(want)
			if !inside && dark {
				t.Fatalf("quiet zone module (%d,%d) is dark", x, y)
			}
		}
	}
	if !equalMatrix(trim(got[:n], quietZone), want) {
		t.Fatalf("the drawing's modules differ from the QR bitmap of %q", code)
	}
}

func TestQRRoundTrip(t *testing.T) {
	codes := []string{
		"hello",
		whatsappLikeCode("a"),
		whatsappLikeCode("b"),
		strings.Repeat("x", 500),
	}
	for _, code := range codes {
		for _, style := range []qrStyle{qrColor, qrInvert, qrPlain} {
			t.Run(fmt.Sprintf("%d-%d", len(code), style), func(t *testing.T) {
				drawing, err := renderQR(code, style)
				if err != nil {
					t.Fatal(err)
				}
				checkQRDrawing(t, drawing, code, style)
				for line := range strings.Lines(drawing) {
					hasColour := strings.HasPrefix(line, blackOnWhite) && strings.HasSuffix(line, resetColour+"\n")
					if (style == qrColor) != hasColour {
						t.Fatalf("style %d: line %q: colour escapes present=%v", style, line, hasColour)
					}
				}
			})
		}
	}
}

func TestQRDistinguishesCodes(t *testing.T) {
	a, _ := renderQR(whatsappLikeCode("a"), qrPlain)
	b, _ := renderQR(whatsappLikeCode("b"), qrPlain)
	if a == b {
		t.Fatal("two codes drew the same picture")
	}
}

// A WhatsApp code must fit a common terminal.
func TestQRFitsTerminal(t *testing.T) {
	if quietZone < 2 || quietZone > 4 {
		t.Fatalf("quiet zone of %d modules, want 2 to 4", quietZone)
	}
	drawing, err := renderQR(whatsappLikeCode("size"), qrPlain)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(drawing, "\n")
	width := len([]rune(strings.SplitN(drawing, "\n", 2)[0]))
	t.Logf("WhatsApp-like code: %d columns × %d lines", width, lines)
	if width > 80 || lines > 40 {
		t.Fatalf("drawing is %d×%d, want at most 80×40", width, lines)
	}
}

func TestQRTooLong(t *testing.T) {
	if _, err := renderQR(strings.Repeat("x", 5000), qrColor); err == nil {
		t.Fatal("a 5000-byte code encoded")
	}
}

// ansiRedraw is link's redraw on a terminal: cursor up N lines, clear.
var ansiRedraw = regexp.MustCompile(`\x1b\[(\d+)A\x1b\[J`)
