package sessionstore_test

// The conformance suite: the store's behaviour, written once and run over
// each backend (bbolt, PostgreSQL). Tests of what only one backend has (the
// bbolt file's lock and modes, PostgreSQL's migrations and listener) live
// elsewhere.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/internal/pgtest"
	"github.com/wapool/wapool/internal/wait"
	"github.com/wapool/wapool/sessionstore"
)

// backend opens the stores of one subtest on one backend.
type backend struct {
	name string
	srv  *pgtest.Server // nil for bbolt
	// url and dataDir are the subtest's database ("" for bbolt) and
	// default data dir: every open of the subtest gets the same, so a
	// reopen sees what was written before.
	url, dataDir string
}

// forEachBackend runs fn as a subtest per backend: "bbolt", then
// "postgres" (skipped when PostgreSQL is not installed, outside CI).
func forEachBackend(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Run("bbolt", func(t *testing.T) {
		fn(t, &backend{name: "bbolt", dataDir: filepath.Join(t.TempDir(), "data")})
	})
	t.Run("postgres", func(t *testing.T) {
		srv := pgtest.Start(t)
		fn(t, &backend{name: "postgres", srv: srv, url: srv.NewDatabase(t), dataDir: filepath.Join(t.TempDir(), "data")})
	})
}

// open opens a store on the subtest's database and data dir (unless opts
// names others) with clock c (nil: the real clock), closed at the end of
// the test.
func (b *backend) open(t *testing.T, c *clock, opts sessionstore.Options) *sessionstore.Store {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = b.dataDir
	}
	if opts.URL == "" {
		opts.URL = b.url
	}
	return openStore(t, c, opts)
}

// fresh opens a store on another, empty database with its own data dir.
func (b *backend) fresh(t *testing.T, c *clock, opts sessionstore.Options) *sessionstore.Store {
	t.Helper()
	opts.DataDir = filepath.Join(t.TempDir(), "fresh")
	if b.srv != nil {
		opts.URL = b.srv.NewDatabase(t)
	}
	return openStore(t, c, opts)
}

// peer returns the store of another node (nodeID; "" for a single node)
// on s's database: with PostgreSQL a second Store with its own data dir, as
// another daemon has; with bbolt, which one process cannot open twice, a
// Store sharing s's (see sessionstore.Peer).
func (b *backend) peer(t *testing.T, s *sessionstore.Store, c *clock, nodeID string) *sessionstore.Store {
	t.Helper()
	if b.srv == nil {
		return sessionstore.Peer(s, nodeID)
	}
	return openStore(t, c, sessionstore.Options{URL: b.url, DataDir: filepath.Join(t.TempDir(), "peer"), NodeID: nodeID})
}

// waitFor polls cond until it holds, failing the test after 10 s. For
// conditions on real time only: a lease's expiry by the database's clock.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if wait.Until(10*time.Second, 10*time.Millisecond, cond) != nil {
		t.Fatalf("timed out waiting until %s", what)
	}
}

const leaseTTL = 300 * time.Millisecond // short leases that really expire

