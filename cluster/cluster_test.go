package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wapool/wapool/internal/snapshot"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

const testTTL = 3 * time.Second

// testNode is one node of a fake cluster, running until stop.
type testNode struct {
	*Node
	st   *fakeStore
	sup  *fakeRunner
	stop context.CancelFunc
	done chan struct{}
}

func startNode(t *testing.T, db *fakeDB, snaps *fakeSnapshots, id string) *testNode {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(db.dir, id), 0o700); err != nil {
		t.Fatal(err)
	}
	st := db.store(id)
	n, err := New(Config{NodeID: id, AdvertiseAddr: id + ":7440", Store: st, Snapshots: snaps, LeaseTTL: testTTL, SnapshotAfterLink: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, st: st, sup: newFakeRunner(), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(tn.done)
		_ = n.Run(ctx, tn.sup)
	}()
	t.Cleanup(func() { cancel(); <-tn.done })
	return tn
}

// waitFor advances the fake clock a tick at a time until cond holds, or
// fails after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
	}
}

// oneTenantOnA starts a fake cluster of one node, a, running tenant t0.
func oneTenantOnA(t *testing.T) (*fakeDB, *fakeSnapshots, *testNode) {
	t.Helper()
	db := newFakeDB(t.TempDir())
	snaps := newFakeSnapshots()
	addTenants(db, 1)
	a := startNode(t, db, snaps, "a")
	waitFor(t, 10*time.Second, "a runs t0", func() bool { return a.sup.runs("t0") })
	return db, snaps, a
}

// waitPlaced waits until each tenant runs on the node the hash names, and
// only there.
func waitPlaced(t *testing.T, ids []string, nodes ...*testNode) {
	t.Helper()
	var names []string
	for _, n := range nodes {
		names = append(names, n.NodeID())
	}
	waitFor(t, 20*time.Second, "each tenant on its owner", func() bool {
		for _, id := range ids {
			o := owner(id, names)
			for _, n := range nodes {
				if n.sup.runs(id) != (o == n.NodeID()) {
					return false
				}
			}
		}
		return true
	})
}

func addTenants(db *fakeDB, n int) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("t%d", i)
		db.tenants[id] = sessionstore.Tenant{ID: id, Linked: true}
		ids = append(ids, id)
	}
	return ids
}

func TestOwnerMovesOnlyTheLeaversTenants(t *testing.T) {
	nodes := []string{"a", "b", "c"}
	count := map[string]int{}
	moved := 0
	for i := range 3000 {
		id := fmt.Sprintf("tenant-%d", i)
		before := owner(id, nodes)
		count[before]++
		after := owner(id, []string{"a", "c"})
		if before != "b" && after != before {
			moved++
		}
		if after == "b" {
			t.Fatalf("%s placed on a node that left", id)
		}
	}
	if moved != 0 {
		t.Errorf("%d tenants of the staying nodes moved when b left", moved)
	}
	for _, n := range nodes {
		if count[n] < 800 || count[n] > 1200 {
			t.Errorf("node %s got %d of 3000 tenants: rendezvous hashing should spread them evenly", n, count[n])
		}
	}
	if owner("x", nil) != "" {
		t.Error("no node: want no owner")
	}
}

// Every linked tenant runs on exactly the node the hash names, and a node
// that joins takes its share with a move (close, snapshot, release;
// acquire, restore, start).
func TestPlacementAndPlannedMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := newFakeDB(t.TempDir())
		snaps := newFakeSnapshots()
		ids := addTenants(db, 12)
		a := startNode(t, db, snaps, "a")
		waitFor(t, 10*time.Second, "node a runs all 12 tenants", func() bool { return len(a.sup.Running()) == 12 })

		b := startNode(t, db, snaps, "b")
		waitPlaced(t, ids, a, b)
		for _, id := range ids {
			if owner(id, []string{"a", "b"}) != "b" {
				continue
			}
			if n := snaps.restoredCount(id); n != 1 || a.sup.releases[id] != 1 {
				t.Errorf("tenant %s moved to b: restored %d times, released by a %d times; want 1 and 1", id, n, a.sup.releases[id])
			}
			if !b.Holds(id) || a.Holds(id) {
				t.Errorf("tenant %s: b holds %v, a holds %v", id, b.Holds(id), a.Holds(id))
			}
			if l := db.leases[id]; l.Holder != "b" || l.Epoch != 2 {
				t.Errorf("tenant %s lease %+v: want holder b at epoch 2", id, l)
			}
		}
	})
}

