package sessionstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// A snapshot becomes current only through the lease's holder at its epoch,
// and only as the generation after the current one; a node whose lease
// lapsed (and was taken) can neither renew it nor record a snapshot.
func TestSnapshotRecordsAreFenced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		a := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		nb := b.peer(t, a, nil, "node-b")
		if err := a.PutTenant(sessionstore.Tenant{ID: "t1", Linked: true}); err != nil {
			t.Fatal(err)
		}
		if sn, err := a.CurrentSnapshot("t1"); err != nil || sn.Gen != 0 {
			t.Fatalf("CurrentSnapshot of none = %+v, %v; want gen 0", sn, err)
		}
		taken := time.Date(2026, 12, 6, 7, 0, 0, 123456000, time.UTC)
		if err := a.RecordSnapshot(sessionstore.Snapshot{TenantID: "t1", Gen: 1, Epoch: 1, TakenAt: taken}); !errors.Is(err, sessionstore.ErrFenced) {
			t.Fatalf("RecordSnapshot without the lease = %v, want ErrFenced", err)
		}
		if _, err := a.AcquireLease("t1", leaseTTL); err != nil {
			t.Fatal(err)
		}
		if l, err := a.RenewLease("t1", leaseTTL); err != nil || l.Epoch != 1 || l.Holder != "node-a" {
			t.Fatalf("RenewLease by the holder = %+v, %v", l, err)
		}
		if err := a.RecordSnapshot(sessionstore.Snapshot{TenantID: "t1", Gen: 1, Epoch: 2, TakenAt: taken}); !errors.Is(err, sessionstore.ErrFenced) {
			t.Errorf("RecordSnapshot of another epoch = %v, want ErrFenced", err)
		}
		if err := a.RecordSnapshot(sessionstore.Snapshot{TenantID: "t1", Gen: 2, Epoch: 1, TakenAt: taken}); !errors.Is(err, sessionstore.ErrSnapshotConflict) {
			t.Errorf("RecordSnapshot skipping a generation = %v, want ErrSnapshotConflict", err)
		}
		if err := a.RecordSnapshot(sessionstore.Snapshot{TenantID: "t1", Gen: 1, Epoch: 1, TakenAt: taken}); err != nil {
			t.Fatal(err)
		}
		if err := a.RecordSnapshot(sessionstore.Snapshot{TenantID: "t1", Gen: 1, Epoch: 1, TakenAt: taken}); !errors.Is(err, sessionstore.ErrSnapshotConflict) {
			t.Errorf("RecordSnapshot of the current generation again = %v, want ErrSnapshotConflict", err)
		}
		sn, err := nb.CurrentSnapshot("t1")
		if err != nil || sn != (sessionstore.Snapshot{TenantID: "t1", Gen: 1, Epoch: 1, TakenAt: taken.Truncate(time.Microsecond), Node: "node-a"}) {
			t.Errorf("CurrentSnapshot = %+v, %v", sn, err)
		}
		if tn, err := nb.GetTenant("t1"); err != nil || !tn.SnapshotAt.Equal(taken) {
			t.Errorf("tenant's SnapshotAt = %v, %v; want %v", tn.SnapshotAt, err, taken)
		}

		waitFor(t, "node-b takes node-a's expired lease", func() bool {
			_, err := nb.AcquireLease("t1", time.Minute)
			return err == nil
		})
		if _, err := a.RenewLease("t1", time.Minute); !errors.Is(err, sessionstore.ErrFenced) {
			t.Errorf("RenewLease of a lease taken over = %v, want ErrFenced", err)
		}
		if err := a.RecordSnapshot(sessionstore.Snapshot{TenantID: "t1", Gen: 2, Epoch: 1, TakenAt: taken}); !errors.Is(err, sessionstore.ErrFenced) {
			t.Errorf("RecordSnapshot by the old holder = %v, want ErrFenced", err)
		}
		if err := nb.RecordSnapshot(sessionstore.Snapshot{TenantID: "t1", Gen: 2, Epoch: 2, TakenAt: taken.Add(-time.Hour)}); err != nil {
			t.Fatalf("RecordSnapshot by the new holder, its clock an hour behind: %v", err)
		}
		if sn, _ := a.CurrentSnapshot("t1"); sn.Gen != 2 || sn.Node != "node-b" {
			t.Errorf("CurrentSnapshot = %+v, want gen 2 by node-b", sn)
		}
	})
}

// With PostgreSQL every node's events carry the database's time, not the
// appending node's clock.
func TestEventTimesAreTheDatabases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		if b.srv == nil {
			t.Skip("bbolt is one node: its events carry Options.Now")
		}
		c := newClock() // a node whose clock is off
		c.Advance(-72 * time.Hour)
		s := b.open(t, c, sessionstore.Options{})
		before := time.Now()
		ev, err := s.AppendSessionEvent("t1", sessionstore.SessionEvent{To: "READY"})
		if err != nil {
			t.Fatal(err)
		}
		if d := ev.At.Sub(before); d < -time.Minute || d > time.Minute {
			t.Errorf("event at %v, the database's clock says about %v: the node's clock was used", ev.At, before)
		}
		evs, _, err := s.EventsAfter(ev.Seq-1, 1, nil)
		if err != nil || len(evs) != 1 || !evs[0].At.Equal(ev.At) {
			t.Errorf("stored event %+v, %v; want at %v", evs, err, ev.At)
		}
	})
}

// Lease renewals and heartbeats have connections of their own: with every
// connection of the main pool busy (sends, polls), they still go through
// at once.
func TestRenewalsDoNotQueueBehindSends(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		if b.srv == nil {
			t.Skip("bbolt has no pool")
		}
		s := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		if err := s.RegisterNode("127.0.0.1:7440"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease("t1", time.Minute); err != nil {
			t.Fatal(err)
		}
		release, err := sessionstore.HoldMainPool(s)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		done := make(chan error, 1)
		go func() {
			if renewed, err := s.RenewLeases(time.Minute); err != nil || len(renewed) != 1 {
				done <- fmt.Errorf("RenewLeases = %v, %v", renewed, err)
				return
			}
			_, err := s.Heartbeat()
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a renewal waited behind the busy main pool")
		}
	})
}