func TestLeaseEpochs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		a := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		nb := b.peer(t, a, nil, "node-b")
		if _, err := a.Lease("t1"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("Lease of a tenant never leased: %v, want ErrNotFound", err)
		}
		if _, ok := a.Fence("t1"); ok {
			t.Fatal("a fence before any lease")
		}

		first, err := a.AcquireLease("t1", time.Minute)
		if err != nil || first.TenantID != "t1" || first.Holder != "node-a" || first.Epoch != 1 ||
			first.Expires.Before(time.Now().Add(30*time.Second)) || first.Expires.Location() != time.UTC {
			t.Fatalf("first AcquireLease = %+v, %v", first, err)
		}
		if epoch, ok := a.Fence("t1"); !ok || epoch != 1 {
			t.Fatalf("Fence = %d, %v; want 1", epoch, ok)
		}
		// The holder acquiring again renews: same epoch, later expiry.
		again, err := a.AcquireLease("t1", 2*time.Minute)
		if err != nil || again.Epoch != 1 || !again.Expires.After(first.Expires) {
			t.Fatalf("AcquireLease by the holder = %+v, %v; want epoch 1 renewed", again, err)
		}
		// Another node is refused while it is held, and told by whom.
		if l, err := nb.AcquireLease("t1", time.Minute); !errors.Is(err, sessionstore.ErrLeaseHeld) || !strings.Contains(err.Error(), `"node-a"`) {
			t.Fatalf("AcquireLease by node-b = %+v, %v; want ErrLeaseHeld naming node-a", l, err)
		}
		if _, ok := nb.Fence("t1"); ok {
			t.Fatal("node-b got a fence for a lease it does not hold")
		}
		renewed, err := a.RenewLeases(time.Minute)
		if err != nil || len(renewed) != 1 || renewed[0].TenantID != "t1" || renewed[0].Holder != "node-a" || renewed[0].Epoch != 1 {
			t.Fatalf("RenewLeases = %+v, %v", renewed, err)
		}

		// Released: the epoch stays, the next holder gets epoch+1.
		if err := a.ReleaseLease("t1"); err != nil {
			t.Fatal(err)
		}
		if l, err := a.Lease("t1"); err != nil || l.Holder != "" || l.Epoch != 1 {
			t.Fatalf("Lease after release = %+v, %v", l, err)
		}
		if _, ok := a.Fence("t1"); ok {
			t.Fatal("ReleaseLease kept the fence")
		}
		taken, err := nb.AcquireLease("t1", time.Minute)
		if err != nil || taken.Holder != "node-b" || taken.Epoch != 2 {
			t.Fatalf("AcquireLease after release = %+v, %v; want node-b at epoch 2", taken, err)
		}
		if epoch, ok := nb.Fence("t1"); !ok || epoch != 2 {
			t.Fatalf("node-b's fence = %d, %v", epoch, ok)
		}
		if _, err := a.AcquireLease("t1", time.Minute); !errors.Is(err, sessionstore.ErrLeaseHeld) || !strings.Contains(err.Error(), `"node-b"`) {
			t.Fatalf("AcquireLease by node-a: %v; want ErrLeaseHeld naming node-b", err)
		}
		// A release without the lease changes nothing.
		if err := a.ReleaseLease("t1"); err != nil {
			t.Fatal(err)
		}
		if l, _ := a.Lease("t1"); l.Holder != "node-b" || l.Epoch != 2 {
			t.Fatalf("node-a's release touched node-b's lease: %+v", l)
		}

		if _, err := a.AcquireLease("t0", time.Minute); err != nil {
			t.Fatal(err)
		}
		all, err := a.Leases()
		if err != nil || len(all) != 2 || all[0].TenantID != "t0" || all[0].Holder != "node-a" || all[0].Epoch != 1 ||
			all[1].TenantID != "t1" || all[1].Holder != "node-b" || all[1].Epoch != 2 {
			t.Fatalf("Leases = %+v, %v", all, err)
		}
		// node-a renews what it holds only.
		if renewed, err := a.RenewLeases(time.Minute); err != nil || len(renewed) != 1 || renewed[0].TenantID != "t0" {
			t.Fatalf("RenewLeases = %+v, %v; want t0 only", renewed, err)
		}

		single := b.peer(t, a, nil, "")
		if _, err := single.AcquireLease("t2", time.Minute); !errors.Is(err, sessionstore.ErrNoNodeID) {
			t.Fatalf("AcquireLease without a NodeID: %v, want ErrNoNodeID", err)
		}
		if _, err := a.AcquireLease("t2", 0); err == nil {
			t.Fatal("AcquireLease with ttl 0 succeeded")
		}
		if _, err := a.AcquireLease("../t", time.Minute); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
			t.Fatalf("AcquireLease(../t): %v", err)
		}
	})
}

