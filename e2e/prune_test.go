package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestPruneSessionsByTheDaemonsRule: PruneSessions applies the daemon's
// rule (that of --prune-inactive): a tenant active within inactive_for is
// kept, one inactive for longer is listed by a dry run and deleted with its
// profile without one.
func TestPruneSessionsByTheDaemonsRule(t *testing.T) {
	f, d := startStack(t)
	link(t, d, f, "shop", accountA)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prune := func(inactive time.Duration, dry bool) []string {
		t.Helper()
		resp, err := d.client().PruneSessions(ctx, &wapoolv1.PruneSessionsRequest{InactiveFor: durationpb.New(inactive), DryRun: dry})
		if err != nil {
			t.Fatalf("PruneSessions(%v, dry run %v): %v", inactive, dry, err)
		}
		return resp.TenantIds
	}
	if got := prune(time.Hour, false); len(got) != 0 {
		t.Fatalf("pruned a tenant active a moment ago: %v", got)
	}
	if got := prune(time.Nanosecond, true); !slices.Equal(got, []string{"shop"}) {
		t.Fatalf("dry run listed %v, want [shop]", got)
	}
	waitState(t, d, "shop", wapoolv1.SessionState_SESSION_STATE_READY, 10*time.Second) // the dry run deleted nothing
	if got := prune(time.Nanosecond, false); !slices.Equal(got, []string{"shop"}) {
		t.Fatalf("pruned %v, want [shop]", got)
	}
	if _, err := d.client().Status(ctx, &wapoolv1.StatusRequest{TenantId: "shop"}); status.Code(err) != codes.NotFound {
		t.Errorf("Status of a pruned tenant: %v, want NOT_FOUND", err)
	}
	waitNoBrowsers(t, d.dataDir+"/profiles/shop", 10*time.Second)
	if _, err := d.client().PruneSessions(ctx, &wapoolv1.PruneSessionsRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("PruneSessions without inactive_for: %v, want INVALID_ARGUMENT", err)
	}
}
