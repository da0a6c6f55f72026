package sessionstore

// Tenant leases and epoch fencing (cluster mode, Options.NodeID set).
//
//	(none) ──AcquireLease──► held by N, epoch e ──RenewLeases──► held by N, epoch e
//	                            │      │
//	                            │      └─ ttl passes unrenewed ──► expired ──AcquireLease (any node)──► epoch e+1
//	                            └─ReleaseLease──► released (holder "", epoch e) ──AcquireLease──► epoch e+1
//
// A Store remembers, per tenant, the epoch of the lease it took: its fence.
// The supervisor's outbox writes (UpdateMessage, FailPending,
// AppendSessionEvent) carry it, and the backend refuses them, inside the
// write's own transaction, unless the lease row still names this node with
// that epoch and has not expired. A node that lost its lease (paused,
// partitioned, too slow to renew) can therefore never change the outbox,
// even if it does not know yet that it lost it.
//
// Expiry is judged by the database's clock with PostgreSQL, so the nodes'
// clocks do not matter; bbolt (one node) uses Options.Now.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// ErrFenced: a fenced write (UpdateMessage, FailPending,
	// AppendSessionEvent with Options.NodeID set) found that this node does
	// not hold the tenant's lease at its fenced epoch, or holds none, or it
	// expired. Nothing was written.
	ErrFenced = errors.New("sessionstore: lease lost, write refused")
	// ErrLeaseHeld: AcquireLease found the tenant's lease held, unexpired, by
	// another node (named in the error).
	ErrLeaseHeld = errors.New("sessionstore: lease held by another node")
	// ErrNoNodeID: a lease or node method on a Store opened without
	// Options.NodeID.
	ErrNoNodeID = errors.New("sessionstore: Options.NodeID is not set (single node)")
)

// Lease is a tenant's lease as stored.
type Lease struct {
	TenantID string `json:"tenant_id"`
	// Holder is the NodeID holding it; "" once released.
	Holder string `json:"holder"`
	// Epoch counts the lease's holders: it grows by one each time the
	// lease is taken afresh (never held, released or expired), from 1.
	Epoch uint64 `json:"epoch"`
	// Expires is when the lease ends unless renewed, by the database's clock.
	Expires time.Time `json:"expires"`
}

// fence is what a fenced write checks inside its transaction. The zero
// fence (a single node) checks nothing.
type fence struct {
	tenantID string
	node     string // "" checks nothing
	epoch    uint64
}

// fenceFor returns the fence of this Store's writes to the tenant: none on a
// single node, else the remembered epoch; with NodeID set and no epoch
// remembered, an error wrapping ErrFenced.
func (s *Store) fenceFor(tenantID string) (fence, error) {
	if s.nodeID == "" {
		return fence{tenantID: tenantID}, nil
	}
	epoch, ok := s.Fence(tenantID)
	if !ok {
		return fence{}, fmt.Errorf("tenant %q: node %q holds no lease on it: %w", tenantID, s.nodeID, ErrFenced)
	}
	return fence{tenantID: tenantID, node: s.nodeID, epoch: epoch}, nil
}

// refused describes a fence the stored lease (nil: none) does not honour.
func (f fence) refused(l *Lease, expired bool) error {
	switch {
	case l == nil:
		return fmt.Errorf("tenant %q: no lease stored (node %q, epoch %d): %w", f.tenantID, f.node, f.epoch, ErrFenced)
	case l.Holder != f.node || l.Epoch != f.epoch:
		return fmt.Errorf("tenant %q: lease is held by %q at epoch %d, not by node %q at epoch %d: %w",
			f.tenantID, l.Holder, l.Epoch, f.node, f.epoch, ErrFenced)
	case expired:
		return fmt.Errorf("tenant %q: lease of node %q at epoch %d expired at %s: %w",
			f.tenantID, f.node, f.epoch, l.Expires.Format(time.RFC3339Nano), ErrFenced)
	}
	return nil
}

// checkBolt checks the fence against the leases bucket at now.
func (f fence) checkBolt(tx *bolt.Tx, now time.Time) error {
	if f.node == "" {
		return nil
	}
	l, err := getLeaseBolt(tx, f.tenantID)
	if err != nil {
		return err
	}
	if l == nil {
		return f.refused(nil, false)
	}
	return f.refused(l, !now.Before(l.Expires))
}

