package supervisor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// The send rules of DESIGN.md "Sends: exactly once" whatever the page
// draws: formatted texts (fact 18), the bare ids of the 2026 builds (fact
// 20), and a drawing the driver does not know. Each test runs on both
// builds of the fake page.

var pageBuilds = []string{"", "2026"}

// eachBuild runs f in a synctest bubble once per page build.
func eachBuild(t *testing.T, f func(t *testing.T, build string)) {
	for _, b := range pageBuilds {
		name := b
		if name == "" {
			name = "older"
		}
		t.Run(name, func(t *testing.T) { bubble(t, func(t *testing.T) { f(t, b) }) })
	}
}

// countingObserver counts the text mismatches the runner reports.
type countingObserver struct {
	nopObserver
	mu         sync.Mutex
	mismatches int
}

func (o *countingObserver) SendTextMismatch(string) {
	o.mu.Lock()
	o.mismatches++
	o.mu.Unlock()
}

func (o *countingObserver) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mismatches
}

// fakePlacement is a cluster's say: every claim succeeds; holds answers
// Holds (nil: true).
type fakePlacement struct {
	mu    sync.Mutex
	holds func() bool
}

func (p *fakePlacement) NodeID() string { return "n1" }
func (p *fakePlacement) Claim(context.Context, string) (func(), error) {
	return func() {}, nil
}
func (p *fakePlacement) Linked(string) {}
func (p *fakePlacement) Holds(string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holds == nil || p.holds()
}

const formatted = "Your code is *4321* _today_ 👍🏽 https://example.com/o/17"

// A formatted text whose click went out but whose ack was lost: the lookup
// finds its bubble by the rebuilt text, among new ones, and does not click
// again. A bubble typed on the phone in between, also new, is not taken.
func TestDrawnFormattedTextFoundByRebuiltText(t *testing.T) {
	eachBuild(t, func(t *testing.T, build string) {
		s := newFakeStack(t, fakeConfig())
		s.wa.build = build
		s.wa.mu.Lock()
		s.wa.deliver(alice, formatted, true) // an older identical text: noted, not ours
		s.wa.mu.Unlock()
		lost := true
		s.wa.click = func(d waweb.Draft) (bool, bool, bool, error) {
			if lost {
				s.wa.deliver(alice, "typed on the phone", true) // new, not ours
			}
			return true, true, true, nil
		}
		s.wa.ack = func(waweb.Draft) error {
			if lost {
				lost = false
				return waweb.ErrNotAcked
			}
			return nil
		}
		m := s.send(alice, formatted)
		ids := s.wa.ids(alice)
		if len(ids) != 3 || s.wa.clickCount() != 1 {
			t.Fatalf("%d bubbles after %d clicks, want 3 after 1", len(ids), s.wa.clickCount())
		}
		if m.State != MessageSent || m.WAMessageID != ids[2] || m.Attempts != 2 {
			t.Errorf("message %+v: want SENT with %s (its own bubble) after 2 attempts", m, ids[2])
		}
		if build == "2026" && strings.HasPrefix(m.WAMessageID, "true_") {
			t.Errorf("wa id %q in the 2026 build", m.WAMessageID)
		}
	})
}

// A drawing the driver does not know: the new bubble after the click does
// not show the text as the driver reads it. The message is SENT with that
// bubble, once, and the mismatch is counted; the same after a lost ack (the
// lookup takes the new unclaimed bubble whatever its text).
func TestDrawnUnknownDrawingNeverClicksTwice(t *testing.T) {
	eachBuild(t, func(t *testing.T, build string) {
		obs := &countingObserver{}
		cfg := fakeConfig()
		cfg.Observer = obs
		s := newFakeStack(t, cfg)
		s.wa.build = build
		s.wa.unknownDrawing = true
		m := s.send(alice, formatted)
		if m.State != MessageSent || m.WAMessageID != s.wa.ids(alice)[0] || s.wa.clickCount() != 1 {
			t.Fatalf("message %+v after %d clicks: want SENT with the new bubble after 1", m, s.wa.clickCount())
		}
		if obs.count() != 1 {
			t.Errorf("%d mismatches counted, want 1", obs.count())
		}

		lost := true
		s.wa.ack = func(waweb.Draft) error {
			if lost {
				lost = false
				return waweb.ErrNotAcked
			}
			return nil
		}
		m2 := s.send(alice, "second *one*")
		if got := s.wa.delivered(alice); len(got) != 2 || s.wa.clickCount() != 2 {
			t.Fatalf("delivered %q after %d clicks, want 2 after 2", got, s.wa.clickCount())
		}
		if m2.State != MessageSent || m2.WAMessageID != s.wa.ids(alice)[1] || m2.Attempts != 2 {
			t.Errorf("second message %+v: want SENT with the second bubble after 2 attempts", m2)
		}
		if obs.count() != 2 {
			t.Errorf("%d mismatches counted, want 2", obs.count())
		}
	})
}

