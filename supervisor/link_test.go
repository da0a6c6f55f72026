package supervisor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
)

// TestTwoLinkCallsSeeTheSameEvents: both callers get the same codes and the
// same end; a later Link answers already_linked at once.
func TestTwoLinkCallsSeeTheSameEvents(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	firstQR := make(chan string, 2)
	var wg sync.WaitGroup
	results := make([][]LinkEvent, 2)
	for i := range 2 {
		wg.Go(func() {
			err := s.sup.Link(ctx, "t1", "", func(ev LinkEvent) error {
				results[i] = append(results[i], ev)
				if ev.QR != nil && len(results[i]) == 1 {
					firstQR <- ev.QR.Code
				}
				return nil
			})
			if err != nil {
				t.Errorf("link %d: %v", i, err)
			}
		})
	}
	a, b := <-firstQR, <-firstQR
	if a != b {
		t.Fatalf("the two callers got different codes: %q and %q", a, b)
	}
	if err := s.fake.Scan(a, phoneA); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, evs := range results {
		last := evs[len(evs)-1]
		if last.Linked == nil || last.Linked.Phone != phoneA || last.Linked.AlreadyLinked {
			t.Fatalf("caller %d ended with %+v", i, last)
		}
	}
	var again []LinkEvent
	if err := s.sup.Link(ctx, "t1", "", func(ev LinkEvent) error { again = append(again, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Linked == nil || !again[0].Linked.AlreadyLinked {
		t.Fatalf("Link on a linked tenant: %+v", again)
	}
}

// TestLinkCodesRotateThenRunOut: each rotation is a new event; when the
// series ends unscanned, Link fails with ErrCodesExhausted. A cancelled Link
// leaves the browser warm.
func TestLinkCodesRotateThenRunOut(t *testing.T) {
	opts := fakewa.FastOptions()
	opts.FirstQRLifetime = 1500 * time.Millisecond
	opts.QRLifetime = 700 * time.Millisecond
	opts.QRRotations = 2
	s := newStack(t, opts, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var codes []string
	var seqs []uint32
	err := s.sup.Link(ctx, "t1", "", func(ev LinkEvent) error {
		if ev.QR == nil {
			t.Fatalf("unexpected event %+v", ev)
		}
		codes = append(codes, ev.QR.Code)
		seqs = append(seqs, ev.QR.Sequence)
		if len(ev.QR.PNG) == 0 || ev.QR.ValidFor <= 0 {
			t.Errorf("QR event without PNG or lifetime: %+v", ev.QR)
		}
		return nil
	})
	if !errors.Is(err, ErrCodesExhausted) {
		t.Fatalf("Link after the codes ran out: %v", err)
	}
	if len(codes) != 3 || seqs[0] != 1 || seqs[2] != 3 || codes[0] == codes[1] || codes[1] == codes[2] {
		t.Fatalf("want 3 distinct codes in sequence, got %q %v", codes, seqs)
	}
	ss := s.status("t1")
	if ss.State != StateUnlinked || !ss.Running {
		t.Fatalf("after the attempt: %+v (want UNLINKED with the browser warm)", ss)
	}

	// A new Link starts a new series; cancelling it keeps the browser.
	pid := ss.PID
	cctx, ccancel := context.WithCancel(ctx)
	err = s.sup.Link(cctx, "t1", "", func(ev LinkEvent) error {
		if ev.QR != nil {
			ccancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Link: %v", err)
	}
	waitFor(t, "UNLINKED after the cancel", 5*time.Second, func() bool { return s.status("t1").State == StateUnlinked })
	if ss := s.status("t1"); !ss.Running || ss.PID != pid {
		t.Fatalf("cancelled Link did not leave the browser warm: %+v", ss)
	}
}

// TestLinkByPairingCode: Link with a phone number streams an 8-character
// code; entering it on the phone links; a bad number never reaches a page.
func TestLinkByPairingCode(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.sup.Link(ctx, "t2", "12ab", func(LinkEvent) error { return nil }); !errors.Is(err, ErrInvalidPhone) {
		t.Fatalf("bad number: %v", err)
	}
	if _, err := s.store.GetTenant("t2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused Link created the tenant: %v", err)
	}
	var got []LinkEvent
	err := s.sup.Link(ctx, "t1", "+1 555 000 1111", func(ev LinkEvent) error {
		got = append(got, ev)
		if ev.Pairing != nil && len(got) == 1 {
			c := ev.Pairing.Code
			if len(c) != 8 || strings.Trim(c, "123456789ABCDEFGHJKLMNPQRSTVWXYZ") != "" {
				t.Fatalf("pairing code %q is not 8 characters of the alphabet", c)
			}
			return s.fake.Pair(c[:4] + "-" + c[4:])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	last := got[len(got)-1]
	if got[0].Pairing == nil || last.Linked == nil || last.Linked.Phone != phoneA {
		t.Fatalf("events %+v", got)
	}
	if st := s.status("t1"); st.State != StateReady {
		t.Fatalf("after pairing: %v", st.State)
	}
	s.sendOK("t1", contactA, "linked by code")
}

// TestCancelledPairingGoesBackToQR: a cancelled pairing leaves the page on
// the QR landing, so the next Link shows QR codes.
func TestCancelledPairingGoesBackToQR(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pctx, pcancel := context.WithCancel(ctx)
	_ = s.sup.Link(pctx, "t1", phoneA, func(ev LinkEvent) error {
		if ev.Pairing != nil {
			pcancel()
		}
		return nil
	})
	waitFor(t, "the pairing code gone", 10*time.Second, func() bool { return len(s.fake.PairingCodes()) == 0 })
	s.link("t1", phoneA)
	if st := s.status("t1"); st.State != StateReady {
		t.Fatalf("after QR link: %v", st.State)
	}
}
