package sessionstore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// purgeClock moves the time the purge judges by: the test's clock with
// bbolt; real time with PostgreSQL, whose clock stamps the events, where a
// "day" of the test is 500 ms. Each check is a day or more away from an
// edge, so a loaded machine cannot tip it.
func purgeClock(b *backend, c *clock) (day time.Duration, advance func(time.Duration)) {
	if b.srv != nil {
		return 500 * time.Millisecond, func(d time.Duration) { time.Sleep(d) } // the database's clock moves only with real time
	}
	return 24 * time.Hour, c.Advance
}

// The purge keeps the events past the retention that a consumer of the
// log (a webhook) has not passed yet, and says so; past the hard cap
// (UndeliveredMax) it removes them anyway, and says that too.
func TestPurgeKeepsWhatAWebhookHasNotDelivered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		day, advance := purgeClock(b, c)
		p := sessionstore.EventPurge{Retention: 2 * day, UndeliveredMax: 6 * day}
		appendN(t, s, "shop", 3)
		if err := s.SetConsumerPosition("webhook", 1); err != nil {
			t.Fatal(err)
		}
		if err := s.SetConsumerPosition("webhook/x", 3); err != nil {
			t.Fatal(err)
		}
		advance(3 * day)
		appendN(t, s, "shop", 1) // seq 4, young
		r, err := s.PurgeEvents(p)
		want := sessionstore.PurgeReport{Purged: 1, Held: 2, Behind: []sessionstore.ConsumerLag{{Name: "webhook", Seq: 1}}}
		if err != nil || !samePurge(r, want) {
			t.Fatalf("purge with a webhook at event 1 = %+v, %v; want %+v", r, err, want)
		}
		if evs := allEventsFrom(t, s, 1); len(evs) != 3 {
			t.Fatalf("%d events kept after event 1, want 3", len(evs))
		}

		advance(4 * day) // events 1-3 are 7 days old: past the cap; event 4 is 4
		r, err = s.PurgeEvents(p)
		want = sessionstore.PurgeReport{Purged: 2, Held: 1, Dropped: 2, Behind: []sessionstore.ConsumerLag{{Name: "webhook", Seq: 1}, {Name: "webhook/x", Seq: 3}}}
		if err != nil || !samePurge(r, want) {
			t.Fatalf("purge past the cap = %+v, %v; want %+v", r, err, want)
		}
		var re *sessionstore.CursorRangeError
		if _, _, err := s.EventsAfter(1, 10, nil); !errors.As(err, &re) || re.Start != s.Cursor(3) {
			t.Fatalf("EventsAfter(the slow webhook's position) = %v, want a range error starting at 3", err)
		}

		for _, name := range []string{"webhook", "webhook/x"} {
			if err := s.SetConsumerPosition(name, 4); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := s.PurgeEvents(p); err != nil || !samePurge(r, sessionstore.PurgeReport{Purged: 1}) {
			t.Fatalf("purge once delivered = %+v, %v; want event 4 purged, nothing held", r, err)
		}
	})
}

// A purge of more than a batch removes everything due, batch after batch.
func TestPurgeInBatches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		sessionstore.SetPurgeBatch(t, 2)
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		day, advance := purgeClock(b, c)
		appendN(t, s, "shop", 5)
		advance(3 * day)
		kept := appendN(t, s, "shop", 1)
		r, err := s.PurgeEvents(sessionstore.EventPurge{Retention: 2 * day})
		if err != nil || !samePurge(r, sessionstore.PurgeReport{Purged: 5}) {
			t.Fatalf("purge = %+v, %v; want 5 purged", r, err)
		}
		evs := allEventsFrom(t, s, 5)
		if len(evs) != 1 || s.Cursor(evs[0].Seq) != kept[0] {
			t.Fatalf("kept %s, want event 6 only", describeAll(evs))
		}
		var re *sessionstore.CursorRangeError
		if _, _, err := s.EventsAfter(4, 10, nil); !errors.As(err, &re) || re.Start != s.Cursor(5) {
			t.Fatalf("EventsAfter(4) = %v, want a range error starting at 5", err)
		}
	})
}

func samePurge(a, b sessionstore.PurgeReport) bool {
	return a.Purged == b.Purged && a.Held == b.Held && a.Dropped == b.Dropped && slices.Equal(a.Behind, b.Behind)
}

// allEventsFrom reads the log after seq after.
func allEventsFrom(t *testing.T, s *sessionstore.Store, after uint64) []sessionstore.Event {
	t.Helper()
	evs, _, err := s.EventsAfter(after, 100, nil)
	if err != nil {
		t.Fatal(fmt.Errorf("EventsAfter(%d): %w", after, err))
	}
	return evs
}