// A click that did not go out: the chat shows its noted bubbles and no new
// one, so the message is clicked again, once, and goes out once.
func TestDrawnNotedShownNothingNewClicksAgain(t *testing.T) {
	eachBuild(t, func(t *testing.T, build string) {
		s := newFakeStack(t, fakeConfig())
		s.wa.build = build
		s.wa.mu.Lock()
		s.wa.deliver(alice, formatted, true)
		s.wa.mu.Unlock()
		s.wa.click = firstClickLost(errors.New("target closed")) // clicked, nothing went out
		m := s.send(alice, formatted)
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{formatted, formatted}) {
			t.Fatalf("delivered %q, want the old one and one new", got)
		}
		if m.State != MessageSent || m.WAMessageID != s.wa.ids(alice)[1] || s.wa.clickCount() != 2 {
			t.Errorf("message %+v after %d clicks: want SENT with the new bubble after 2", m, s.wa.clickCount())
		}
	})
}

// A message clicked before the profile was restored from an older snapshot
// is never clicked again: FAILED with reason UNCONFIRMED, its waiter woken.
// One clicked well before the snapshot is looked up as usual.
func TestDrawnRestoreFromOlderSnapshotUnconfirmed(t *testing.T) {
	eachBuild(t, func(t *testing.T, build string) {
		cfg := fakeConfig()
		cfg.Placement = &fakePlacement{}
		s := newFakeStack(t, cfg)
		s.wa.build = build
		// The earlier message went out before the snapshot: its bubble is
		// in the restored chat.
		s.wa.mu.Lock()
		earlierID := s.wa.deliver(alice, "earlier", true)
		s.wa.mu.Unlock()
		snapshotAt := time.Now()
		clicked := func(text string, at time.Time, noted []string) Message {
			m, _, err := s.store.Enqueue(sessionstore.Message{TenantID: "t1", To: alice, Text: text})
			if err != nil {
				t.Fatal(err)
			}
			m, err = s.store.UpdateMessage("t1", m.ID, func(x *Message) {
				x.State, x.Attempts, x.Clicked, x.ClickedAt, x.Noted = MessageSending, 1, true, at, noted
			})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		before := clicked("earlier", snapshotAt.Add(-time.Hour), nil)
		time.Sleep(time.Minute)
		after := clicked(formatted, time.Now(), []string{earlierID})

		waiter := make(chan Message, 1)
		go func() {
			m, _ := s.sup.Send(context.Background(), SendRequest{TenantID: "t1", To: alice, Text: formatted, IdempotencyKey: ""})
			waiter <- m
		}()
		ended, err := s.sup.Restored("t1", snapshotAt)
		if err != nil {
			t.Fatal(err)
		}
		if len(ended) != 1 || ended[0].ID != after.ID {
			t.Fatalf("Restored ended %+v, want only the message clicked after the snapshot", ended)
		}
		if err := s.sup.Start(context.Background(), "t1"); err != nil {
			t.Fatal(err)
		}
		m := s.waitState(after.ID, MessageFailed)
		if m.ErrorReason != ReasonUnconfirmed || !m.Clicked {
			t.Errorf("message clicked after the snapshot: %+v, want FAILED with UNCONFIRMED", m)
		}
		if b := s.waitState(before.ID, MessageSent); b.WAMessageID != earlierID {
			t.Errorf("message clicked before the snapshot: %+v, want SENT with %s by the lookup", b, earlierID)
		}
		<-waiter // the third message (never clicked) goes out; its Send returns
		if n := s.wa.clickCount(); n != 1 {
			t.Errorf("%d clicks, want 1 (only the message never clicked before)", n)
		}
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"earlier", formatted}) {
			t.Errorf("delivered %q, want earlier and one formatted text", got)
		}
	})
}

