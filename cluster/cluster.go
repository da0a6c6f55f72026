package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/snapshot"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// DefaultLeaseTTL is --lease-ttl's default.
const DefaultLeaseTTL = 15 * time.Second

// Store is what a node needs of the shared store (*sessionstore.Store
// opened on PostgreSQL with a NodeID).
type Store interface {
	AcquireLease(tenantID string, ttl time.Duration) (sessionstore.Lease, error)
	RenewLeases(ttl time.Duration) ([]sessionstore.Lease, error)
	// RenewLease renews one lease at its epoch, or fails with ErrFenced:
	// the check against the store before an upload or a start.
	RenewLease(tenantID string, ttl time.Duration) (sessionstore.Lease, error)
	ReleaseLease(tenantID string) error
	Lease(tenantID string) (sessionstore.Lease, error)
	RegisterNode(addr string) error
	Heartbeat() (sessionstore.Node, error)
	SetDraining(nodeID string, draining bool) error
	Nodes(maxAge time.Duration) ([]sessionstore.Node, error)
	RemoveNode(nodeID string) error
	ListTenants() ([]sessionstore.Tenant, error)
	GetTenant(id string) (sessionstore.Tenant, error)
	ProfileDir(id string) (string, error)
	// CurrentSnapshot and RecordSnapshot keep which snapshot of a tenant
	// is current, by generation; RecordSnapshot is fenced by the lease.
	CurrentSnapshot(tenantID string) (sessionstore.Snapshot, error)
	RecordSnapshot(rec sessionstore.Snapshot) error
}

// Runner is what a node needs of its supervisor (*supervisor.Supervisor).
type Runner interface {
	Start(ctx context.Context, id string) error
	Release(ctx context.Context, id string) error
	Running() []string
	Status(ctx context.Context, id string) (supervisor.Session, error)
	Poke(id string)
	MessageFinished(m supervisor.Message)
	// Restored is told that the tenant's profile was just restored from a
	// snapshot taken at takenAt, before its runner starts.
	Restored(id string, takenAt time.Time) ([]supervisor.Message, error)
}

// Snapshots is the object store of profile snapshots (*snapshot.Store).
type Snapshots interface {
	Save(ctx context.Context, tenant, dir string, ref snapshot.Ref) (snapshot.Info, error)
	Restore(ctx context.Context, tenant, dir string, ref snapshot.Ref) (snapshot.Info, error)
	Prune(ctx context.Context, tenant string, keep snapshot.Ref) error
	Delete(ctx context.Context, tenant string) error
}

// EventLog is the shared event log as the relay reads it
// (*sessionstore.Store): live, and from a position after a gap.
type EventLog interface {
	SubscribeEvents(buffer int, match func(*sessionstore.Event) bool) *sessionstore.EventSubscription
	EventsAfter(after uint64, limit int, match func(*sessionstore.Event) bool) ([]sessionstore.Event, uint64, error)
	EventHead() (uint64, error)
}

// Config configures a node.
type Config struct {
	NodeID        string // required: --node-id
	AdvertiseAddr string // required: where the other nodes reach this node's gRPC
	Store         Store
	Snapshots     Snapshots
	LeaseTTL      time.Duration // 0: DefaultLeaseTTL
	// SnapshotEvery takes a fresh snapshot of a tenant whose newest one is
	// older than this, at an idle moment (a graceful restart of its
	// browser); 0: only at the moments a snapshot is always taken.
	SnapshotEvery time.Duration
	// SnapshotAfterActivity takes a snapshot at the first idle moment
	// (READY, nothing queued, quiet for activityQuiet) after the tenant was
	// active (a send, a link) since its last snapshot, at most once per
	// this much time: a restore after a failover then rolls the device's
	// Signal state back by little. 0: off (wapoold's default is 5 min).
	SnapshotAfterActivity time.Duration
	// SnapshotAfterLink is how long after a link the first snapshot is
	// taken (the page settles first); 0: 5 s.
	SnapshotAfterLink time.Duration
	// Tick is the period of the placement loop (heartbeat, node set,
	// tenants to take or move); 0: 1 s.
	Tick time.Duration
	// Events is the shared event log (*sessionstore.Store); nil: messages
	// queued or finished through other nodes are noticed only at the next
	// start of the tenant.
	Events EventLog
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
	Log *zap.Logger
}

