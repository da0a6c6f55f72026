package sessionstore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// seqsOf returns the Seq of each entry.
func seqsOf(ds []sessionstore.DeadEvent) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.Seq
	}
	return out
}

// A consumer's dead-letter list: parked entries are listed in seq order,
// survive a reopen (a daemon restart), are marked for redelivery all or by
// seq (all or nothing), parked again with the mark cleared, and deleted.
// Lists of two consumers are apart.
func TestDeadEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		if got, err := s.DeadEvents("webhook", sessionstore.DeadEventQuery{}); err != nil || len(got) != 0 {
			t.Fatalf("DeadEvents of an empty list = %v, %v", got, err)
		}
		for _, seq := range []uint64{7, 3, 12} {
			d, err := s.ParkDeadEvent("webhook", sessionstore.DeadEvent{Seq: seq, Body: fmt.Appendf(nil, `{"seq":%d}`, seq),
				Attempts: 10, LastError: "HTTP 500", Redeliver: true})
			if err != nil || d.Redeliver || d.ParkedAt.IsZero() {
				t.Fatalf("ParkDeadEvent(%d) = %+v, %v", seq, d, err)
			}
		}
		if _, err := s.ParkDeadEvent("other", sessionstore.DeadEvent{Seq: 5, Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ParkDeadEvent("", sessionstore.DeadEvent{Seq: 5}); err == nil {
			t.Error("ParkDeadEvent without a consumer accepted")
		}
		s.Close()

		s = b.open(t, c, sessionstore.Options{}) // a daemon restart
		all, err := s.DeadEvents("webhook", sessionstore.DeadEventQuery{})
		if err != nil || !slices.Equal(seqsOf(all), []uint64{3, 7, 12}) {
			t.Fatalf("DeadEvents after a reopen = %v, %v; want seqs 3 7 12", seqsOf(all), err)
		}
		if d := all[0]; string(d.Body) != `{"seq":3}` || d.Attempts != 10 || d.LastError != "HTTP 500" || d.Redeliver ||
			d.ParkedAt.Before(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) || d.ParkedAt.Location() != time.UTC {
			t.Errorf("entry 3 = %+v", d)
		}
		page, _ := s.DeadEvents("webhook", sessionstore.DeadEventQuery{After: 3, Limit: 1})
		if !slices.Equal(seqsOf(page), []uint64{7}) {
			t.Errorf("after 3, limit 1: %v, want 7", seqsOf(page))
		}
		if got, _ := s.DeadEvents("other", sessionstore.DeadEventQuery{}); !slices.Equal(seqsOf(got), []uint64{5}) {
			t.Errorf("the other consumer's list: %v", seqsOf(got))
		}

		// By seq: all or nothing.
		if n, err := s.RedeliverDeadEvents("webhook", []uint64{7, 99}); !errors.Is(err, sessionstore.ErrNotFound) || n != 0 {
			t.Fatalf("RedeliverDeadEvents(7, 99) = %d, %v; want ErrNotFound", n, err)
		}
		if got, _ := s.DeadEvents("webhook", sessionstore.DeadEventQuery{RedeliverOnly: true}); len(got) != 0 {
			t.Fatalf("a failed RedeliverDeadEvents marked %v", seqsOf(got))
		}
		if n, err := s.RedeliverDeadEvents("webhook", []uint64{12, 7, 12}); err != nil || n != 2 {
			t.Fatalf("RedeliverDeadEvents(12, 7, 12) = %d, %v; want 2", n, err)
		}
		if got, _ := s.DeadEvents("webhook", sessionstore.DeadEventQuery{RedeliverOnly: true}); !slices.Equal(seqsOf(got), []uint64{7, 12}) {
			t.Fatalf("marked: %v, want 7 12", seqsOf(got))
		}
		// Parked again (the redelivery failed): the mark is cleared.
		if _, err := s.ParkDeadEvent("webhook", sessionstore.DeadEvent{Seq: 7, Body: []byte("{}"), Attempts: 3, LastError: "HTTP 502"}); err != nil {
			t.Fatal(err)
		}
		marked, _ := s.DeadEvents("webhook", sessionstore.DeadEventQuery{RedeliverOnly: true})
		if !slices.Equal(seqsOf(marked), []uint64{12}) {
			t.Fatalf("marked after parking 7 again: %v, want 12", seqsOf(marked))
		}
		// Delivered: deleted; deleting again is no error.
		for range 2 {
			if err := s.DeleteDeadEvent("webhook", 12); err != nil {
				t.Fatal(err)
			}
		}
		// All.
		if n, err := s.RedeliverDeadEvents("webhook", nil); err != nil || n != 2 {
			t.Fatalf("RedeliverDeadEvents(all) = %d, %v; want 2", n, err)
		}
		all, _ = s.DeadEvents("webhook", sessionstore.DeadEventQuery{})
		if !slices.Equal(seqsOf(all), []uint64{3, 7}) || !all[0].Redeliver || !all[1].Redeliver || all[1].LastError != "HTTP 502" {
			t.Errorf("after redelivering all: %+v", all)
		}
		if got, _ := s.DeadEvents("other", sessionstore.DeadEventQuery{RedeliverOnly: true}); len(got) != 0 {
			t.Errorf("redelivering the webhook's list marked the other's: %v", seqsOf(got))
		}
		if n, err := s.RedeliverDeadEvents("nobody", nil); err != nil || n != 0 {
			t.Errorf("RedeliverDeadEvents of an empty list = %d, %v", n, err)
		}
	})
}
