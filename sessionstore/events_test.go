package sessionstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// allEvents reads the whole log.
func allEvents(t *testing.T, s *sessionstore.Store) []sessionstore.Event {
	t.Helper()
	var out []sessionstore.Event
	var after uint64
	for {
		evs, next, err := s.EventsAfter(after, 100, nil)
		if err != nil {
			t.Fatalf("EventsAfter(%d): %v", after, err)
		}
		out = append(out, evs...)
		if next == after {
			return out
		}
		after = next
	}
}

// describeEvent is a short form for comparisons: "shop QUEUED <id>" or
// "shop STARTING→READY".
func describeEvent(ev sessionstore.Event) string {
	if ev.Message != nil {
		return fmt.Sprintf("%s %v %s", ev.TenantID, ev.Message.State, ev.Message.ID)
	}
	return fmt.Sprintf("%s %s→%s", ev.TenantID, ev.Session.From, ev.Session.To)
}

func TestMessageChangesAreLoggedWithTheirChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		m, _, err := s.Enqueue(msg("shop", "k1", "secret text"))
		if err != nil {
			t.Fatal(err)
		}
		// A retry with the same key changes nothing: no event.
		if _, existed, err := s.Enqueue(msg("shop", "k1", "secret text")); err != nil || !existed {
			t.Fatalf("idempotent Enqueue: existed=%v, %v", existed, err)
		}
		if _, err := s.UpdateMessage("shop", m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSending; x.Attempts++ }); err != nil {
			t.Fatal(err)
		}
		// No state change (an error noted, the clicked mark): no event.
		if _, err := s.UpdateMessage("shop", m.ID, func(x *sessionstore.Message) { x.Error = "transient"; x.Clicked, x.Noted = true, []string{"a"} }); err != nil {
			t.Fatal(err)
		}
		// A failed update stores nothing, its event neither.
		if _, err := s.UpdateMessage("shop", m.ID, func(x *sessionstore.Message) { x.State = 99 }); !errors.Is(err, sessionstore.ErrInvalidMessage) {
			t.Fatalf("invalid state: %v", err)
		}
		other, _, _ := s.Enqueue(msg("shop", "", "other"))
		if _, err := s.UpdateMessage("shop", other.ID, func(x *sessionstore.Message) { x.WAMessageID = "true_x_1"; x.State = sessionstore.StateSent }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMessage("shop", m.ID, func(x *sessionstore.Message) { x.WAMessageID = "true_x_1"; x.State = sessionstore.StateSent }); !errors.Is(err, sessionstore.ErrWAIDClaimed) {
			t.Fatalf("claimed WhatsApp id: %v", err)
		}
		third, _, _ := s.Enqueue(msg("shop", "", "third"))
		failed, err := s.FailPending("shop", "LOGGED_OUT", "logged out")
		if err != nil || len(failed) != 2 {
			t.Fatalf("FailPending = %d messages, %v", len(failed), err)
		}
		if _, err := s.AppendSessionEvent("shop", sessionstore.SessionEvent{From: "READY", To: "UNLINKED", LastError: "logged out"}); err != nil {
			t.Fatal(err)
		}

		got := allEvents(t, s)
		want := []string{
			"shop QUEUED " + m.ID,
			"shop SENDING " + m.ID,
			"shop QUEUED " + other.ID,
			"shop SENT " + other.ID,
			"shop QUEUED " + third.ID,
			"shop FAILED " + m.ID,
			"shop FAILED " + third.ID,
			"shop READY→UNLINKED",
		}
		if len(got) != len(want) {
			t.Fatalf("log holds %d events, want %d: %v", len(got), len(want), got)
		}
		for i, ev := range got {
			if d := describeEvent(ev); d != want[i] {
				t.Errorf("event %d = %q, want %q", i, d, want[i])
			}
			if ev.Seq != uint64(i+1) {
				t.Errorf("event %d has seq %d, want %d (no gap)", i, ev.Seq, i+1)
			}
			if ev.At.IsZero() || (i > 0 && ev.At.Before(got[i-1].At)) {
				t.Errorf("event %d at %v after %v", i, ev.At, got[max(i-1, 0)].At)
			}
			if ev.Message != nil && (ev.Message.Text != "" || ev.Message.Clicked || ev.Message.Noted != nil) {
				t.Errorf("event %d carries the text or the click marks: %+v", i, ev.Message)
			}
		}
		if e := got[5].Message; e.ErrorReason != "LOGGED_OUT" || e.Error != "logged out" || e.Attempts != 1 || e.IdempotencyKey != "k1" {
			t.Errorf("FAILED event carries %+v", e)
		}
		if e := got[3].Message; e.WAMessageID != "true_x_1" {
			t.Errorf("SENT event carries %+v", e)
		}
		if head, err := s.EventHead(); err != nil || head != uint64(len(want)) {
			t.Errorf("EventHead = %d, %v", head, err)
		}
	})
}

