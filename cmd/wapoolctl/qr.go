package main

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// quietZone is the light margin around a terminal QR, in modules. The
// standard asks 4; 2 scans well on a screen and keeps a WhatsApp code (about
// 57 modules at level Low) inside 31 lines.
const quietZone = 2

// qrStyle says how modules become characters.
type qrStyle int

const (
	// qrColor paints black on white with 256-colour escapes, whatever the
	// terminal's theme: dark modules are the foreground. Scans everywhere.
	qrColor qrStyle = iota
	// qrInvert draws light modules as blocks in the default colours: a
	// dark-on-light code on a terminal with light text on a dark background.
	qrInvert
	// qrPlain draws dark modules as blocks in the default colours: right for
	// a terminal with dark text on a light background.
	qrPlain
)

func parseQRStyle(s string) (qrStyle, bool) {
	switch s {
	case "color", "colour":
		return qrColor, true
	case "invert":
		return qrInvert, true
	case "plain":
		return qrPlain, true
	}
	return 0, false
}

const (
	blackOnWhite = "\x1b[38;5;16;48;5;231m" // xterm-256 black (16) on white (231)
	resetColour  = "\x1b[0m"
)

// qrMatrix encodes code at level Low and returns its modules (true = dark)
// with a quietZone of light modules around them.
func qrMatrix(code string) ([][]bool, error) {
	q, err := qrcode.New(code, qrcode.Low)
	if err != nil {
		return nil, fmt.Errorf("encoding the QR code: %w", err)
	}
	q.DisableBorder = true
	return withMargin(q.Bitmap(), quietZone), nil
}

// withMargin returns m surrounded by n light modules on every side.
func withMargin(m [][]bool, n int) [][]bool {
	w := 0
	if len(m) > 0 {
		w = len(m[0])
	}
	out := make([][]bool, 0, len(m)+2*n)
	for range n {
		out = append(out, make([]bool, w+2*n))
	}
	for _, row := range m {
		r := make([]bool, w+2*n)
		copy(r[n:], row)
		out = append(out, r)
	}
	for range n {
		out = append(out, make([]bool, w+2*n))
	}
	return out
}

// renderHalfBlocks draws m (true = dark) two rows per line with ▀ ▄ █ and
// space, every line ending in "\n". An odd last row is paired with a light
// one.
func renderHalfBlocks(m [][]bool, style qrStyle) string {
	var b strings.Builder
	at := func(y, x int) bool {
		dark := y < len(m) && m[y][x]
		if style == qrInvert {
			return !dark // ink is light
		}
		return dark
	}
	for y := 0; y < len(m); y += 2 {
		if style == qrColor {
			b.WriteString(blackOnWhite)
		}
		for x := range m[y] {
			top, bottom := at(y, x), at(y+1, x)
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		if style == qrColor {
			b.WriteString(resetColour)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// renderQR draws code as a terminal QR.
func renderQR(code string, style qrStyle) (string, error) {
	m, err := qrMatrix(code)
	if err != nil {
		return "", err
	}
	return renderHalfBlocks(m, style), nil
}
