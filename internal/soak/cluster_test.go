package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestAttribute: the event log's check finds a message recorded with two
// bubbles, a bubble recorded for two messages, and a SENT message whose
// SENT event is missing; a clean log passes.
func TestAttribute(t *testing.T) {
	ev := func(tenant, id string, state wapoolv1.MessageState, wa string) *wapoolv1.Event {
		return &wapoolv1.Event{TenantId: tenant, Kind: &wapoolv1.Event_Message{Message: &wapoolv1.MessageEvent{
			Message: &wapoolv1.Message{TenantId: tenant, Id: id, State: state, WaMessageId: wa}}}}
	}
	const (
		queued  = wapoolv1.MessageState_MESSAGE_STATE_QUEUED
		sending = wapoolv1.MessageState_MESSAGE_STATE_SENDING
		sent    = wapoolv1.MessageState_MESSAGE_STATE_SENT
	)
	producers := []*producer{
		{tenant: "c1", done: []accepted{{id: "m1"}, {id: "m2"}}},
		{tenant: "c2", done: []accepted{{id: "m1"}}}, // ids are per tenant
	}
	final := map[string]*wapoolv1.Message{
		"m1": {State: sent, WaMessageId: "true_x_A"},
		"m2": {State: sent, WaMessageId: "true_x_B"},
	}
	clean := []*wapoolv1.Event{
		ev("c1", "m1", queued, ""), ev("c1", "m1", sending, ""), ev("c1", "m1", sent, "true_x_A"),
		ev("c1", "m2", queued, ""), ev("c1", "m2", sent, "true_x_B"),
		ev("c2", "m1", sent, "true_x_A"), // another tenant's chat: its own bubble
		{TenantId: "c1", Kind: &wapoolv1.Event_SessionState{SessionState: &wapoolv1.SessionStateEvent{}}},
	}
	a := attribute(clean, producers, final)
	if f := a.faults(); len(f) > 0 || a.events != 6 || a.sentEvents != 3 || a.sentTwice != 0 {
		t.Fatalf("clean log: %+v, faults %v", a, f)
	}

	twoIDs := append(clean[:len(clean):len(clean)], ev("c1", "m1", sent, "true_x_C"))
	if a := attribute(twoIDs, producers, final); len(a.twoIDs) != 1 || len(a.shared) != 0 || a.sentTwice != 1 ||
		!strings.Contains(strings.Join(a.faults(), "|"), "two WhatsApp ids") {
		t.Errorf("a message SENT twice with two bubbles: %+v", a)
	}
	shared := append(clean[:len(clean):len(clean)], ev("c1", "m2", sent, "true_x_A"))
	if a := attribute(shared, producers, final); len(a.shared) != 1 || len(a.twoIDs) != 1 {
		t.Errorf("a bubble of two messages: %+v", a)
	}
	if a := attribute(clean[:4], producers, final); len(a.noSent) != 2 || len(a.faults()) != 1 {
		t.Errorf("two SENT events missing: %+v", a)
	}
}

// TestClusterOptions: -cluster sets three nodes and the cluster's
// defaults, flags given win, and the single-node soak keeps its own.
func TestClusterOptions(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil || o.nodes != 0 || o.messages != 210 || o.gap != 400*time.Millisecond || o.kills != 12 {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	o, err = parseOptions([]string{"-cluster"})
	if err != nil || o.nodes != 3 || o.messages != clusterMessages || o.gap != clusterGap || o.minPause != clusterMinPause || o.tenants != 5 {
		t.Fatalf("-cluster: %+v, %v", o, err)
	}
	o, err = parseOptions([]string{"-cluster", "-nodes", "4", "-messages", "50", "-gap", "1s"})
	if err != nil || o.nodes != 4 || o.messages != 50 || o.gap != time.Second {
		t.Fatalf("-cluster with flags: %+v, %v", o, err)
	}
	for _, bad := range [][]string{
		{"-nodes", "2"},
		{"-cluster", "-kills", "12"},
		{"-cluster", "-tenants", "0"},
		{"-cluster", "-min-down", "5s", "-max-down", "1s"},
		{"-cluster", "-tenants", "9", "-messages", "8"},
	} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("parseOptions(%q) accepted", bad)
		}
	}
}

// TestClusterPick: the cluster's endpoint never hands out a node that is
// down, and a retry goes to another node than the one that failed. The
// nodes are stand-ins for wapoold: a script that logs the serving line and
// sleeps.
func TestClusterPick(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "wapoold")
	script := "#!/bin/sh\necho '{\"msg\":\"wapoold serving\",\"listen\":\"127.0.0.1:1\"}'\nexec sleep 60\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &cluster{}
	for _, id := range []string{"n1", "n2", "n3"} {
		logFile, err := os.Create(filepath.Join(dir, id+".log"))
		if err != nil {
			t.Fatal(err)
		}
		defer logFile.Close()
		c.nodes = append(c.nodes, &node{id: id, workDir: dir, d: &daemon{bin: bin, logFile: logFile}})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	if name, cl := c.pick(rng, ""); cl != nil || name != "" {
		t.Fatalf("no node runs, pick = %q, %v", name, cl)
	}
	for _, n := range c.nodes {
		if err := n.start(false); err != nil {
			t.Fatal(err)
		}
		defer n.d.stop(5 * time.Second)
	}
	if err := c.nodes[1].d.kill(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range 200 {
		name, cl := c.pick(rng, "n1")
		if cl == nil {
			t.Fatal("pick handed out no client while two nodes run")
		}
		seen[name]++
	}
	if len(seen) != 1 || seen["n3"] != 200 {
		t.Fatalf("picks avoiding n1 with n2 down: %v, want only n3", seen)
	}
	clear(seen)
	for range 200 {
		name, _ := c.pick(rng, "")
		seen[name]++
	}
	if seen["n2"] > 0 || seen["n1"] == 0 || seen["n3"] == 0 {
		t.Fatalf("picks with n2 down: %v", seen)
	}
	if err := c.nodes[2].d.kill(); err != nil {
		t.Fatal(err)
	}
	if name, cl := c.pick(rng, "n1"); name != "n1" || cl == nil {
		t.Fatalf("the only node running is the one to avoid: pick = %q, %v; want n1 all the same", name, cl)
	}
	// A restart on a fresh data dir keeps the node's id and its old dirs.
	if err := c.nodes[2].start(true); err != nil {
		t.Fatal(err)
	}
	if dirs := c.nodes[2].dataDirs(); len(dirs) != 2 || c.nodes[2].dataDir() != dirs[1] || !strings.HasSuffix(dirs[1], "n3-data2") {
		t.Fatalf("data dirs after a fresh start: %v", dirs)
	}
}

func TestBetween(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		if d := between(rng, time.Second, 2*time.Second); d < time.Second || d > 2*time.Second {
			t.Fatalf("between = %v", d)
		}
	}
	if d := between(rng, time.Second, time.Second); d != time.Second {
		t.Fatalf("between(1s, 1s) = %v", d)
	}
}