// A node whose lease expired and was taken over can change nothing of the
// tenant's outbox, though it still remembers its old epoch.
func TestLeaseTakeoverFencesTheOldHolder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		a := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		nb := b.peer(t, a, nil, "node-b")
		m, _, err := a.Enqueue(msg("t1", "", "hello")) // not fenced: any node enqueues
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.AcquireLease("t1", leaseTTL); err != nil {
			t.Fatal(err)
		}
		if _, err := a.UpdateMessage("t1", m.ID, func(x *sessionstore.Message) { x.State, x.Attempts = sessionstore.StateSending, 1 }); err != nil {
			t.Fatalf("fenced update by the holder: %v", err)
		}
		var taken sessionstore.Lease
		waitFor(t, "node-b takes node-a's expired lease", func() bool {
			taken, err = nb.AcquireLease("t1", time.Minute)
			if err != nil && !errors.Is(err, sessionstore.ErrLeaseHeld) {
				t.Fatal(err)
			}
			return err == nil
		})
		if taken.Epoch != 2 || taken.Holder != "node-b" {
			t.Fatalf("takeover = %+v; want node-b at epoch 2", taken)
		}
		if epoch, ok := a.Fence("t1"); !ok || epoch != 1 {
			t.Fatalf("node-a's fence = %d, %v; want the stale 1", epoch, ok)
		}

		before, _ := a.GetMessage("t1", m.ID)
		head, _ := a.EventHead()
		refused := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, sessionstore.ErrFenced) {
				t.Errorf("%s by the old holder: %v, want ErrFenced", what, err)
			}
			if after, _ := a.GetMessage("t1", m.ID); after.State != before.State || after.Attempts != before.Attempts || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("%s by the old holder changed the message: %+v, was %+v", what, after, before)
			}
			if h, _ := a.EventHead(); h != head {
				t.Errorf("%s by the old holder logged an event: head %d, was %d", what, h, head)
			}
		}
		_, err = a.UpdateMessage("t1", m.ID, func(x *sessionstore.Message) { x.State, x.Attempts = sessionstore.StateSent, 2 })
		refused("UpdateMessage", err)
		_, err = a.FailPending("t1", "LOGGED_OUT", "logged out")
		refused("FailPending", err)
		_, err = a.AppendSessionEvent("t1", sessionstore.SessionEvent{From: "READY", To: "STOPPED"})
		refused("AppendSessionEvent", err)

		// Renewing tells node-a: the fence goes, and writes stay refused.
		if renewed, err := a.RenewLeases(time.Minute); err != nil || len(renewed) != 0 {
			t.Fatalf("RenewLeases by the old holder = %+v, %v; want none", renewed, err)
		}
		if _, ok := a.Fence("t1"); ok {
			t.Fatal("a lost lease's fence survived RenewLeases")
		}
		_, err = a.UpdateMessage("t1", m.ID, func(*sessionstore.Message) { t.Error("fn called without a fence") })
		refused("UpdateMessage without a fence", err)

		// The new holder writes.
		if got, err := nb.UpdateMessage("t1", m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSent }); err != nil || got.State != sessionstore.StateSent {
			t.Fatalf("UpdateMessage by the new holder = %+v, %v", got, err)
		}
		if _, err := nb.AppendSessionEvent("t1", sessionstore.SessionEvent{From: "STARTING", To: "READY"}); err != nil {
			t.Fatal(err)
		}
		if _, err := nb.FailPending("t1", "LOGGED_OUT", ""); err != nil {
			t.Fatal(err)
		}
	})
}

// A holder's own lease expiring, with nobody taking it, fences it too;
// taking it again starts a new epoch.
func TestExpiredLeaseFencesItsHolder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		a := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		m, _, err := a.Enqueue(msg("t1", "", "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.AcquireLease("t1", leaseTTL); err != nil {
			t.Fatal(err)
		}
		var before sessionstore.Message
		waitFor(t, "the lease expires and UpdateMessage is refused", func() bool {
			before, _ = a.GetMessage("t1", m.ID)
			_, err := a.UpdateMessage("t1", m.ID, func(*sessionstore.Message) {})
			if err != nil && !errors.Is(err, sessionstore.ErrFenced) {
				t.Fatal(err)
			}
			return err != nil
		})
		if after, _ := a.GetMessage("t1", m.ID); !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("the refused update was stored: %+v", after)
		}
		l, err := a.AcquireLease("t1", time.Minute)
		if err != nil || l.Epoch != 2 || l.Holder != "node-a" {
			t.Fatalf("AcquireLease of its own expired lease = %+v, %v; want epoch 2", l, err)
		}
		if _, err := a.UpdateMessage("t1", m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSending }); err != nil {
			t.Fatalf("update under the new epoch: %v", err)
		}
	})
}