// TestSubscribersSeeCommittedChangesInLogOrder: concurrent writers; every
// subscriber receives the events in seq order with no gap, the log matches,
// and the change an event reports is visible when the event arrives.
func TestSubscribersSeeCommittedChangesInLogOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		const writers, perWriter = 4, 10
		const total = writers * perWriter * 2 // QUEUED and SENT of each message
		sub := s.SubscribeEvents(total, nil)
		defer sub.Close()
		onlyB := s.SubscribeEvents(total, func(ev *sessionstore.Event) bool { return ev.TenantID == "b" })
		defer onlyB.Close()

		var wg sync.WaitGroup
		errc := make(chan error, writers)
		for w := range writers {
			tenant := []string{"a", "b"}[w%2]
			wg.Go(func() {
				for i := range perWriter {
					m, _, err := s.Enqueue(msg(tenant, "", fmt.Sprintf("w%d-%d", w, i)))
					if err == nil {
						_, err = s.UpdateMessage(tenant, m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSent })
					}
					if err != nil {
						errc <- err
						return
					}
				}
			})
		}
		var seen []sessionstore.Event
		for len(seen) < total {
			ev, ok := <-sub.Events()
			if !ok {
				t.Fatalf("subscription closed after %d events (overflowed %v)", len(seen), sub.Overflowed())
			}
			if ev.Seq != uint64(len(seen)+1) {
				t.Fatalf("event %d has seq %d: out of order or a gap", len(seen), ev.Seq)
			}
			cur, err := s.GetMessage(ev.TenantID, ev.Message.ID)
			if err != nil || cur.State < ev.Message.State {
				t.Fatalf("event %s arrived before its change was visible: %v, %v", describeEvent(ev), cur.State, err)
			}
			seen = append(seen, ev)
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		log := allEvents(t, s)
		if len(log) != total {
			t.Fatalf("log holds %d events, want %d", len(log), total)
		}
		for i := range log {
			if describeEvent(log[i]) != describeEvent(seen[i]) {
				t.Fatalf("event %d: log %q, live %q", i, describeEvent(log[i]), describeEvent(seen[i]))
			}
		}
		var bs []string
		for range total / 2 {
			ev := <-onlyB.Events()
			if ev.TenantID != "b" {
				t.Fatalf("filtered subscription got %q", describeEvent(ev))
			}
			bs = append(bs, describeEvent(ev))
		}
		var wantB []string
		for _, ev := range log {
			if ev.TenantID == "b" {
				wantB = append(wantB, describeEvent(ev))
			}
		}
		if fmt.Sprint(bs) != fmt.Sprint(wantB) {
			t.Errorf("tenant b's subscription: %v, want %v", bs, wantB)
		}
	})
}

func TestSlowSubscriberIsDroppedOthersGoOn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		slow := s.SubscribeEvents(2, nil)
		fast := s.SubscribeEvents(10, nil)
		defer fast.Close()
		for i := range 3 {
			if _, err := s.AppendSessionEvent("t", sessionstore.SessionEvent{From: "STARTING", To: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for range slow.Events() { // the two buffered, then closed
			n++
		}
		if n != 2 || !slow.Overflowed() {
			t.Fatalf("slow subscriber: %d events then closed, overflowed %v; want 2, true", n, slow.Overflowed())
		}
		slow.Close() // harmless after the drop
		for i := range 3 {
			if ev := <-fast.Events(); ev.Session.To != fmt.Sprint(i) {
				t.Fatalf("fast subscriber event %d: %+v", i, ev.Session)
			}
		}
		if fast.Overflowed() {
			t.Fatal("fast subscriber overflowed")
		}
		fast.Close()
		if _, ok := <-fast.Events(); ok {
			t.Fatal("Close left the channel open")
		}
	})
}

func TestEventsChangedWakesOnTheNextCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		ch := s.EventsChanged()
		select {
		case <-ch:
			t.Fatal("woken before any event")
		default:
		}
		if s.EventsChanged() != ch {
			t.Fatal("two waiters of the same commit got different channels")
		}
		// A write with no event wakes nobody.
		if err := s.PutTenant(sessionstore.Tenant{ID: "t"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
			t.Fatal("woken by a write that logged nothing")
		default:
		}
		if _, _, err := s.Enqueue(msg("t", "", "x")); err != nil {
			t.Fatal(err)
		}
		<-ch // the QUEUED event woke it
		if ch2 := s.EventsChanged(); ch2 == ch {
			t.Fatal("a closed channel was handed out again")
		}
	})
}

func TestEventsAfterFiltersLimitsAndSkips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		for i := range 6 {
			tenant := []string{"a", "b"}[i%2]
			if _, err := s.AppendSessionEvent(tenant, sessionstore.SessionEvent{To: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		onlyB := func(ev *sessionstore.Event) bool { return ev.TenantID == "b" }
		evs, next, err := s.EventsAfter(0, 2, onlyB)
		if err != nil || len(evs) != 2 || evs[0].Seq != 2 || evs[1].Seq != 4 || next != 4 {
			t.Fatalf("EventsAfter(0, 2, b) = %v, next %d, %v", evs, next, err)
		}
		evs, next, err = s.EventsAfter(next, 2, onlyB)
		if err != nil || len(evs) != 1 || evs[0].Seq != 6 || next != 6 {
			t.Fatalf("EventsAfter(4, 2, b) = %v, next %d, %v", evs, next, err)
		}
		evs, next, err = s.EventsAfter(6, 10, nil)
		if err != nil || len(evs) != 0 || next != 6 {
			t.Fatalf("EventsAfter(head) = %v, next %d, %v", evs, next, err)
		}
		// Past the head: a cursor this log never issued.
		var re *sessionstore.CursorRangeError
		if _, _, err := s.EventsAfter(7, 10, nil); !errors.As(err, &re) || !errors.Is(err, sessionstore.ErrCursorOutOfRange) {
			t.Fatalf("EventsAfter(head+1): %v, want a CursorRangeError", err)
		}
		if re.Oldest != s.Cursor(1) || re.Start != s.Cursor(0) {
			t.Errorf("range error %+v", re)
		}
	})
}

func TestCursorsParseAndSurviveAReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		ev, err := s.AppendSessionEvent("t", sessionstore.SessionEvent{From: "STARTING", To: "READY"})
		if err != nil {
			t.Fatal(err)
		}
		cur := s.Cursor(ev.Seq)
		if err := s.SetConsumerPosition("webhook", ev.Seq); err != nil {
			t.Fatal(err)
		}
		s.Close()

		s = b.open(t, nil, sessionstore.Options{}) // the same database and data dir
		if seq, err := s.ParseCursor(cur); err != nil || seq != ev.Seq {
			t.Fatalf("ParseCursor(%q) after a reopen = %d, %v", cur, seq, err)
		}
		if seq, ok, err := s.ConsumerPosition("webhook"); err != nil || !ok || seq != ev.Seq {
			t.Fatalf("ConsumerPosition after a reopen = %d, %v, %v", seq, ok, err)
		}
		if _, ok, _ := s.ConsumerPosition("other"); ok {
			t.Fatal("a position for a consumer never stored")
		}
		next, err := s.AppendSessionEvent("t", sessionstore.SessionEvent{From: "READY", To: "HIBERNATED"})
		if err != nil || next.Seq != ev.Seq+1 {
			t.Fatalf("sequence after a reopen: %d, %v", next.Seq, err)
		}

		for _, bad := range []string{"", "x", "0000000a-1", "ZZZZZZZZ-0000000000000001", cur + "0", "0000000a_0000000000000001"} {
			if _, err := s.ParseCursor(bad); !errors.Is(err, sessionstore.ErrInvalidCursor) {
				t.Errorf("ParseCursor(%q): %v, want ErrInvalidCursor", bad, err)
			}
		}
		// Another database's cursor (its log id differs): out of range.
		other := b.fresh(t, nil, sessionstore.Options{})
		var re *sessionstore.CursorRangeError
		if _, err := other.ParseCursor(cur); !errors.As(err, &re) || re.Oldest != "" || re.Start != other.Cursor(0) {
			t.Fatalf("a cursor of another database: %v (%+v)", err, re)
		}
	})
}

