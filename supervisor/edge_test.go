package supervisor

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// The edge of the supervisor: each error a client sees names its class.

// A screenshot of a tenant with no running browser is a precondition (wake
// it first), not an UNAVAILABLE that a retry would never cure.
func TestScreenshotNotRunning(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.send(alice, "warm") // the warm-up is over: a tenant added now stays cold
		if err := s.store.PutTenant(sessionstore.Tenant{ID: "cold", Linked: true, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		_, err := s.sup.Screenshot(context.Background(), "cold")
		if !errors.Is(err, ErrNotRunning) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Screenshot of a hibernated tenant: %v, want ErrNotRunning", err)
		}
		if png, err := s.sup.Screenshot(context.Background(), "t1"); err != nil || len(png) == 0 {
			t.Fatalf("Screenshot of a running tenant: %d bytes, %v", len(png), err)
		}
	})
}

// An idempotency key over the limit is an invalid key, not an invalid text.
func TestSendKeyTooLong(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		_, err := s.sup.Send(context.Background(), SendRequest{TenantID: "t1", To: alice, Text: "hi",
			IdempotencyKey: strings.Repeat("k", sessionstore.MaxIdempotencyKeyLen+1)})
		if !errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrInvalidText) {
			t.Fatalf("Send with a long key: %v, want ErrInvalidKey", err)
		}
	})
}

// A Link that cannot get a browser because every warm slot is busy ends
// with ErrNoCapacity instead of waiting without a word.
func TestLinkNoCapacity(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := fakeConfig()
		cfg.MaxWarm, cfg.MaxAttempts = 1, 1000
		s := newFakeStack(t, cfg)
		// t1 holds the only warm slot and is busy: its message never opens.
		var tries atomic.Int64
		s.wa.prepare = func(string, string) error { tries.Add(1); return errors.New("the chat does not open") }
		s.accept(alice, "stuck")
		// Only once t1's browser tries the message does it hold the slot
		// (before that, the Link could take it first).
		bubbleUntil(t, "t1 trying its message", func() bool { return tries.Load() > 0 })
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := s.sup.Link(ctx, "t2", "", func(LinkEvent) error { return nil })
		if !errors.Is(err, ErrNoCapacity) {
			t.Fatalf("Link with no free slot: %v, want ErrNoCapacity", err)
		}
	})
}

// A Link on a linked tenant whose browser is only starting answers
// already_linked once the page shows the main screen: no code was shown.
func TestLinkWhileStartingAlreadyLinked(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.send(alice, "warm")
		s.l.kill() // RESTARTING: the browser is not running when the Link comes
		var events []LinkEvent
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := s.sup.Link(ctx, "t1", "", func(ev LinkEvent) error { events = append(events, ev); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Linked == nil || !events[0].Linked.AlreadyLinked {
			t.Fatalf("events %+v, want one Linked with AlreadyLinked", events)
		}
	})
}