// With a NodeID the supervisor's writes need the lease; without one (a
// single node) nothing is fenced.
func TestFencedWritesNeedALease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		a := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		m, _, err := a.Enqueue(msg("t1", "", "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.UpdateMessage("t1", m.ID, func(*sessionstore.Message) { t.Error("fn called without a lease") }); !errors.Is(err, sessionstore.ErrFenced) {
			t.Fatalf("UpdateMessage without a lease: %v, want ErrFenced", err)
		}
		if _, err := a.FailPending("t1", "LOGGED_OUT", ""); !errors.Is(err, sessionstore.ErrFenced) {
			t.Fatalf("FailPending without a lease: %v, want ErrFenced", err)
		}
		if _, err := a.AppendSessionEvent("t1", sessionstore.SessionEvent{To: "READY"}); !errors.Is(err, sessionstore.ErrFenced) {
			t.Fatalf("AppendSessionEvent without a lease: %v, want ErrFenced", err)
		}
		// Not fenced: enqueueing, tenants, reads.
		if err := a.PutTenant(sessionstore.Tenant{ID: "t1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.UpdateTenant("t1", func(tn *sessionstore.Tenant) { tn.Linked = true }); err != nil {
			t.Fatal(err)
		}
		if p, err := a.Pending("t1"); err != nil || len(p) != 1 || p[0].State != sessionstore.StateQueued {
			t.Fatalf("Pending = %+v, %v", p, err)
		}
		// Fences are per tenant.
		if _, err := a.AcquireLease("t2", time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := a.UpdateMessage("t1", m.ID, func(*sessionstore.Message) {}); !errors.Is(err, sessionstore.ErrFenced) {
			t.Fatalf("UpdateMessage of t1 with t2's lease: %v, want ErrFenced", err)
		}
		single := b.peer(t, a, nil, "")
		if _, err := single.UpdateMessage("t1", m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSent }); err != nil {
			t.Fatalf("a single node's update: %v", err)
		}
	})
}

// Two nodes enqueueing the same idempotency key at once store one message.
func TestEnqueueRaceAcrossNodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		a := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		enqueueRace(t, []*sessionstore.Store{a, b.peer(t, a, nil, "node-b")}, "t1", "order-1")
	})
}

func TestNodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		a := b.open(t, nil, sessionstore.Options{NodeID: "node-a"})
		nb := b.peer(t, a, nil, "node-b")
		if _, err := a.Heartbeat(); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("Heartbeat before RegisterNode: %v, want ErrNotFound", err)
		}
		if err := b.peer(t, a, nil, "").RegisterNode("x"); !errors.Is(err, sessionstore.ErrNoNodeID) {
			t.Fatalf("RegisterNode without a NodeID: %v", err)
		}
		if err := nb.RegisterNode("10.0.0.2:7440"); err != nil {
			t.Fatal(err)
		}
		if err := a.RegisterNode("10.0.0.1:7440"); err != nil {
			t.Fatal(err)
		}
		ns, err := a.Nodes(time.Minute)
		if err != nil || len(ns) != 2 || ns[0].ID != "node-a" || ns[0].Addr != "10.0.0.1:7440" || ns[1].ID != "node-b" ||
			ns[0].Draining || ns[0].Started.IsZero() || ns[0].Heartbeat.Before(ns[0].Started) {
			t.Fatalf("Nodes = %+v, %v", ns, err)
		}

		// Another node sets the flag; the node learns it at its heartbeat.
		if err := nb.SetDraining("node-a", true); err != nil {
			t.Fatal(err)
		}
		hb, err := a.Heartbeat()
		if err != nil || !hb.Draining || hb.ID != "node-a" || hb.Addr != "10.0.0.1:7440" || hb.Heartbeat.Before(ns[0].Heartbeat) {
			t.Fatalf("Heartbeat = %+v, %v; want node-a draining", hb, err)
		}
		if err := a.SetDraining("nobody", true); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("SetDraining of an unknown node: %v, want ErrNotFound", err)
		}
		// A restart registers afresh: no longer draining.
		if err := a.RegisterNode("10.0.0.1:7441"); err != nil {
			t.Fatal(err)
		}
		if hb, _ := a.Heartbeat(); hb.Draining || hb.Addr != "10.0.0.1:7441" {
			t.Fatalf("after RegisterNode: %+v", hb)
		}

		// A node that stops heartbeating drops out of the live ones.
		waitFor(t, "node-a's heartbeat is older than 300ms while node-b's is fresh", func() bool {
			if _, err := nb.Heartbeat(); err != nil {
				t.Fatal(err)
			}
			live, err := a.Nodes(leaseTTL)
			if err != nil {
				t.Fatal(err)
			}
			return len(live) == 1 && live[0].ID == "node-b"
		})
		if all, err := a.Nodes(0); err != nil || len(all) != 2 {
			t.Fatalf("Nodes(0) = %+v, %v; want both", all, err)
		}

		if err := nb.RemoveNode("node-a"); err != nil {
			t.Fatal(err)
		}
		if err := nb.RemoveNode("node-a"); err != nil {
			t.Fatalf("removing a removed node: %v", err)
		}
		if all, _ := a.Nodes(0); len(all) != 1 || all[0].ID != "node-b" {
			t.Fatalf("Nodes after RemoveNode = %+v", all)
		}
		if _, err := a.Heartbeat(); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("Heartbeat of a removed node: %v, want ErrNotFound", err)
		}
	})
}