func TestPurgeEventsAfterRetention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		// Event times are the database's with PostgreSQL: there a day of
		// the test is 500 ms of real time, and the retention is 7 of them.
		// Each check is a day or more away from the retention's edge, so a
		// slow machine cannot tip it.
		var retention time.Duration // DefaultEventRetention
		day := 24 * time.Hour
		if b.srv != nil {
			day, retention = 500*time.Millisecond, 3500*time.Millisecond
		}
		advance := func(d time.Duration) {
			if b.srv != nil {
				time.Sleep(d) // the database's clock moves only with real time
				return
			}
			c.Advance(d)
		}
		for i := range 3 {
			if _, err := s.AppendSessionEvent("t", sessionstore.SessionEvent{To: fmt.Sprint("old", i)}); err != nil {
				t.Fatal(err)
			}
		}
		advance(5 * day)
		for i := range 2 {
			if _, err := s.AppendSessionEvent("t", sessionstore.SessionEvent{To: fmt.Sprint("new", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := s.PurgeEvents(sessionstore.EventPurge{Retention: retention}); err != nil || r.Purged != 0 {
			t.Fatalf("purge at 5 days: %+v, %v", r, err)
		}
		advance(3 * day) // the old ones are 8 days old, the new ones 3 days
		if r, err := s.PurgeEvents(sessionstore.EventPurge{Retention: retention}); err != nil || r.Purged != 3 || r.Held != 0 || r.Dropped != 0 {
			t.Fatalf("purge after 8 days: %+v, %v; want 3 purged", r, err)
		}
		// Resuming after a purged event is out of range, with where to start.
		for _, after := range []uint64{0, 1, 2} {
			var re *sessionstore.CursorRangeError
			_, _, err := s.EventsAfter(after, 10, nil)
			if !errors.As(err, &re) {
				t.Fatalf("EventsAfter(%d) after the purge: %v, want a CursorRangeError", after, err)
			}
			if re.Oldest != s.Cursor(4) || re.Start != s.Cursor(3) || re.Cursor != s.Cursor(after) {
				t.Errorf("range error %+v", re)
			}
		}
		// The start cursor reads every event kept.
		evs, _, err := s.EventsAfter(3, 10, nil)
		if err != nil || len(evs) != 2 || evs[0].Session.To != "new0" || evs[1].Session.To != "new1" {
			t.Fatalf("EventsAfter(start) = %v, %v", evs, err)
		}
		advance(7 * day)
		if r, err := s.PurgeEvents(sessionstore.EventPurge{Retention: retention}); err != nil || r.Purged != 2 {
			t.Fatalf("second purge: %+v, %v", r, err)
		}
		// An empty log: the head is still a valid place to wait at.
		if evs, _, err := s.EventsAfter(5, 10, nil); err != nil || len(evs) != 0 {
			t.Fatalf("EventsAfter(head) on an emptied log: %v, %v", evs, err)
		}
		var re *sessionstore.CursorRangeError
		if _, _, err := s.EventsAfter(4, 10, nil); !errors.As(err, &re) || re.Oldest != "" || re.Start != s.Cursor(5) {
			t.Fatalf("EventsAfter(4) on an emptied log: %v %+v", err, re)
		}
	})
}
