package waweb

import (
	"context"
	"fmt"
)

// State is what the page shows, as State classifies it.
type State int

const (
	// StateUnknown: none of the app's screens (a blank or error page).
	StateUnknown State = iota
	// StateBooting: the app is loading (fact 1).
	StateBooting
	// StateLanding: the not-linked screen with the QR code or the pairing
	// code (facts 2, 15).
	StateLanding
	// StateMain: linked, the chat list shows (fact 4).
	StateMain
	// StateConflict: the "Use here" dialog shows (fact 12).
	StateConflict
	// StateUpdateBrowser: the "update Chrome" page (fact 13).
	StateUpdateBrowser
)

func (s State) String() string {
	switch s {
	case StateBooting:
		return "booting"
	case StateLanding:
		return "landing"
	case StateMain:
		return "main"
	case StateConflict:
		return "conflict"
	case StateUpdateBrowser:
		return "update-browser"
	}
	return "unknown"
}

func parseState(s string) State {
	switch s {
	case "booting":
		return StateBooting
	case "landing":
		return StateLanding
	case "main":
		return StateMain
	case "conflict":
		return StateConflict
	case "update":
		return StateUpdateBrowser
	}
	return StateUnknown
}

// State classifies the page with one Runtime.evaluate. Its error also says
// that the page does not answer (a hung renderer, an open JavaScript dialog),
// so with a short deadline it doubles as a liveness probe.
func (p *Page) State(ctx context.Context) (State, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	s, err := eval[string](cctx, p, jsState, nil)
	if err != nil {
		return StateUnknown, fmt.Errorf("page state: %w", err)
	}
	return parseState(s), nil
}

// WaitBooted waits until the app is past booting: landing, main, conflict or
// the update page. The page re-checks on every DOM change. It returns the
// last state seen with an error when ctx or Limits.Boot ends first (the
// latter wraps ErrUnexpectedPage).
func (p *Page) WaitBooted(ctx context.Context) (State, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	return p.waitBooted(cctx)
}

func (p *Page) waitBooted(ctx context.Context) (State, error) {
	s, ok, err := waitJS[string](ctx, p, jsBooted, nil, p.limits.Boot)
	if ok {
		return parseState(s), nil
	}
	last := StateUnknown
	if v, e := eval[string](ctx, p, jsState, nil); e == nil {
		last = parseState(v)
	}
	if err != nil {
		return last, fmt.Errorf("wait for boot: %w", err)
	}
	return last, fmt.Errorf("page still %s after %v: %w", last, p.limits.Boot, ErrUnexpectedPage)
}

// Snapshot is what a link flow watches: the state and the codes shown.
type Snapshot struct {
	State State
	// QR is the landing's QR code; zero when none shows.
	QR QR
	// PairingCode is the pairing code shown (8 characters, no commas), or "".
	PairingCode string
}

type snapshotJS struct {
	State   string `json:"state"`
	Code    string `json:"code"`
	Expired bool   `json:"expired"`
	Pairing string `json:"pairing"`
}

func (s snapshotJS) value() Snapshot {
	return Snapshot{State: parseState(s.State), QR: QR{Code: s.Code, Expired: s.Expired}, PairingCode: s.Pairing}
}

func (s Snapshot) js() snapshotJS {
	st := map[State]string{StateBooting: "booting", StateLanding: "landing", StateMain: "main",
		StateConflict: "conflict", StateUpdateBrowser: "update"}[s.State]
	if st == "" {
		st = "unknown"
	}
	return snapshotJS{State: st, Code: s.QR.Code, Expired: s.QR.Expired, Pairing: s.PairingCode}
}

// Snapshot reads the state, the QR code and the pairing code with one
// Runtime.evaluate.
func (p *Page) Snapshot(ctx context.Context) (Snapshot, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	s, err := eval[snapshotJS](cctx, p, jsSnapshot, nil)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return s.value(), nil
}

// WaitChange waits until the page's Snapshot differs from prev (a new QR
// code, expired codes, a pairing code, another state) and returns it. The
// page re-checks on every DOM change, so a link flow sees a rotation within a
// frame. It waits until ctx ends.
func (p *Page) WaitChange(ctx context.Context, prev Snapshot) (Snapshot, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	s, ok, err := waitJS[snapshotJS](cctx, p, jsSnapshotChanged, prev.js(), 0)
	if err != nil {
		return prev, fmt.Errorf("wait for a page change: %w", err)
	}
	if !ok { // unreachable: no limit
		return prev, fmt.Errorf("wait for a page change: %w", ErrUnexpectedPage)
	}
	return s.value(), nil
}