// A node cut off from the store stops its tenants' browsers before their
// leases expire, and Holds turns false before the TTL ends, so the send
// click never happens after another node could have taken the tenant.
func TestLeaseLapseStopsBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _, a := oneTenantOnA(t)
		if !a.Holds("t0") {
			t.Fatal("a runs t0 but does not hold it")
		}
		db.mu.Lock()
		db.down = true
		expires := db.leases["t0"].Expires
		db.mu.Unlock()
		waitFor(t, testTTL, "t0 stopped on a", func() bool { return !a.sup.runs("t0") })
		if !time.Now().Before(expires) {
			t.Errorf("the browser stopped at %v, not before the lease expired at %v", time.Now(), expires)
		}
		if a.Holds("t0") {
			t.Error("Holds is still true after the lease lapsed")
		}
	})
}

// A paused node (its lease expired and another node took the tenant) finds
// out at its next renewal, stops the browser and never holds it again.
func TestPausedNodeLosesTheTenant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, snaps, a := oneTenantOnA(t)
		// Pause a: no renewals, no heartbeats. Model it by taking its
		// store away for longer than the TTL while b takes over.
		a.stop()
		<-a.done
		b := startNode(t, db, snaps, "b")
		waitFor(t, 2*testTTL+5*time.Second, "b runs t0", func() bool { return b.sup.runs("t0") })
		if l := db.leases["t0"]; l.Holder != "b" || l.Epoch != 2 {
			t.Fatalf("lease %+v: want b at epoch 2", l)
		}
		if a.Holds("t0") {
			t.Error("the paused node still claims to hold t0")
		}
		// a resumes: its renewal finds the lease gone, and it stops t0.
		a.renew(context.Background())
		synctest.Wait()
		if a.sup.runs("t0") {
			t.Error("the resumed node still runs t0")
		}
		if _, err := a.Claim(context.Background(), "t0"); !errors.Is(err, supervisor.ErrNotHolder) {
			t.Errorf("Claim on the resumed node: %v, want ErrNotHolder", err)
		}
	})
}

// A node that drains moves every tenant to the others, and Claim on it
// refuses new ones.
func TestLeaveMovesEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := newFakeDB(t.TempDir())
		snaps := newFakeSnapshots()
		ids := addTenants(db, 6)
		a := startNode(t, db, snaps, "a")
		b := startNode(t, db, snaps, "b")
		waitPlaced(t, ids, a, b)
		onA := a.sup.Running()
		if len(onA) == 0 {
			t.Fatalf("a runs none of %v: the test needs some", ids)
		}
		restoredBefore := map[string]int{}
		for _, id := range onA {
			restoredBefore[id] = snaps.restoredCount(id)
		}
		if err := a.Leave(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "b runs all 6", func() bool { return len(b.sup.Running()) == 6 })
		if len(a.sup.Running()) != 0 {
			t.Errorf("a still runs %v after leaving", a.sup.Running())
		}
		for _, id := range onA {
			if _, ok := snaps.taken[id]; !ok || snaps.restored[id] != restoredBefore[id]+1 {
				t.Errorf("tenant %s moved from a: snapshot taken %v, restored %d more times; want true and 1", id, ok, snaps.restored[id]-restoredBefore[id])
			}
		}
		if _, err := a.Claim(context.Background(), "new"); !errors.Is(err, supervisor.ErrNotHolder) {
			t.Errorf("Claim on a draining node: %v, want ErrNotHolder", err)
		}
	})
}

// Of the live nodes, exactly one leads a duty.
func TestOneLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := newFakeDB(t.TempDir())
		snaps := newFakeSnapshots()
		a := startNode(t, db, snaps, "a")
		b := startNode(t, db, snaps, "b")
		c := startNode(t, db, snaps, "c")
		waitFor(t, 5*time.Second, "every node sees three", func() bool {
			return len(a.Nodes()) == 3 && len(b.Nodes()) == 3 && len(c.Nodes()) == 3
		})
		leaders := 0
		for _, n := range []*testNode{a, b, c} {
			if n.Leads("webhook") {
				leaders++
			}
		}
		if leaders != 1 {
			t.Errorf("%d nodes lead the webhook, want 1", leaders)
		}
	})
}

// While a Claim is not done (its caller starts the runner), no move of the
// tenant begins: the runner a Send starts is never missed by a move.
func TestClaimHoldsOffMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, a := oneTenantOnA(t)
		done, err := a.Claim(context.Background(), "t0")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Drain("a"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // three ticks of the placement loop
		synctest.Wait()
		if !a.sup.runs("t0") || a.sup.releases["t0"] != 0 {
			t.Fatal("the tenant moved while claimed")
		}
		done()
		waitFor(t, 5*time.Second, "the drain moves t0 once the claim is done", func() bool { return !a.sup.runs("t0") })
	})
}

