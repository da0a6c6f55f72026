package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestLinkByPairingCode links a tenant by phone number over gRPC: an
// 8-character code streams, the phone enters it, the stream ends linked and
// the tenant sends. A bad number is refused before any page work.
func TestLinkByPairingCode(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	bad, err := d.client().Link(ctx, &wapoolv1.LinkRequest{TenantId: "p1", PhoneNumber: "+1 23"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad number: %v", err)
	}
	if _, err := d.client().Status(ctx, &wapoolv1.StatusRequest{TenantId: "p1"}); status.Code(err) != codes.NotFound {
		t.Fatalf("a refused Link created the tenant (or touched a page): %v", err)
	}

	stream, err := d.client().Link(ctx, &wapoolv1.LinkRequest{TenantId: "p1", PhoneNumber: "+1 (555) 000-1111"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	pc := ev.GetPairingCode()
	if pc == nil || len(pc.Code) != 8 || strings.Trim(pc.Code, "123456789ABCDEFGHJKLMNPQRSTVWXYZ") != "" || pc.ValidSeconds == 0 {
		t.Fatalf("first event: %v, want an 8-character pairing code", ev)
	}
	if shown := f.PairingCodes(); len(shown) != 1 || shown[0].Code != pc.Code || shown[0].Phone != accountA {
		t.Fatalf("fakewa shows %v", shown)
	}
	if err := f.Pair(pc.Code[:4] + "-" + pc.Code[4:]); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err = stream.Recv()
		if err != nil {
			t.Fatalf("after pairing: %v", err)
		}
		if ev.GetLinked() != nil {
			break
		}
	}
	if ev.GetLinked().Phone != accountA {
		t.Fatalf("linked %v", ev.GetLinked())
	}
	if s := sessionStatus(t, d, "p1"); s.State != wapoolv1.SessionState_SESSION_STATE_READY {
		t.Fatalf("status %v", s.State)
	}
	if _, err := send(ctx, d, "p1", contact1, "linked by code"); err != nil {
		t.Fatal(err)
	}
}