// AcquireLease takes the tenant's lease for Options.NodeID for ttl. When the
// lease was never taken, is released (Holder "") or expired, the epoch
// becomes the old one plus one (1 for a first lease); when this node holds
// it unexpired, it is renewed with the same epoch. Held unexpired by another
// node: an error wrapping ErrLeaseHeld that names the holder. On success
// the epoch becomes this Store's fence for the tenant (Fence); when the
// lease is held elsewhere, the fence is dropped.
func (s *Store) AcquireLease(tenantID string, ttl time.Duration) (Lease, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Lease{}, err
	}
	if err := s.leaseArgs(ttl); err != nil {
		return Lease{}, err
	}
	var l Lease
	var err error
	if s.pg != nil {
		l, err = s.pg.acquireLease(tenantID, s.nodeID, ttl)
	} else {
		l, err = s.acquireLeaseBolt(tenantID, ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.fences[tenantID] = l.Epoch
	case errors.Is(err, ErrLeaseHeld):
		delete(s.fences, tenantID)
	}
	return l, err
}

// RenewLeases extends by ttl, in one statement, every lease this Store holds
// by its fences whose holder and epoch still match and which has not
// expired, and returns the renewed ones sorted by tenant. A fence whose
// lease was not renewed is dropped: this node lost that tenant.
func (s *Store) RenewLeases(ttl time.Duration) ([]Lease, error) {
	if err := s.leaseArgs(ttl); err != nil {
		return nil, err
	}
	s.mu.Lock()
	fences := maps.Clone(s.fences)
	s.mu.Unlock()
	if len(fences) == 0 {
		return nil, nil
	}
	var renewed []Lease
	var err error
	if s.pg != nil {
		renewed, err = s.pg.renewLeases(s.nodeID, fences, ttl)
	} else {
		renewed, err = s.renewLeasesBolt(fences, ttl)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(renewed, func(a, b Lease) int { return cmp.Compare(a.TenantID, b.TenantID) })
	kept := make(map[string]bool, len(renewed))
	for _, l := range renewed {
		kept[l.TenantID] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, epoch := range fences {
		// A fence changed meanwhile (a concurrent AcquireLease) stays.
		if !kept[id] && s.fences[id] == epoch {
			delete(s.fences, id)
		}
	}
	return renewed, nil
}

// RenewLease extends by ttl the tenant's lease this Store holds at its
// fenced epoch, unexpired, and returns it: a check, against the store, that
// the lease is still this node's at the same epoch before an action that
// needs it (a snapshot upload, a restart). Not held so (no fence, another
// holder or epoch, expired): an error wrapping ErrFenced, and the fence is
// dropped.
func (s *Store) RenewLease(tenantID string, ttl time.Duration) (Lease, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Lease{}, err
	}
	if err := s.leaseArgs(ttl); err != nil {
		return Lease{}, err
	}
	f, err := s.fenceFor(tenantID)
	if err != nil {
		return Lease{}, err
	}
	fences := map[string]uint64{tenantID: f.epoch}
	var renewed []Lease
	if s.pg != nil {
		renewed, err = s.pg.renewLeases(s.nodeID, fences, ttl)
	} else {
		renewed, err = s.renewLeasesBolt(fences, ttl)
	}
	if err != nil {
		return Lease{}, err
	}
	if len(renewed) == 1 {
		return renewed[0], nil
	}
	s.mu.Lock()
	if s.fences[tenantID] == f.epoch {
		delete(s.fences, tenantID)
	}
	s.mu.Unlock()
	return Lease{}, fmt.Errorf("tenant %q: node %q no longer holds the lease at epoch %d: %w", tenantID, s.nodeID, f.epoch, ErrFenced)
}

// ReleaseLease gives the tenant's lease up: when this node holds it at the
// fenced epoch, the holder becomes "" (the epoch stays, the next holder
// gets epoch+1) and it expires now. The fence is dropped in any case. No
// fence, or a lease held by someone else: nothing changes, no error.
func (s *Store) ReleaseLease(tenantID string) error {
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if s.nodeID == "" {
		return ErrNoNodeID
	}
	s.mu.Lock()
	epoch, ok := s.fences[tenantID]
	delete(s.fences, tenantID)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	f := fence{tenantID: tenantID, node: s.nodeID, epoch: epoch}
	if s.pg != nil {
		return s.pg.releaseLease(f)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		l, err := getLeaseBolt(tx, tenantID)
		if err != nil || l == nil || l.Holder != f.node || l.Epoch != f.epoch {
			return err
		}
		l.Holder, l.Expires = "", s.clock()
		return putLeaseBolt(tx, *l)
	})
}