// A store that hangs (no answer, no error) does not hold up the stop: the
// watchdog stops the browser before the lease can expire.
func TestHungStoreStopsBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _, a := oneTenantOnA(t)
		db.mu.Lock()
		expires := db.leases["t0"].Expires
		db.hang = make(chan struct{})
		db.mu.Unlock()
		waitFor(t, testTTL, "t0 stopped on a", func() bool { return !a.sup.runs("t0") })
		if !time.Now().Before(expires) {
			t.Errorf("the browser stopped at %v, not before the lease expired at %v", time.Now(), expires)
		}
		db.mu.Lock()
		close(db.hang)
		db.hang = nil
		db.mu.Unlock()
	})
}

// The snapshot due after a link goes with the lease: a tenant that moved
// away right after its link and comes back later is not restarted for it.
func TestSnapshotAfterLinkGoesWithTheLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := newFakeDB(t.TempDir())
		snaps := newFakeSnapshots()
		addTenants(db, 1) // t0: the hash gives it to b of {a, b}
		if owner("t0", []string{"a", "b"}) != "b" {
			t.Fatal("the test needs t0 placed on b")
		}
		a := startNode(t, db, snaps, "a")
		waitFor(t, 10*time.Second, "a runs t0", func() bool { return a.sup.runs("t0") })
		a.Linked("t0")
		b := startNode(t, db, snaps, "b")
		waitFor(t, 10*time.Second, "t0 moved to b", func() bool { return b.sup.runs("t0") && !a.sup.runs("t0") })
		b.stop()
		<-b.done
		waitFor(t, 3*testTTL, "t0 back on a", func() bool { return a.sup.runs("t0") })
		time.Sleep(3 * time.Second) // well past SnapshotAfterLink
		synctest.Wait()
		if n := a.sup.releases["t0"]; n != 1 {
			t.Errorf("a released t0 %d times, want 1 (the move): a stale link made it snapshot again", n)
		}
	})
}

// A node whose lease lapsed while a send was in flight takes the tenant
// again only once the old runner has stopped: never a second runner (and a
// restore) on a profile a Chrome still uses.
func TestNoTakeWhileTheLostRunnerStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _, a := oneTenantOnA(t)
		a.sup.mu.Lock()
		a.sup.releaseDelay = 3 * testTTL // longer than a lease
		a.sup.mu.Unlock()
		db.mu.Lock()
		db.down = true
		db.mu.Unlock()
		waitFor(t, testTTL, "the lost lease's stop begins", func() bool {
			a.sup.mu.Lock()
			defer a.sup.mu.Unlock()
			return a.sup.releasing["t0"]
		})
		db.mu.Lock()
		db.down = false // a is the only node: the hash gives t0 back to it
		db.mu.Unlock()
		waitFor(t, 6*testTTL, "a runs t0 again", func() bool {
			a.sup.mu.Lock()
			defer a.sup.mu.Unlock()
			return a.sup.starts["t0"] == 2 && a.sup.running["t0"]
		})
		if a.sup.overlaps != 0 {
			t.Errorf("%d starts of t0 while its old runner was still stopping", a.sup.overlaps)
		}
	})
}

// A tenant whose lease the watchdog gave up (a renewal answered too late)
// loses the lease in the store too: the late renewal and the next ones do
// not keep it, and the node the hash names once the node set changed takes
// it.
func TestOrphanedLeaseIsReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		db := newFakeDB(t.TempDir())
		snaps := newFakeSnapshots()
		addTenants(db, 1) // t0: the hash gives it to b of {a, b}
		a := startNode(t, db, snaps, "a")
		waitFor(t, time.Second, "a runs t0", func() bool { return a.sup.runs("t0") })
		// Renewals at 1 s, 2 s, …; the one at 2 s hangs until 3.5 s, while
		// the lease renewed at 1 s lasts until 4 s: the watchdog stops t0 at
		// 3 s, and the renewal then succeeds, late.
		time.Sleep(start.Add(1500 * time.Millisecond).Sub(time.Now()))
		db.mu.Lock()
		hang := make(chan struct{})
		db.hang = hang
		db.mu.Unlock()
		time.Sleep(start.Add(3200 * time.Millisecond).Sub(time.Now()))
		synctest.Wait()
		if a.sup.runs("t0") {
			t.Fatal("the watchdog did not stop t0")
		}
		db.mu.Lock()
		n := db.nodes["a"]
		n.Draining = true // the node set changes: the hash names b
		db.nodes["a"] = n
		db.hang = nil
		db.mu.Unlock()
		time.Sleep(start.Add(3500 * time.Millisecond).Sub(time.Now()))
		close(hang)
		b := startNode(t, db, snaps, "b")
		waitFor(t, 3*testTTL, "b runs t0", func() bool { return b.sup.runs("t0") })
		if l := db.leases["t0"]; l.Holder != "b" {
			t.Errorf("lease %+v: want holder b", l)
		}
	})
}

