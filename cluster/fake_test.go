package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/wapool/wapool/internal/snapshot"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// fakeDB is the shared store of a fake cluster: leases by the (fake) clock
// of testing/synctest, nodes and tenants in memory. Each node sees it
// through its own fakeStore (its NodeID and fences).
type fakeDB struct {
	mu      sync.Mutex
	leases  map[string]sessionstore.Lease
	snaps   map[string]sessionstore.Snapshot // the current snapshot of each tenant
	nodes   map[string]sessionstore.Node
	tenants map[string]sessionstore.Tenant
	down    bool          // every call fails: the store is unreachable
	hang    chan struct{} // non-nil: every call waits until it is closed
	dir     string
}

func newFakeDB(dir string) *fakeDB {
	return &fakeDB{leases: map[string]sessionstore.Lease{}, snaps: map[string]sessionstore.Snapshot{}, nodes: map[string]sessionstore.Node{}, tenants: map[string]sessionstore.Tenant{}, dir: dir}
}

var errDown = fmt.Errorf("fake store unreachable")

type fakeStore struct {
	db     *fakeDB
	node   string
	fences map[string]uint64
}

func (db *fakeDB) store(node string) *fakeStore {
	return &fakeStore{db: db, node: node, fences: map[string]uint64{}}
}

func (s *fakeStore) lock() error {
	s.db.mu.Lock()
	if s.db.hang != nil {
		hang := s.db.hang
		s.db.mu.Unlock()
		<-hang // a store that does not answer
		s.db.mu.Lock()
	}
	if s.db.down {
		s.db.mu.Unlock()
		return errDown
	}
	return nil
}

// locked runs f under the database's lock; a store that is down fails
// before f runs, one that hangs holds the call until it answers.
func locked[T any](s *fakeStore, f func() (T, error)) (T, error) {
	if err := s.lock(); err != nil {
		var zero T
		return zero, err
	}
	defer s.db.mu.Unlock()
	return f()
}