// Lease returns the tenant's stored lease, held, released or expired; an
// error wrapping ErrNotFound when it was never leased.
func (s *Store) Lease(tenantID string) (Lease, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Lease{}, err
	}
	var l *Lease
	var err error
	if s.pg != nil {
		l, err = s.pg.lease(tenantID)
	} else {
		err = s.db.View(func(tx *bolt.Tx) error {
			l, err = getLeaseBolt(tx, tenantID)
			return err
		})
	}
	if err != nil {
		return Lease{}, err
	}
	if l == nil {
		return Lease{}, fmt.Errorf("tenant %q: lease: %w", tenantID, ErrNotFound)
	}
	return *l, nil
}

// Leases returns every stored lease, sorted by tenant.
func (s *Store) Leases() ([]Lease, error) {
	if s.pg != nil {
		return s.pg.leases()
	}
	var out []Lease
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLeases).ForEach(func(k, v []byte) error { // key order
			var l Lease
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("tenant %q: decode lease: %w", k, err)
			}
			out = append(out, l)
			return nil
		})
	})
	return out, err
}

// Fence returns the epoch this Store remembers for the tenant's lease (set
// by AcquireLease, dropped by ReleaseLease and by a RenewLeases that could
// not renew it); ok is false when there is none.
func (s *Store) Fence(tenantID string) (epoch uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	epoch, ok = s.fences[tenantID]
	return epoch, ok
}

// leaseArgs checks what every lease call needs: a NodeID and a positive ttl.
func (s *Store) leaseArgs(ttl time.Duration) error {
	if s.nodeID == "" {
		return ErrNoNodeID
	}
	if ttl <= 0 {
		return fmt.Errorf("sessionstore: lease ttl %v is not positive", ttl)
	}
	return nil
}

func (s *Store) acquireLeaseBolt(tenantID string, ttl time.Duration) (Lease, error) {
	var l Lease
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.clock()
		old, err := getLeaseBolt(tx, tenantID)
		if err != nil {
			return err
		}
		live := old != nil && old.Holder != "" && now.Before(old.Expires)
		switch {
		case live && old.Holder != s.nodeID:
			return fmt.Errorf("tenant %q: held by node %q until %s: %w", tenantID, old.Holder, old.Expires.Format(time.RFC3339Nano), ErrLeaseHeld)
		case live:
			l = *old
		case old != nil:
			l = Lease{TenantID: tenantID, Epoch: old.Epoch + 1}
		default:
			l = Lease{TenantID: tenantID, Epoch: 1}
		}
		l.Holder, l.Expires = s.nodeID, now.Add(ttl)
		return putLeaseBolt(tx, l)
	})
	return l, err
}

func (s *Store) renewLeasesBolt(fences map[string]uint64, ttl time.Duration) ([]Lease, error) {
	var out []Lease
	err := s.db.Update(func(tx *bolt.Tx) error {
		out = nil
		now := s.clock()
		for id, epoch := range fences {
			l, err := getLeaseBolt(tx, id)
			if err != nil {
				return err
			}
			if l == nil || l.Holder != s.nodeID || l.Epoch != epoch || !now.Before(l.Expires) {
				continue
			}
			l.Expires = now.Add(ttl)
			if err := putLeaseBolt(tx, *l); err != nil {
				return err
			}
			out = append(out, *l)
		}
		return nil
	})
	return out, err
}

// getLeaseBolt returns the tenant's lease, nil when none is stored.
func getLeaseBolt(tx *bolt.Tx, tenantID string) (*Lease, error) {
	v := tx.Bucket(bucketLeases).Get([]byte(tenantID))
	if v == nil {
		return nil, nil
	}
	var l Lease
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("tenant %q: decode lease: %w", tenantID, err)
	}
	return &l, nil
}

func putLeaseBolt(tx *bolt.Tx, l Lease) error {
	v, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLeases).Put([]byte(l.TenantID), v)
}