// A browser that had to be killed leaves a profile that is no consistent
// snapshot: nothing is uploaded (the last good snapshot stays), and the
// tenant runs on, here; a planned move waits for a graceful close.
func TestNoSnapshotAfterAForcedStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, snaps, a := oneTenantOnA(t)
		a.sup.mu.Lock()
		a.sup.notAtRest = true
		a.sup.mu.Unlock()
		a.Linked("t0") // a snapshot is due a second after the link
		waitFor(t, 10*time.Second, "a refresh of t0 tried", func() bool {
			a.sup.mu.Lock()
			defer a.sup.mu.Unlock()
			return a.sup.releases["t0"] >= 2
		})
		synctest.Wait()
		if !a.sup.runs("t0") {
			t.Error("t0 does not run after its refresh found the profile not at rest")
		}
		if err := a.Drain("a"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // three ticks of the placement loop
		synctest.Wait()
		snaps.mu.Lock()
		saves := snaps.saves
		snaps.mu.Unlock()
		if saves != 0 {
			t.Errorf("%d snapshots uploaded from profiles not at rest, want 0", saves)
		}
		if l := db.leases["t0"]; l.Holder != "a" || !a.sup.runs("t0") {
			t.Errorf("t0 (lease %+v) left a without a snapshot of its profile", l)
		}
		a.sup.mu.Lock()
		a.sup.notAtRest = false
		a.sup.mu.Unlock()
		b := startNode(t, db, snaps, "b")
		waitFor(t, 10*time.Second, "t0 moved to b once a closed it gracefully", func() bool { return b.sup.runs("t0") })
		if snaps.saves != 1 {
			t.Errorf("%d snapshots, want 1 (the move)", snaps.saves)
		}
	})
}

// A node whose lease was taken over while it closed the browser for a
// refresh uploads nothing that could become current and starts no second
// browser: the lease is checked against the store, with its epoch, before
// the upload and before the start.
func TestLapsedRefreshUploadsAndStartsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, snaps, a := oneTenantOnA(t)
		a.sup.mu.Lock()
		a.sup.releaseDelay = 500 * time.Millisecond // a send finishing first
		a.sup.mu.Unlock()
		a.Linked("t0") // a refresh is due a second after the link
		waitFor(t, 5*time.Second, "the refresh closes t0", func() bool {
			a.sup.mu.Lock()
			defer a.sup.mu.Unlock()
			return a.sup.releasing["t0"]
		})
		// Meanwhile another node took the tenant (a was paused past its TTL).
		db.mu.Lock()
		l := db.leases["t0"]
		db.leases["t0"] = sessionstore.Lease{TenantID: "t0", Holder: "b", Epoch: l.Epoch + 1, Expires: time.Now().Add(time.Hour)}
		db.mu.Unlock()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		snaps.mu.Lock()
		saves := snaps.saves
		snaps.mu.Unlock()
		if saves != 0 {
			t.Errorf("%d snapshots uploaded by a node that lost the lease, want 0", saves)
		}
		if gen := db.snapGen("t0"); gen != 0 {
			t.Errorf("snapshot of generation %d recorded by a node that lost the lease", gen)
		}
		a.sup.mu.Lock()
		starts := a.sup.starts["t0"]
		a.sup.mu.Unlock()
		if starts != 1 || a.sup.runs("t0") {
			t.Errorf("t0 started %d times on a (runs: %v): a second browser for a tenant another node holds", starts, a.sup.runs("t0"))
		}
	})
}

