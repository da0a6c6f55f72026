package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestPruneDeletesWhatTheDryRunListed: inactive tenants with nothing queued
// are listed by --dry-run and deleted, and only they, without it.
func TestPruneDeletesWhatTheDryRunListed(t *testing.T) {
	fake := newFakeService(t)
	fake.sessions["old"] = &wapoolv1.Session{TenantId: "old", State: wapoolv1.SessionState_SESSION_STATE_HIBERNATED,
		Browser: &wapoolv1.Browser{}, LastActive: timestamppb.New(time.Now().Add(-48 * time.Hour))}
	addr := serve(t, fake)
	runCtl(t, addr, "prune").want(t, 2, nil, []string{"--inactive"})
	// shop1 is recent and has a message queued; shop2 never was active; old is 48h old.
	dry := runCtl(t, addr, "prune", "--inactive", "24h", "--dry-run")
	dry.want(t, 0, []string{"would delete old", "would delete shop2", "2 tenant(s)"}, nil)
	if len(fake.sessions) != 3 {
		t.Fatalf("the dry run deleted: %d sessions left", len(fake.sessions))
	}
	runCtl(t, addr, "prune", "--inactive", "24h").want(t, 0, []string{"deleted old", "deleted shop2"}, nil)
	if len(fake.sessions) != 1 || fake.sessions["shop1"] == nil {
		t.Fatalf("left: %v", fake.sessions)
	}
	runCtl(t, addr, "-o", "json", "prune", "--inactive", "1ns", "--dry-run").want(t, 0, []string{`"tenants":null`, `"dryRun":true`}, nil)
}