// Node is this daemon's membership in the cluster. It implements
// supervisor.Placement.
type Node struct {
	cfg Config
	log *zap.Logger
	sup Runner // set by Run

	tasks sync.WaitGroup // goroutines of moves, takes, snapshots and stops; Run waits for them

	mu       sync.Mutex
	held     map[string]hold          // tenant → this node's lease on it
	snapped  map[string]time.Time     // held tenant → when its snapshot was last known current here (this node's clock); zero: none
	busy     map[string]chan struct{} // tenants being moved or snapshot: closed when done
	live     []sessionstore.Node      // the live nodes at the last tick
	linkedAt map[string]time.Time     // tenants linked lately, waiting for their first snapshot
	draining bool
	left     bool // Leave is done: the placement loop stops
}

var _ supervisor.Placement = (*Node)(nil)

// hold is this node's lease on a tenant as it knows it.
type hold struct {
	until time.Time // until when the lease is surely valid (its renewal was asked before)
	epoch uint64    // the lease's epoch: what every upload and start is checked against
}

// New returns a node; Run starts it.
func New(cfg Config) (*Node, error) {
	if cfg.NodeID == "" || cfg.AdvertiseAddr == "" || cfg.Store == nil || cfg.Snapshots == nil {
		return nil, errors.New("cluster: NodeID, AdvertiseAddr, Store and Snapshots are required")
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseTTL < 300*time.Millisecond {
		return nil, fmt.Errorf("cluster: lease TTL %s is too short", cfg.LeaseTTL)
	}
	if cfg.SnapshotAfterLink == 0 {
		cfg.SnapshotAfterLink = 5 * time.Second
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &Node{
		cfg:      cfg,
		log:      cfg.Log.With(zap.String("node", cfg.NodeID)),
		held:     map[string]hold{},
		snapped:  map[string]time.Time{},
		busy:     map[string]chan struct{}{},
		linkedAt: map[string]time.Time{},
	}, nil
}

// NodeID returns --node-id.
func (n *Node) NodeID() string { return n.cfg.NodeID }

// margin is how much of a lease must be left for Holds: a third of the TTL,
// which is also the renewal period, so one late renewal is tolerated and a
// second one is not.
func (n *Node) margin() time.Duration { return n.cfg.LeaseTTL / 3 }

// Holds reports whether this node's lease on the tenant is valid for at
// least another margin (supervisor.Placement).
func (n *Node) Holds(tenantID string) bool {
	n.mu.Lock()
	h, ok := n.held[tenantID]
	n.mu.Unlock()
	return ok && n.cfg.Now().Add(n.margin()).Before(h.until)
}

// Linked schedules the tenant's first snapshot (supervisor.Placement).
func (n *Node) Linked(tenantID string) {
	n.mu.Lock()
	n.linkedAt[tenantID] = n.cfg.Now()
	n.mu.Unlock()
}

// Claim takes the tenant's lease for this node (supervisor.Placement): at
// once when this node holds it already; otherwise only when the hash names
// this node and no other node holds it, restoring the newest snapshot when
// the local profile is older. It waits for a move or snapshot of the
// tenant in progress first, and none begins until done is called.
func (n *Node) Claim(ctx context.Context, tenantID string) (done func(), err error) {
	unlock, ok := n.lockTenant(ctx, tenantID, true)
	if !ok {
		return nil, ctx.Err()
	}
	if err := n.claimLocked(ctx, tenantID); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// claimLocked is Claim once the tenant is locked.
func (n *Node) claimLocked(ctx context.Context, tenantID string) error {
	n.mu.Lock()
	_, held := n.held[tenantID]
	draining := n.draining
	live := n.liveIDs()
	n.mu.Unlock()
	if held {
		return n.acquire(tenantID)
	}
	if draining {
		return fmt.Errorf("node %s is draining: %w", n.cfg.NodeID, supervisor.ErrNotHolder)
	}
	if o := owner(tenantID, live); o != "" && o != n.cfg.NodeID {
		return fmt.Errorf("node %s places the tenant: %w", o, supervisor.ErrNotHolder)
	}
	if err := n.acquire(tenantID); err != nil {
		return err
	}
	if err := n.restore(ctx, tenantID); err != nil {
		n.giveUp(tenantID)
		return err
	}
	return nil
}

// acquire takes or renews the lease and records until when it is valid.
func (n *Node) acquire(tenantID string) error {
	asked := n.cfg.Now()
	l, err := n.cfg.Store.AcquireLease(tenantID, n.cfg.LeaseTTL)
	if err != nil {
		if errors.Is(err, sessionstore.ErrLeaseHeld) {
			return fmt.Errorf("%w: %w", supervisor.ErrNotHolder, err)
		}
		return fmt.Errorf("taking the lease: %w", err)
	}
	n.mu.Lock()
	n.held[tenantID] = hold{until: asked.Add(n.cfg.LeaseTTL), epoch: l.Epoch}
	n.mu.Unlock()
	return nil
}

// confirm checks against the store, right before an upload or a start,
// that this node still holds the tenant's lease at the epoch it took, and
// renews it. A lease lost meanwhile (the node was paused during a long
// close, and another took the tenant) is dropped here: an error wrapping
// supervisor.ErrNotHolder.
func (n *Node) confirm(tenantID string) (sessionstore.Lease, error) {
	n.mu.Lock()
	h, ok := n.held[tenantID]
	n.mu.Unlock()
	if !ok {
		return sessionstore.Lease{}, fmt.Errorf("the lease was given up: %w", supervisor.ErrNotHolder)
	}
	asked := n.cfg.Now()
	l, err := n.cfg.Store.RenewLease(tenantID, n.cfg.LeaseTTL)
	if err == nil && l.Epoch != h.epoch {
		err = fmt.Errorf("lease at epoch %d, taken at %d: %w", l.Epoch, h.epoch, sessionstore.ErrFenced)
	}
	if errors.Is(err, sessionstore.ErrFenced) {
		n.mu.Lock()
		if cur, ok := n.held[tenantID]; ok && cur.epoch == h.epoch {
			delete(n.held, tenantID)
		}
		n.mu.Unlock()
		return sessionstore.Lease{}, fmt.Errorf("%w: %w", supervisor.ErrNotHolder, err)
	}
	if err != nil {
		return sessionstore.Lease{}, fmt.Errorf("checking the lease: %w", err)
	}
	n.mu.Lock()
	if cur, ok := n.held[tenantID]; ok && cur.epoch == l.Epoch {
		n.held[tenantID] = hold{until: asked.Add(n.cfg.LeaseTTL), epoch: l.Epoch}
	}
	n.mu.Unlock()
	return l, nil
}

// giveUp releases a lease this node took but will not use.
func (n *Node) giveUp(tenantID string) {
	n.mu.Lock()
	delete(n.held, tenantID)
	delete(n.snapped, tenantID)
	delete(n.linkedAt, tenantID) // the snapshot after a link goes with the lease
	n.mu.Unlock()
	if err := n.cfg.Store.ReleaseLease(tenantID); err != nil {
		n.log.Warn("releasing a lease", zap.String("tenant", tenantID), zap.Error(err))
	}
}

// liveIDs returns the ids of the live nodes that take tenants (n.mu held).
func (n *Node) liveIDs() []string {
	ids := make([]string, 0, len(n.live))
	for _, x := range n.live {
		if !x.Draining {
			ids = append(ids, x.ID)
		}
	}
	return ids
}

// Route tells the gRPC layer where a call about the tenant is served: ""
// for this node, else the advertised address of the node that holds the
// tenant or, when none does, of the node the hash names.
func (n *Node) Route(tenantID string) (string, error) {
	n.mu.Lock()
	_, held := n.held[tenantID]
	live := append([]sessionstore.Node(nil), n.live...)
	ids := n.liveIDs()
	n.mu.Unlock()
	if held {
		return "", nil
	}
	addrOf := func(id string) (string, bool) {
		for _, x := range live {
			if x.ID == id {
				return x.Addr, true
			}
		}
		return "", false
	}
	l, err := n.cfg.Store.Lease(tenantID)
	switch {
	case err == nil && l.Holder != "" && l.Holder != n.cfg.NodeID:
		if addr, ok := addrOf(l.Holder); ok {
			return addr, nil
		}
		// The holder is not live: its lease expires soon and the tenant
		// goes where the hash names.
	case err != nil && !errors.Is(err, sessionstore.ErrNotFound):
		return "", err
	}
	o := owner(tenantID, ids)
	if o == "" || o == n.cfg.NodeID {
		return "", nil
	}
	addr, _ := addrOf(o)
	return addr, nil
}

// Leads reports whether this node is, of the live nodes, the one the hash
// names for a cluster-wide duty (such as delivering webhooks). When the
// node set changes the duty moves; for a moment two nodes may both lead.
func (n *Node) Leads(duty string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return owner("\x00duty:"+duty, n.liveIDs()) == n.cfg.NodeID
}

// Nodes returns the live nodes seen at the last tick.
func (n *Node) Nodes() []sessionstore.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sessionstore.Node(nil), n.live...)
}

// Drain marks a node as draining in the store (wapoolctl drain); that node
// moves its tenants away at its next tick.
func (n *Node) Drain(nodeID string) error {
	return n.cfg.Store.SetDraining(nodeID, true)
}