// Which snapshot is newer is told by its generation, never by comparing
// two nodes' clocks: a node coming back with the profile of generation 1
// restores generation 2, taken by a node whose clock is an hour behind.
func TestRestoreComparesGenerationsNotClocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, snaps, a := oneTenantOnA(t)
		snaps.skew = map[string]time.Duration{"b": -time.Hour}
		a.Linked("t0")
		waitFor(t, 5*time.Second, "a snapshot of t0 on a", func() bool { return db.snapGen("t0") == 1 })
		db.mu.Lock()
		first := db.snaps["t0"].TakenAt
		db.mu.Unlock()
		a.stop() // a dies; its profile and its marker stay on its disk
		<-a.done
		b := startNode(t, db, snaps, "b")
		waitFor(t, 3*testTTL, "b runs t0", func() bool { return b.sup.runs("t0") })
		b.Linked("t0")
		waitFor(t, 5*time.Second, "a snapshot of t0 on b", func() bool { return db.snapGen("t0") == 2 })
		snaps.mu.Lock()
		second := snaps.objects["t0"][snapshot.Ref{Gen: 2, Epoch: 2}].TakenAt
		snaps.mu.Unlock()
		if !second.Before(first) {
			t.Fatal("the test needs b's snapshot to look older than a's by the clocks")
		}
		b.stop()
		<-b.done
		restored := snaps.restoredCount("t0")
		a2 := startNode(t, db, snaps, "a")
		waitFor(t, 3*testTTL, "a runs t0 again", func() bool { return a2.sup.runs("t0") })
		if got := snaps.restoredCount("t0"); got != restored+1 {
			t.Errorf("a started t0 on its own profile of generation 1: restored %d times, want %d", got, restored+1)
		}
		dir, _ := a2.st.ProfileDir("t0")
		if got := readMarker(dir); got.Gen != 2 {
			t.Errorf("a's marker after the take: %+v, want gen 2", got)
		}
	})
}

// A node that advertises a loopback address refuses to join a cluster
// whose other nodes are on other hosts; nodes all on one host are fine.
func TestLoopbackAdvertiseRefusedBesideOtherHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := newFakeDB(t.TempDir())
		snaps := newFakeSnapshots()
		run := func(id, addr string) error {
			n, err := New(Config{NodeID: id, AdvertiseAddr: addr, Store: db.store(id), Snapshots: snaps, LeaseTTL: testTTL})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return n.Run(ctx, newFakeRunner())
		}
		if err := run("a", "127.0.0.1:7441"); err != nil {
			t.Fatalf("a lone loopback node: %v", err)
		}
		db.mu.Lock()
		db.nodes["b"] = sessionstore.Node{ID: "b", Addr: "127.0.0.1:7442", Heartbeat: time.Now()}
		db.mu.Unlock()
		if err := run("c", "localhost:7443"); err != nil {
			t.Fatalf("loopback nodes on one host: %v", err)
		}
		db.mu.Lock()
		db.nodes["d"] = sessionstore.Node{ID: "d", Addr: "10.0.0.4:7440", Heartbeat: time.Now()}
		db.mu.Unlock()
		if err := run("e", "127.0.0.1:7445"); !errors.Is(err, ErrUnreachableAddr) {
			t.Errorf("a loopback node beside a node on another host: %v, want ErrUnreachableAddr", err)
		}
		if err := run("f", "10.0.0.6:7440"); err != nil {
			t.Errorf("a node with a routable address: %v", err)
		}
	})
}

// With SnapshotAfterActivity, a tenant active since its last snapshot is
// snapshot at its first idle moment once the period has passed; a quiet
// tenant is not restarted for it.
func TestSnapshotAfterActivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := newFakeDB(t.TempDir())
		snaps := newFakeSnapshots()
		addTenants(db, 2)
		st := db.store("a")
		if err := os.MkdirAll(filepath.Join(db.dir, "a"), 0o700); err != nil {
			t.Fatal(err)
		}
		n, err := New(Config{NodeID: "a", AdvertiseAddr: "a:7440", Store: st, Snapshots: snaps, LeaseTTL: testTTL, SnapshotAfterActivity: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		sup := newFakeRunner()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = n.Run(ctx, sup) }()
		defer func() { cancel(); <-done }()
		waitFor(t, 5*time.Second, "a runs both", func() bool { return sup.runs("t0") && sup.runs("t1") })
		time.Sleep(30 * time.Second)
		db.mu.Lock()
		tn := db.tenants["t0"]
		tn.LastActive = time.Now() // a send on t0
		db.tenants["t0"] = tn
		db.mu.Unlock()
		waitFor(t, 2*time.Minute, "t0 snapshot after its activity", func() bool {
			snaps.mu.Lock()
			defer snaps.mu.Unlock()
			_, ok := snaps.taken["t0"]
			return ok
		})
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		snaps.mu.Lock()
		defer snaps.mu.Unlock()
		if _, ok := snaps.taken["t1"]; ok || snaps.saves != 1 {
			t.Errorf("%d snapshots (t1 taken: %v), want 1: t0's after its activity only", snaps.saves, ok)
		}
	})
}