// Texts and keys carry any bytes the API passes, NUL included.
func TestOddBytesRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		in := msg("t1", "key\x00with NUL", "text \x00 with NUL, émoji 🎉, \\u0000")
		m, _, err := s.Enqueue(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetMessage("t1", m.ID); err != nil || got.Text != in.Text || got.IdempotencyKey != in.IdempotencyKey {
			t.Fatalf("GetMessage = %q / %q, %v", got.Text, got.IdempotencyKey, err)
		}
		if again, existed, err := s.Enqueue(in); err != nil || !existed || again.ID != m.ID {
			t.Fatalf("retry = %+v, %v, %v", again, existed, err)
		}
		if _, existed, _ := s.Enqueue(msg("t1", "key", in.Text)); existed {
			t.Fatal("a key cut at its NUL names the message")
		}
		if _, err := s.UpdateMessage("t1", m.ID, func(x *sessionstore.Message) { x.WAMessageID = "wa\x00id" }); err != nil {
			t.Fatal(err)
		}
		if got, err := s.MessageByWAID("t1", "wa\x00id"); err != nil || got.ID != m.ID {
			t.Fatalf("MessageByWAID = %+v, %v", got, err)
		}
		if err := s.PutTenant(sessionstore.Tenant{ID: "t1", LastError: "bad \x00 byte"}); err != nil {
			t.Fatal(err)
		}
		if tn, err := s.GetTenant("t1"); err != nil || tn.LastError != "bad \x00 byte" {
			t.Fatalf("GetTenant = %+v, %v", tn, err)
		}
	})
}

// SnapshotAt round-trips through UpdateTenant and ListTenants.
func TestTenantSnapshotAt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, newClock(), sessionstore.Options{})
		if err := s.PutTenant(sessionstore.Tenant{ID: "t1"}); err != nil {
			t.Fatal(err)
		}
		if tn, _ := s.GetTenant("t1"); !tn.SnapshotAt.IsZero() {
			t.Fatalf("new tenant has SnapshotAt %v", tn.SnapshotAt)
		}
		at := time.Date(2026, 3, 1, 12, 30, 0, 123456789, time.UTC)
		if _, err := s.UpdateTenant("t1", func(tn *sessionstore.Tenant) { tn.SnapshotAt = at }); err != nil {
			t.Fatal(err)
		}
		ts, err := s.ListTenants()
		if err != nil || len(ts) != 1 || !ts[0].SnapshotAt.Equal(at) {
			t.Fatalf("ListTenants = %+v, %v", ts, err)
		}
	})
}

func describeAll(evs []sessionstore.Event) string {
	var parts []string
	for _, ev := range evs {
		parts = append(parts, fmt.Sprintf("%d:%s", ev.Seq, describeEvent(ev)))
	}
	return strings.Join(parts, ", ")
}
