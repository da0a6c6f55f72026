package waweb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// QR is the landing's QR code (facts 2-3).
type QR struct {
	// Code is the data-ref text ("ref,noiseKey,identityKey,advSecret[,platform]");
	// "" when no code shows.
	Code string
	// Expired: the codes ran out and the reload button shows instead of the
	// canvas (fact 3); ReloadQR asks for a new series.
	Expired bool
}

// QR reads the QR code the landing shows now. It returns a zero QR, and no
// error, when none shows (booting, main screen, pairing code view).
func (p *Page) QR(ctx context.Context) (QR, error) {
	s, err := p.Snapshot(ctx)
	if err != nil {
		return QR{}, err
	}
	return s.QR, nil
}

type rect struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// QRPNG returns a PNG screenshot of the landing's QR canvas, what WhatsApp
// draws. It fails with ErrUnexpectedPage when no canvas shows.
func (p *Page) QRPNG(ctx context.Context) ([]byte, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	r, err := eval[*rect](cctx, p, jsQRRect, nil)
	if err != nil {
		return nil, fmt.Errorf("qr canvas: %w", err)
	}
	if r == nil || r.Width < 1 || r.Height < 1 {
		return nil, fmt.Errorf("no QR canvas shows: %w", ErrUnexpectedPage)
	}
	x, y := math.Floor(r.X), math.Floor(r.Y)
	clip := page.Viewport{X: x, Y: y, Width: math.Ceil(r.X + r.Width - x), Height: math.Ceil(r.Y + r.Height - y), Scale: 1}
	res, err := chromedp.Call(cctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format: page.CaptureScreenshotFormatPng, Clip: &clip, CaptureBeyondViewport: new(true), FromSurface: new(true),
	})
	if err != nil {
		return nil, p.wrap(fmt.Errorf("qr screenshot: %w", err))
	}
	return res.Data, nil
}

// click runs a click script (jsClickText, jsClickSel, jsUseHere), waiting up
// to Limits.Control for its element; what names the element in the error.
func (p *Page) click(ctx context.Context, script string, arg any, what string) error {
	_, ok, err := waitJS[string](ctx, p, script, arg, p.limits.Control)
	if err != nil {
		return fmt.Errorf("click %s: %w", what, err)
	}
	if !ok {
		return fmt.Errorf("no %s shows: %w", what, ErrUnexpectedPage)
	}
	return nil
}

// ReloadQR clicks the button that replaced the expired QR codes (fact 3).
func (p *Page) ReloadQR(ctx context.Context) error {
	cctx, cancel := p.with(ctx)
	defer cancel()
	return p.click(cctx, jsClickSel, map[string]string{"sel": p.sel().QRReloadButton}, "QR reload button")
}

// StartPhoneLogin starts the pairing-code link (fact 15): it clicks "Log in
// with phone number" (or an older text of PhoneLoginTexts), types phone into
// the phone number field with Input.insertText (as given: pass the
// international number's digits) and clicks "Next". PairingCode then reads
// the code once the page shows it.
func (p *Page) StartPhoneLogin(ctx context.Context, phone string) error {
	if phone == "" {
		return errors.New("waweb: empty phone number")
	}
	cctx, cancel := p.with(ctx)
	defer cancel()
	if err := p.click(cctx, jsClickText, map[string]any{"texts": p.sel().PhoneLoginTexts}, "phone login button"); err != nil {
		return err
	}
	arg := map[string]string{"sel": p.sel().PhoneInput}
	n, ok, err := waitJS[int](cctx, p, jsFocusInput, arg, p.limits.Control)
	if err != nil {
		return fmt.Errorf("phone number input: %w", err)
	}
	if !ok {
		return fmt.Errorf("no phone number input shows: %w", ErrUnexpectedPage)
	}
	if n > 1 { // a prefilled value (a country code) is selected: delete it
		if err := press(cctx, keyBackspace); err != nil {
			return p.wrap(err)
		}
	}
	if err := insertText(cctx, phone); err != nil {
		return p.wrap(err)
	}
	v, err := eval[*string](cctx, p, jsInputValue, arg)
	if err != nil {
		return fmt.Errorf("phone number input: %w", err)
	}
	if v == nil || digitsOf(*v) != digitsOf(phone) {
		return fmt.Errorf("phone number input does not hold the number: %w", ErrComposeMismatch)
	}
	return p.click(cctx, jsClickText, map[string]any{"texts": []string{p.sel().NextText}}, `"`+p.sel().NextText+`" button`)
}

// PairingCode returns the 8 characters of the pairing code the page shows
// (data-link-code without its commas), or "" when none shows yet.
func (p *Page) PairingCode(ctx context.Context) (string, error) {
	s, err := p.Snapshot(ctx)
	if err != nil {
		return "", err
	}
	return s.PairingCode, nil
}

// BackToQR leaves the pairing code for the QR code ("Log in with QR code").
func (p *Page) BackToQR(ctx context.Context) error {
	cctx, cancel := p.with(ctx)
	defer cancel()
	return p.click(cctx, jsClickText, map[string]any{"texts": []string{p.sel().QRLoginText}}, `"`+p.sel().QRLoginText+`" button`)
}

// UseHere clicks the conflict dialog's "Use here" (fact 12).
func (p *Page) UseHere(ctx context.Context) error {
	cctx, cancel := p.with(ctx)
	defer cancel()
	return p.click(cctx, jsUseHere, nil, `"`+p.sel().UseHereText+`" button`)
}

// LinkedPhone returns, best effort, the linked account's phone digits from
// localStorage (LinkedPhoneKeys, "last-wid-md" then "last-wid"), or "".
func (p *Page) LinkedPhone(ctx context.Context) string {
	cctx, cancel := p.with(ctx)
	defer cancel()
	vals, err := eval[[]string](cctx, p, jsWids, nil)
	if err != nil {
		return ""
	}
	for _, v := range vals {
		if d := phoneFromWID(v); d != "" {
			return d
		}
	}
	return ""
}

// phoneFromWID gives the digits of a wid "<digits>[:<device>]@c.us", maybe
// JSON-quoted, or "".
func phoneFromWID(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	at := strings.IndexByte(v, '@')
	if at <= 0 || !strings.HasPrefix(v[at:], "@c.us") && !strings.HasPrefix(v[at:], "@s.whatsapp.net") {
		return ""
	}
	user := v[:at]
	if i := strings.IndexByte(user, ':'); i >= 0 {
		user = user[:i]
	}
	if i := strings.IndexByte(user, '.'); i >= 0 { // "<digits>.<agent>:<device>"
		user = user[:i]
	}
	if user == "" || digitsOf(user) != user {
		return ""
	}
	return user
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
