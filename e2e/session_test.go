package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	accountA = "15550001111"
	accountB = "15550003333"
	contact1 = "15550002222"
	contact2 = "15550002224"
	notOnWA  = "15550100000"
)

// hardText holds what a naive driver gets wrong: emoji, right-to-left
// script, newlines and a length of 4,096 characters.
func hardText() string {
	head := "Order #1042 shipped 📦😀\nمرحبا بك — שלום\nline three"
	return head + strings.Repeat("x", 4096-len([]rune(head)))
}

// TestLinkSendRestartSend is the main job end to end: link, send, status,
// SIGTERM and restart the daemon, send again with no Link.
func TestLinkSendRestartSend(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStack(t)
	events := link(t, d, f, "shop1", accountA)
	if q := events[0].GetQr(); q == nil || q.Sequence != 1 || len(q.Png) < 8 || !bytes.HasPrefix(q.Png, []byte("\x89PNG")) || q.ValidSeconds == 0 {
		t.Fatalf("first event should be a QR code with a PNG, sequence 1 and a lifetime: %v", events[0])
	}
	last := events[len(events)-1].GetLinked()
	if last.Phone != accountA || last.AlreadyLinked {
		t.Fatalf("linked event = %v, want phone %s", last, accountA)
	}
	s := sessionStatus(t, d, "shop1")
	if s.State != wapoolv1.SessionState_SESSION_STATE_READY || !s.Linked || s.Phone != accountA || !s.Browser.Running || s.Browser.Pid == 0 {
		t.Fatalf("status after link: %v", s)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	text := hardText()
	m, err := send(ctx, d, "shop1", "+"+contact1, text)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != wapoolv1.MessageState_MESSAGE_STATE_SENT || !strings.HasPrefix(m.WaMessageId, "true_"+contact1+"@c.us_") || m.To != contact1 {
		t.Fatalf("send: %v", m)
	}
	if got := received(f, accountA, contact1); len(got) != 1 || got[0] != text {
		t.Fatalf("fakewa received %d messages; want exactly the text sent", len(got))
	}
	// The chat is open now: a second message goes through it.
	if _, err := send(ctx, d, "shop1", contact1, "second one, kept private"); err != nil {
		t.Fatal(err)
	}
	gm, err := d.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop1", MessageId: m.Id})
	if err != nil || gm.Message.WaMessageId != m.WaMessageId || gm.Message.State != wapoolv1.MessageState_MESSAGE_STATE_SENT {
		t.Fatalf("GetMessage: %v, %v", gm, err)
	}

	if code := d.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	d2 := startDaemon(t, d.opts)
	waitState(t, d2, "shop1", wapoolv1.SessionState_SESSION_STATE_READY, 60*time.Second)
	if _, err := send(ctx, d2, "shop1", contact2, "after the restart"); err != nil {
		t.Fatal(err)
	}
	if got := received(f, accountA, contact2); len(got) != 1 || got[0] != "after the restart" {
		t.Fatalf("after restart fakewa got %q", got)
	}
	// Link on a linked tenant answers at once.
	stream, err := d2.client().Link(ctx, &wapoolv1.LinkRequest{TenantId: "shop1"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := stream.Recv()
	if err != nil || ev.GetLinked() == nil || !ev.GetLinked().AlreadyLinked {
		t.Fatalf("Link on a linked tenant: %v, %v", ev, err)
	}

	// The logs of the whole run (debug level) hold no message text and no
	// full phone number.
	for i, log := range []string{d.log(), d2.log()} {
		if !strings.Contains(log, "sent") {
			t.Fatalf("log %d holds no send: is it the log of this run?", i)
		}
		for _, secret := range []string{"Order #1042", "مرحبا", "after the restart", "kept private", accountA, contact1, contact2} {
			if strings.Contains(log, secret) {
				t.Errorf("log %d contains %q", i, secret)
			}
		}
	}
}

// TestTwoTenantsSendInParallel links two tenants to different accounts and
// sends through both at once; each message lands in its own account.
func TestTwoTenantsSendInParallel(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStack(t)
	link(t, d, f, "a", accountA)
	link(t, d, f, "b", accountB)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 3 {
		for _, tenant := range []string{"a", "b"} {
			wg.Go(func() {
				_, err := send(ctx, d, tenant, contact1, fmt.Sprintf("from %s #%d", tenant, i))
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for acc, tenant := range map[string]string{accountA: "a", accountB: "b"} {
		got := received(f, acc, contact1)
		if len(got) != 3 {
			t.Fatalf("account %s got %q, want 3 messages", acc, got)
		}
		for _, text := range got {
			if !strings.HasPrefix(text, "from "+tenant+" ") {
				t.Fatalf("account %s received %q, sent by another tenant", acc, text)
			}
		}
	}
}

func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

// TestErrorsAndOperations checks every bad input's code, the recipient not on
// WhatsApp, a remote logout noticed without any call, the tenant's health,
// ListSessions, Screenshot and Logout.
func TestErrorsAndOperations(t *testing.T) {
	f, d := startStack(t)
	c := d.client()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// A tenant that is created but never linked: start a Link and leave.
	lctx, lcancel := context.WithCancel(ctx)
	stream, err := c.Link(lctx, &wapoolv1.LinkRequest{TenantId: "unlinked"})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := stream.Recv(); err != nil || ev.GetQr() == nil {
		t.Fatalf("first link event: %v, %v", ev, err)
	}
	lcancel()
	link(t, d, f, "shop", accountA)

	long := strings.Repeat("a", 65537)
	cases := []struct {
		name, tenant, to, text string
		code                   codes.Code
		reason                 string
	}{
		{"unknown tenant", "nobody", contact1, "hi", codes.NotFound, ""},
		{"bad tenant id", "../etc", contact1, "hi", codes.InvalidArgument, "INVALID_TENANT_ID"},
		{"bad tenant id (empty)", "", contact1, "hi", codes.InvalidArgument, "INVALID_TENANT_ID"},
		{"bad phone", "shop", "12ab", "hi", codes.InvalidArgument, "INVALID_PHONE"},
		{"impossible phone", "shop", "+1 23", "hi", codes.InvalidArgument, "INVALID_PHONE"},
		{"empty text", "shop", contact1, "  \n ", codes.InvalidArgument, "INVALID_TEXT"},
		{"text too long", "shop", contact1, long, codes.InvalidArgument, "INVALID_TEXT"},
		{"not linked", "unlinked", contact1, "hi", codes.FailedPrecondition, "NOT_LINKED"},
		{"recipient not on WhatsApp", "shop", notOnWA, "hi", codes.FailedPrecondition, "RECIPIENT_NOT_ON_WHATSAPP"},
	}
	for _, tc := range cases {
		_, err := send(ctx, d, tc.tenant, tc.to, tc.text)
		if status.Code(err) != tc.code || reason(err) != tc.reason {
			t.Errorf("%s: got %v (reason %q), want %v (reason %q)", tc.name, err, reason(err), tc.code, tc.reason)
		}
	}
	if got := f.Messages(accountA); len(got) != 0 {
		t.Errorf("bad sends reached fakewa: %v", got)
	}
	for _, id := range []string{"nobody", "a/b"} {
		if _, err := c.Status(ctx, &wapoolv1.StatusRequest{TenantId: id}); status.Code(err) != map[string]codes.Code{"nobody": codes.NotFound, "a/b": codes.InvalidArgument}[id] {
			t.Errorf("Status(%q): %v", id, err)
		}
	}

	list, err := c.ListSessions(ctx, &wapoolv1.ListSessionsRequest{})
	if err != nil || len(list.Sessions) != 2 {
		t.Fatalf("ListSessions: %v, %v", list, err)
	}
	shot, err := c.Screenshot(ctx, &wapoolv1.ScreenshotRequest{TenantId: "shop"})
	if err != nil || !bytes.HasPrefix(shot.Png, []byte("\x89PNG")) {
		t.Fatalf("Screenshot: %v", err)
	}

	hc := healthpb.NewHealthClient(d.conn)
	check := func(svc string) healthpb.HealthCheckResponse_ServingStatus {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("health %q: %v", svc, err)
		}
		return r.Status
	}
	if got := check("tenant/shop"); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("tenant/shop health = %v", got)
	}
	if got := check("tenant/unlinked"); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("tenant/unlinked health = %v", got)
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "tenant/nobody"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown tenant health: %v", err)
	}

	// A remote logout is noticed by the daemon itself within 10 s.
	f.Logout(accountA)
	s := waitState(t, d, "shop", wapoolv1.SessionState_SESSION_STATE_UNLINKED, 10*time.Second)
	if s.Linked || s.LastError == "" {
		t.Fatalf("after remote logout: %v", s)
	}
	if got := check("tenant/shop"); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("tenant/shop health after logout = %v", got)
	}
	if got := check(""); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("daemon health follows a tenant: %v", got)
	}
	if _, err := send(ctx, d, "shop", contact1, "hi"); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("send after logout: %v", err)
	}

	if _, err := c.Logout(ctx, &wapoolv1.LogoutRequest{TenantId: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx, &wapoolv1.StatusRequest{TenantId: "shop"}); status.Code(err) != codes.NotFound {
		t.Fatalf("Status after Logout: %v", err)
	}
	if profiles := browsersUnder(d.dataDir + "/profiles/shop"); len(profiles) != 0 {
		t.Fatalf("Chrome still runs on the deleted profile: %v", profiles)
	}
}
