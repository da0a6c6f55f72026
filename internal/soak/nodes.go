package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wapool/wapool/internal/freeport"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// node is one wapoold of the cluster soak: its --node-id, the holder of
// its latest process, and the data dirs it used. A restart keeps the node
// id; it may take a fresh data dir (the node's disk was lost: its tenants
// come back from their snapshots) or keep the last one. Only the goroutine
// that starts and stops nodes (the main one, then the chaos loop) calls
// start; mu guards the data dirs for the others.
type node struct {
	id      string
	d       *daemon // its args hold the cluster's flags and --node-id
	workDir string  // the data dirs are made in it
	// paused is set while the chaos loop holds the node frozen (SIGSTOP):
	// clients skip it.
	paused atomic.Bool

	mu   sync.Mutex
	dirs []string // every data dir it used, the latest last
}

// startAttempts bounds the starts of a node whose chosen port was taken
// between the choice and wapoold's listen.
const startAttempts = 3

// start runs the node on a port chosen here (its --listen and
// --advertise-addr), on a fresh data dir when fresh (or at its first
// start), else on its last one.
func (n *node) start(fresh bool) error {
	n.mu.Lock()
	if fresh || len(n.dirs) == 0 {
		n.dirs = append(n.dirs, filepath.Join(n.workDir, fmt.Sprintf("%s-data%d", n.id, len(n.dirs)+1)))
	}
	dir := n.dirs[len(n.dirs)-1]
	n.mu.Unlock()
	var err error
	for range startAttempts {
		var addr string
		if addr, err = freeport.Addr(); err != nil {
			return err
		}
		err = n.d.start("--data-dir", dir, "--listen", addr, "--advertise-addr", addr)
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("node %s: %w", n.id, err)
	}
	return nil
}

// dataDir is the data dir of the latest start.
func (n *node) dataDir() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dirs[len(n.dirs)-1]
}

// dataDirs lists every data dir the node used.
func (n *node) dataDirs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.dirs)
}

// running reports whether the node's latest process runs (frozen or not).
func (n *node) running() bool {
	p := n.d.latest()
	return p != nil && p.Running()
}

// serving reports whether the node runs and is not frozen.
func (n *node) serving() bool { return n.running() && !n.paused.Load() }

// cluster is the soak's nodes. The slice is set before the run and only
// read; each node guards its own state.
type cluster struct {
	nodes []*node
}

var _ endpoint = (*cluster)(nil)

// pick is the cluster's endpoint: a random serving node, another than
// avoid when one serves; as a client behind a load balancer that skips the
// endpoints that are down, and retries elsewhere.
func (c *cluster) pick(rng *rand.Rand, avoid string) (string, wapoolv1.SessionServiceClient) {
	var up, other []*node
	for _, n := range c.nodes {
		if n.serving() {
			up = append(up, n)
			if n.id != avoid {
				other = append(other, n)
			}
		}
	}
	if len(other) > 0 {
		up = other
	}
	if len(up) == 0 {
		return "", nil
	}
	n := up[rng.IntN(len(up))]
	return n.id, n.d.client()
}

// running lists the nodes whose process runs, frozen or not.
func (c *cluster) running() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.running() {
			out = append(out, n)
		}
	}
	return out
}

// serving lists the nodes that run and are not frozen.
func (c *cluster) serving() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.serving() {
			out = append(out, n)
		}
	}
	return out
}