// lockedErr is locked for a call that returns only an error.
func lockedErr(s *fakeStore, f func() error) error {
	_, err := locked(s, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

func (s *fakeStore) AcquireLease(id string, ttl time.Duration) (sessionstore.Lease, error) {
	return locked(s, func() (sessionstore.Lease, error) {
		now := time.Now()
		l := s.db.leases[id]
		switch {
		case l.Holder == s.node && now.Before(l.Expires):
		case l.Holder == "" || !now.Before(l.Expires):
			l.Epoch++
		default:
			return l, fmt.Errorf("held by %s: %w", l.Holder, sessionstore.ErrLeaseHeld)
		}
		l.TenantID, l.Holder, l.Expires = id, s.node, now.Add(ttl)
		s.db.leases[id] = l
		s.fences[id] = l.Epoch
		return l, nil
	})
}

func (s *fakeStore) RenewLeases(ttl time.Duration) ([]sessionstore.Lease, error) {
	return locked(s, func() ([]sessionstore.Lease, error) {
		now := time.Now()
		var out []sessionstore.Lease
		for id, epoch := range s.fences {
			l := s.db.leases[id]
			if l.Holder != s.node || l.Epoch != epoch || !now.Before(l.Expires) {
				delete(s.fences, id)
				continue
			}
			l.Expires = now.Add(ttl)
			s.db.leases[id] = l
			out = append(out, l)
		}
		return out, nil
	})
}

func (s *fakeStore) RenewLease(id string, ttl time.Duration) (sessionstore.Lease, error) {
	return locked(s, func() (sessionstore.Lease, error) {
		epoch, ok := s.fences[id]
		l := s.db.leases[id]
		if !ok || l.Holder != s.node || l.Epoch != epoch || !time.Now().Before(l.Expires) {
			delete(s.fences, id)
			return sessionstore.Lease{}, fmt.Errorf("tenant %q: %w", id, sessionstore.ErrFenced)
		}
		l.Expires = time.Now().Add(ttl)
		s.db.leases[id] = l
		return l, nil
	})
}

func (s *fakeStore) CurrentSnapshot(id string) (sessionstore.Snapshot, error) {
	return locked(s, func() (sessionstore.Snapshot, error) {
		sn, ok := s.db.snaps[id]
		if !ok {
			sn.TenantID = id
		}
		return sn, nil
	})
}

// RecordSnapshot is fenced as sessionstore's is.
func (s *fakeStore) RecordSnapshot(rec sessionstore.Snapshot) error {
	return lockedErr(s, func() error {
		epoch, ok := s.fences[rec.TenantID]
		l := s.db.leases[rec.TenantID]
		if !ok || epoch != rec.Epoch || l.Holder != s.node || l.Epoch != epoch || !time.Now().Before(l.Expires) {
			return fmt.Errorf("tenant %q: %w", rec.TenantID, sessionstore.ErrFenced)
		}
		if cur := s.db.snaps[rec.TenantID]; rec.Gen != cur.Gen+1 {
			return fmt.Errorf("tenant %q: gen %d after %d: %w", rec.TenantID, rec.Gen, cur.Gen, sessionstore.ErrSnapshotConflict)
		}
		rec.Node = s.node
		s.db.snaps[rec.TenantID] = rec
		if t, ok := s.db.tenants[rec.TenantID]; ok {
			t.SnapshotAt = rec.TakenAt
			s.db.tenants[rec.TenantID] = t
		}
		return nil
	})
}

// ReleaseLease drops the fence first, as sessionstore does: a release
// that fails leaves the lease to expire, never renewed again.
func (s *fakeStore) ReleaseLease(id string) error {
	s.db.mu.Lock()
	epoch, ok := s.fences[id]
	delete(s.fences, id)
	s.db.mu.Unlock()
	if err := s.lock(); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if l := s.db.leases[id]; ok && l.Holder == s.node && l.Epoch == epoch {
		l.Holder = ""
		s.db.leases[id] = l
	}
	return nil
}

func (s *fakeStore) Lease(id string) (sessionstore.Lease, error) {
	return locked(s, func() (sessionstore.Lease, error) {
		l, ok := s.db.leases[id]
		if !ok {
			return l, sessionstore.ErrNotFound
		}
		return l, nil
	})
}

func (s *fakeStore) RegisterNode(addr string) error {
	return lockedErr(s, func() error {
		s.db.nodes[s.node] = sessionstore.Node{ID: s.node, Addr: addr, Started: time.Now(), Heartbeat: time.Now()}
		return nil
	})
}

func (s *fakeStore) Heartbeat() (sessionstore.Node, error) {
	return locked(s, func() (sessionstore.Node, error) {
		n := s.db.nodes[s.node]
		n.Heartbeat = time.Now()
		s.db.nodes[s.node] = n
		return n, nil
	})
}

func (s *fakeStore) SetDraining(id string, on bool) error {
	return lockedErr(s, func() error {
		n, ok := s.db.nodes[id]
		if !ok {
			return sessionstore.ErrNotFound
		}
		n.Draining = on
		s.db.nodes[id] = n
		return nil
	})
}

func (s *fakeStore) Nodes(maxAge time.Duration) ([]sessionstore.Node, error) {
	return locked(s, func() ([]sessionstore.Node, error) {
		var out []sessionstore.Node
		for _, n := range s.db.nodes {
			if time.Since(n.Heartbeat) <= maxAge {
				out = append(out, n)
			}
		}
		slices.SortFunc(out, func(a, b sessionstore.Node) int { return cmpString(a.ID, b.ID) })
		return out, nil
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *fakeStore) RemoveNode(id string) error {
	return lockedErr(s, func() error {
		delete(s.db.nodes, id)
		return nil
	})
}

func (s *fakeStore) ListTenants() ([]sessionstore.Tenant, error) {
	return locked(s, func() ([]sessionstore.Tenant, error) {
		var out []sessionstore.Tenant
		for _, t := range s.db.tenants {
			out = append(out, t)
		}
		slices.SortFunc(out, func(a, b sessionstore.Tenant) int { return cmpString(a.ID, b.ID) })
		return out, nil
	})
}

func (s *fakeStore) GetTenant(id string) (sessionstore.Tenant, error) {
	return locked(s, func() (sessionstore.Tenant, error) {
		t, ok := s.db.tenants[id]
		if !ok {
			return t, sessionstore.ErrNotFound
		}
		return t, nil
	})
}

func (s *fakeStore) UpdateTenant(id string, fn func(*sessionstore.Tenant)) (sessionstore.Tenant, error) {
	return locked(s, func() (sessionstore.Tenant, error) {
		t, ok := s.db.tenants[id]
		if !ok {
			return t, sessionstore.ErrNotFound
		}
		fn(&t)
		s.db.tenants[id] = t
		return t, nil
	})
}

// ProfileDir is per node: each node has its own disk.
func (s *fakeStore) ProfileDir(id string) (string, error) {
	return filepath.Join(s.db.dir, s.node, id), nil
}

// fakeRunner is a node's supervisor: it records which tenants run.
type fakeRunner struct {
	mu           sync.Mutex
	running      map[string]bool
	starts       map[string]int
	releases     map[string]int
	releasing    map[string]bool // a Release is under way
	releaseDelay time.Duration   // how long a Release takes
	overlaps     int             // Starts while the tenant's Release was under way
	// notAtRest makes Release report a browser that was killed, not
	// closed gracefully (supervisor.ErrNotAtRest).
	notAtRest bool
	// finished, when set, receives every message MessageFinished is
	// handed (the relay test holds the relay up with it).
	finished chan supervisor.Message
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{running: map[string]bool{}, starts: map[string]int{}, releases: map[string]int{}, releasing: map[string]bool{}}
}

func (r *fakeRunner) Start(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.releasing[id] {
		r.overlaps++ // a second runner while the first one still stops
	}
	r.running[id] = true
	r.starts[id]++
	return nil
}

// Release takes releaseDelay, as a runner finishing a send in flight does,
// and ignores ctx's deadline for it as the supervisor's runner does.
func (r *fakeRunner) Release(ctx context.Context, id string) error {
	r.mu.Lock()
	delay := r.releaseDelay
	r.releasing[id] = true
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err() // the caller gives up; the runner goes on stopping
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.releasing, id)
	was := r.running[id]
	if was {
		r.releases[id]++
	}
	delete(r.running, id)
	if was && r.notAtRest {
		return fmt.Errorf("tenant %q: %w: killed", id, supervisor.ErrNotAtRest)
	}
	return nil
}

func (r *fakeRunner) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id := range r.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (r *fakeRunner) runs(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id]
}

func (r *fakeRunner) Status(_ context.Context, id string) (supervisor.Session, error) {
	st := supervisor.StateHibernated
	if r.runs(id) {
		st = supervisor.StateReady
	}
	return supervisor.Session{TenantID: id, State: st}, nil
}

func (r *fakeRunner) Poke(string) {}
func (r *fakeRunner) MessageFinished(m supervisor.Message) {
	r.mu.Lock()
	ch := r.finished
	r.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}
func (r *fakeRunner) Restored(string, time.Time) ([]supervisor.Message, error) {
	return nil, nil
}

// fakeSnapshots is the object store: the snapshots by tenant and ref, and
// which node restored what.
type fakeSnapshots struct {
	mu       sync.Mutex
	objects  map[string]map[snapshot.Ref]snapshot.Info
	taken    map[string]time.Time // tenant → the time of its newest Save
	restored map[string]int
	last     time.Time // the newest snapshot's time
	saves    int       // Saves of any tenant
	// skew is how far each node's clock is off (by node, read from the
	// profile dir's parent): what its Saves record as TakenAt.
	skew map[string]time.Duration
}

func newFakeSnapshots() *fakeSnapshots {
	return &fakeSnapshots{objects: map[string]map[snapshot.Ref]snapshot.Info{}, taken: map[string]time.Time{}, restored: map[string]int{}}
}

func (f *fakeSnapshots) Save(_ context.Context, tenant, dir string, ref snapshot.Ref) (snapshot.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The fake clock stands still while goroutines run: keep the times of
	// successive snapshots apart, as a real clock does.
	now := time.Now().UTC()
	if !now.After(f.last) {
		now = f.last.Add(time.Microsecond)
	}
	f.last = now
	f.saves++
	f.taken[tenant] = now
	info := snapshot.Info{Tenant: tenant, Ref: ref, TakenAt: now.Add(f.skew[filepath.Base(filepath.Dir(dir))]), Bytes: 1000, Files: 3}
	if f.objects[tenant] == nil {
		f.objects[tenant] = map[snapshot.Ref]snapshot.Info{}
	}
	f.objects[tenant][ref] = info
	return info, nil
}

func (f *fakeSnapshots) Restore(_ context.Context, tenant, dir string, ref snapshot.Ref) (snapshot.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.objects[tenant][ref]
	if !ok {
		return snapshot.Info{}, snapshot.ErrNotFound
	}
	f.restored[tenant]++
	return info, nil
}

func (f *fakeSnapshots) Prune(_ context.Context, tenant string, keep snapshot.Ref) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for r := range f.objects[tenant] {
		if r.Gen < keep.Gen || r.Gen == keep.Gen && r != keep {
			delete(f.objects[tenant], r)
		}
	}
	return nil
}

func (f *fakeSnapshots) Delete(_ context.Context, tenant string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.taken, tenant)
	delete(f.objects, tenant)
	return nil
}

// snapGen is the generation of the tenant's current snapshot record.
func (db *fakeDB) snapGen(id string) uint64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.snaps[id].Gen
}

// restoredCount is how many times the tenant's profile was restored.
func (f *fakeSnapshots) restoredCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restored[id]
}
