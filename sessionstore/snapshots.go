package sessionstore

// The current profile snapshot of each tenant (cluster mode).
//
//	none (Gen 0) ──RecordSnapshot{Gen 1}──► gen 1 ──RecordSnapshot{Gen 2}──► gen 2 …
//
// The object store holds a tenant's snapshots under their generation and
// epoch (internal/snapshot); this record says which one is current. Only
// the holder of the tenant's lease records one, fenced like an outbox
// write, and only the generation after the current one: a node that lost
// its lease during an upload cannot make its snapshot current, and two
// snapshots are ordered by their generation, never by two nodes' clocks.
// The record outlives a deleted tenant, so generations are never reused.

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrSnapshotConflict: RecordSnapshot's generation does not follow the
// current one (another snapshot was recorded meanwhile).
var ErrSnapshotConflict = errors.New("sessionstore: snapshot generation conflict")

// bucketSnapshots holds Snapshot records by tenant id (bbolt).
var bucketSnapshots = []byte("snapshots")

// Snapshot records a tenant's current profile snapshot.
type Snapshot struct {
	TenantID string `json:"tenant_id"`
	// Gen counts the tenant's snapshots from 1; 0: none recorded.
	Gen uint64 `json:"gen"`
	// Epoch is the lease epoch of the node that took it.
	Epoch uint64 `json:"epoch"`
	// TakenAt is when it was taken, by the clock of the node that took it
	// (the one that clicked the messages sent before it).
	TakenAt time.Time `json:"taken_at"`
	// Node is the NodeID that took it.
	Node string `json:"node"`
}

// CurrentSnapshot returns the tenant's current snapshot record; Gen 0 (and
// no error) when none was ever recorded.
func (s *Store) CurrentSnapshot(tenantID string) (Snapshot, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Snapshot{}, err
	}
	if s.pg != nil {
		return s.pg.currentSnapshot(tenantID)
	}
	var sn Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		sn, err = getSnapshotBolt(tx, tenantID)
		return err
	})
	return sn, err
}

// RecordSnapshot makes rec the tenant's current snapshot and sets the
// tenant's SnapshotAt (when the tenant exists), in one transaction fenced
// like an outbox write: this Store must hold the tenant's lease, unexpired,
// at the epoch rec names (else ErrFenced), and rec.Gen must be the current
// generation plus one (else ErrSnapshotConflict). rec.Node is set to this
// node.
func (s *Store) RecordSnapshot(rec Snapshot) error {
	if err := ValidateTenantID(rec.TenantID); err != nil {
		return err
	}
	f, err := s.fenceFor(rec.TenantID)
	if err != nil {
		return err
	}
	if f.node != "" && f.epoch != rec.Epoch {
		return fmt.Errorf("tenant %q: snapshot of epoch %d, the lease is at epoch %d: %w", rec.TenantID, rec.Epoch, f.epoch, ErrFenced)
	}
	rec.Node = s.nodeID
	rec.TakenAt = rec.TakenAt.UTC().Truncate(time.Microsecond) // PostgreSQL's precision, on both backends
	if s.pg != nil {
		return s.pg.recordSnapshot(f, rec)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := f.checkBolt(tx, s.clock()); err != nil {
			return err
		}
		cur, err := getSnapshotBolt(tx, rec.TenantID)
		if err != nil {
			return err
		}
		if err := cur.follows(rec); err != nil {
			return err
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSnapshots).Put([]byte(rec.TenantID), v); err != nil {
			return err
		}
		t, err := getTenant(tx, rec.TenantID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		t.SnapshotAt = rec.TakenAt
		return putTenant(tx, t)
	})
}

// follows checks that rec is the generation after cur.
func (cur Snapshot) follows(rec Snapshot) error {
	if rec.Gen != cur.Gen+1 {
		return fmt.Errorf("tenant %q: snapshot generation %d does not follow the current %d: %w", rec.TenantID, rec.Gen, cur.Gen, ErrSnapshotConflict)
	}
	return nil
}

func getSnapshotBolt(tx *bolt.Tx, tenantID string) (Snapshot, error) {
	v := tx.Bucket(bucketSnapshots).Get([]byte(tenantID))
	if v == nil {
		return Snapshot{TenantID: tenantID}, nil
	}
	var sn Snapshot
	if err := json.Unmarshal(v, &sn); err != nil {
		return Snapshot{}, fmt.Errorf("tenant %q: decode snapshot record: %w", tenantID, err)
	}
	return sn, nil
}
