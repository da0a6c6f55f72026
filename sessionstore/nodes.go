package sessionstore

// The nodes of a cluster: each registers its row at start, heartbeats it,
// and reads the live ones for placement. With PostgreSQL times are the
// database's clock; with bbolt (one node, useful to tests) Options.Now.

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Node is one daemon of a cluster as stored.
type Node struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr"` // where other nodes reach its gRPC (--advertise-addr)
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	// Draining: the node is giving its tenants up (set by itself or by
	// another node, e.g. wapoolctl drain); placement skips it.
	Draining bool `json:"draining,omitempty"`
}

// RegisterNode creates or replaces this node's row (Options.NodeID) with
// addr, Started and Heartbeat now and Draining false.
func (s *Store) RegisterNode(addr string) error {
	if s.nodeID == "" {
		return ErrNoNodeID
	}
	if s.pg != nil {
		return s.pg.registerNode(s.nodeID, addr)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		now := s.clock()
		return putNodeBolt(tx, Node{ID: s.nodeID, Addr: addr, Started: now, Heartbeat: now})
	})
}

// Heartbeat sets this node's Heartbeat to now and returns its row, whose
// Draining another node may have set. An error wrapping ErrNotFound when
// the row is gone (RemoveNode): register again.
func (s *Store) Heartbeat() (Node, error) {
	if s.nodeID == "" {
		return Node{}, ErrNoNodeID
	}
	if s.pg != nil {
		return s.pg.heartbeat(s.nodeID)
	}
	var n Node
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := getNodeBolt(tx, s.nodeID)
		if err != nil {
			return err
		}
		n = *old
		n.Heartbeat = s.clock()
		return putNodeBolt(tx, n)
	})
	return n, err
}

// SetDraining sets the Draining flag of a node, this one or another. An
// error wrapping ErrNotFound for an unknown node.
func (s *Store) SetDraining(nodeID string, draining bool) error {
	if s.pg != nil {
		return s.pg.setDraining(nodeID, draining)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		n, err := getNodeBolt(tx, nodeID)
		if err != nil {
			return err
		}
		n.Draining = draining
		return putNodeBolt(tx, *n)
	})
}

// Nodes returns the nodes whose last heartbeat is less than maxAge old
// (all nodes when maxAge <= 0), sorted by ID.
func (s *Store) Nodes(maxAge time.Duration) ([]Node, error) {
	if s.pg != nil {
		return s.pg.nodes(maxAge)
	}
	var out []Node
	err := s.db.View(func(tx *bolt.Tx) error {
		now := s.clock()
		return tx.Bucket(bucketNodes).ForEach(func(k, v []byte) error { // key order: by ID
			var n Node
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("node %q: decode: %w", k, err)
			}
			if maxAge <= 0 || now.Sub(n.Heartbeat) < maxAge {
				out = append(out, n)
			}
			return nil
		})
	})
	return out, err
}

// RemoveNode deletes a node's row (a node leaving for good, or one dead for
// long). Removing an unknown node is not an error.
func (s *Store) RemoveNode(nodeID string) error {
	if s.pg != nil {
		return s.pg.removeNode(nodeID)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNodes).Delete([]byte(nodeID))
	})
}

func getNodeBolt(tx *bolt.Tx, id string) (*Node, error) {
	v := tx.Bucket(bucketNodes).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("node %q: %w", id, ErrNotFound)
	}
	var n Node
	if err := json.Unmarshal(v, &n); err != nil {
		return nil, fmt.Errorf("node %q: decode: %w", id, err)
	}
	return &n, nil
}

func putNodeBolt(tx *bolt.Tx, n Node) error {
	v, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketNodes).Put([]byte(n.ID), v)
}
