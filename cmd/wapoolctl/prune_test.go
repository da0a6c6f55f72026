package main

import (
	"testing"
	"time"
)

// TestPruneDeletesWhatTheDryRunListed: prune asks the daemon
// (PruneSessions) with --inactive and --dry-run, and prints the daemon's
// answer; the dry run deletes nothing.
func TestPruneDeletesWhatTheDryRunListed(t *testing.T) {
	fake := newFakeService(t)
	fake.inactive = []string{"shop2"}
	addr := serve(t, fake)
	runCtl(t, addr, "prune").want(t, 2, nil, []string{"--inactive"})
	if len(fake.prunes) != 0 {
		t.Fatalf("prune without --inactive asked the daemon: %v", fake.prunes)
	}
	dry := runCtl(t, addr, "prune", "--inactive", "24h", "--dry-run")
	dry.want(t, 0, []string{"would delete shop2", "1 tenant(s) inactive for more than 24h0m0s"}, nil)
	if len(fake.sessions) != 2 {
		t.Fatalf("the dry run deleted: %d sessions left", len(fake.sessions))
	}
	runCtl(t, addr, "prune", "--inactive", "24h").want(t, 0, []string{"deleted shop2"}, nil)
	if len(fake.sessions) != 1 || fake.sessions["shop1"] == nil {
		t.Fatalf("left: %v", fake.sessions)
	}
	runCtl(t, addr, "-o", "json", "prune", "--inactive", "1ns", "--dry-run").want(t, 0, []string{`"tenants":null`, `"dryRun":true`}, nil)
	want := []struct {
		d   time.Duration
		dry bool
	}{{24 * time.Hour, true}, {24 * time.Hour, false}, {time.Nanosecond, true}}
	if len(fake.prunes) != len(want) {
		t.Fatalf("%d PruneSessions requests, want %d", len(fake.prunes), len(want))
	}
	for i, w := range want {
		if r := fake.prunes[i]; r.GetInactiveFor().AsDuration() != w.d || r.GetDryRun() != w.dry {
			t.Errorf("request %d: inactive_for %v, dry_run %v; want %v, %v", i, r.GetInactiveFor().AsDuration(), r.GetDryRun(), w.d, w.dry)
		}
	}
}
