package main

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// In cluster mode status and list show the node, and drain asks the daemon
// to drain a node by name.
func TestClusterNodeAndDrain(t *testing.T) {
	f := newFakeService(t)
	f.sessions["shop1"].Node = "node-b"
	f.sessions["shop1"].SnapshotAt = timestamppb.Now()
	addr := serve(t, f)

	runCtl(t, addr, "status", "shop1").want(t, 0, []string{"node         node-b", "snapshot     "}, nil)
	runCtl(t, addr, "status", "shop2").want(t, 0, nil, nil)
	if r := runCtl(t, addr, "status", "shop2"); strings.Contains(r.stdout, "node") {
		t.Errorf("a session on no node shows a node row:\n%s", r.stdout)
	}

	r := runCtl(t, addr, "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "NODE") ||
		!strings.HasSuffix(strings.TrimSpace(lines[1]), "node-b") || !strings.HasSuffix(strings.TrimSpace(lines[2]), "-") {
		t.Errorf("list in cluster mode:\n%s", r.stdout)
	}

	runCtl(t, addr, "drain", "node-b").want(t, 0, []string{"node node-b is draining"}, nil)
	runCtl(t, addr, "drain", "node-x").want(t, 1, nil, []string{`node "node-x" is not in the cluster`})
	runCtl(t, addr, "drain").want(t, 2, nil, nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(f.drained, []string{"node-b"}) {
		t.Errorf("drained %v, want [node-b]", f.drained)
	}
}