// A lease that may have lapsed right before the click: no click, and the
// clicked mark is restored, so the next attempt sends with no lookup.
func TestDrawnLeaseBlipLeavesNoClickedMark(t *testing.T) {
	eachBuild(t, func(t *testing.T, build string) {
		cfg := fakeConfig()
		blip := 1
		p := &fakePlacement{}
		p.holds = func() bool {
			if blip > 0 {
				blip--
				return false
			}
			return true
		}
		cfg.Placement = p
		s := newFakeStack(t, cfg)
		s.wa.build = build
		var clickedAtPrepare []bool
		s.wa.prepare = func(to, text string) error {
			ps, _ := s.store.Pending("t1")
			for _, m := range ps {
				clickedAtPrepare = append(clickedAtPrepare, m.Clicked || !m.ClickedAt.IsZero() || len(m.Noted) > 0)
			}
			return nil
		}
		m := s.send(alice, formatted)
		if m.State != MessageSent || m.Attempts != 2 || s.wa.clickCount() != 1 {
			t.Fatalf("message %+v after %d clicks: want SENT after 2 attempts and 1 click", m, s.wa.clickCount())
		}
		if !slices.Equal(clickedAtPrepare, []bool{false, false}) {
			t.Errorf("clicked mark at each attempt's start: %v, want [false false]", clickedAtPrepare)
		}
	})
}

// A tenant may switch page builds at any reload (fact 20), and the same
// message's id is then drawn another way. A message clicked in one build is
// looked up in the other: its bubble is found, not clicked again; and one
// whose click did not go out is clicked again once, for the chat shows the
// noted bubbles (compared by their key).
func TestDrawnBuildSwitchAtReload(t *testing.T) {
	eachBuild(t, func(t *testing.T, build string) {
		other := map[string]string{"": "2026", "2026": ""}[build]
		s := newFakeStack(t, fakeConfig())
		s.wa.build = build
		s.wa.mu.Lock()
		s.wa.deliver(alice, "earlier", true)
		s.wa.mu.Unlock()
		flip := func() { s.wa.build = other }
		// Went out; the browser died before the ack, and the reloaded page
		// draws the other build.
		first := true
		s.wa.click = func(waweb.Draft) (bool, bool, bool, error) {
			if first {
				first = false
				flip()
				s.l.kill()
			}
			return true, true, true, nil
		}
		m := s.accept(alice, formatted)
		m = s.waitState(m.ID, MessageSent)
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"earlier", formatted}) || s.wa.clickCount() != 1 {
			t.Fatalf("delivered %q after %d clicks, want one formatted text after 1 click", got, s.wa.clickCount())
		}
		if ids := s.wa.ids(alice); m.WAMessageID != ids[1] {
			t.Errorf("wa id %s, want %s as the new build draws it", m.WAMessageID, ids[1])
		}

		// Did not go out; the reloaded page draws the first build again.
		build, other = other, build
		first = true
		s.wa.click = func(waweb.Draft) (bool, bool, bool, error) {
			if first {
				first = false
				flip()
				s.l.kill()
				return false, false, true, nil // clicked, nothing went out
			}
			return true, true, true, nil
		}
		m2 := s.accept(alice, "second")
		m2 = s.waitState(m2.ID, MessageSent)
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"earlier", formatted, "second"}) || s.wa.clickCount() != 3 {
			t.Errorf("delivered %q after %d clicks, want second once after 3 clicks in all", got, s.wa.clickCount())
		}
		if m2.WAMessageID != s.wa.ids(alice)[2] {
			t.Errorf("second: wa id %s, want %s", m2.WAMessageID, s.wa.ids(alice)[2])
		}
	})
}
