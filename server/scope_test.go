package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/wapool/wapool/internal/authlimit"
	"github.com/wapool/wapool/internal/grpctest"
	"github.com/wapool/wapool/internal/testclock"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// Tokens of the scope tests.
const (
	adminToken = "admin-token-0123456789abcdef-0123"
	opsAToken  = "ops-a-token-0123456789abcdef-0123"
	sendAToken = "send-a-token-0123456789abcdef-012"
)

// scopedTokens: a token as before scopes (admin on every tenant), one with
// ops on a-*, one with send on a-1 and c-*.
const scopedTokens = "# admin, as before scopes\n" + adminToken + "  # a comment\n" +
	opsAToken + " tenants=a-* role=ops\n" +
	sendAToken + "   role=send tenants=a-1,c-*\n"

func TestParseScope(t *testing.T) {
	for line, want := range map[string]Scope{
		"":                             AdminScope,
		"role=send":                    {Role: RoleSend},
		"tenants=a-*":                  {Role: RoleAdmin, Tenants: []string{"a-*"}},
		"tenants=a-*,b,c_9* role=ops":  {Role: RoleOps, Tenants: []string{"a-*", "b", "c_9*"}},
		"role=ops tenants=*":           {Role: RoleOps},
		"tenants=a,*":                  {Role: RoleAdmin},
		"role=node":                    {Role: RoleNode},
		"tenants=x role=admin":         {Role: RoleAdmin, Tenants: []string{"x"}},
		"tenants=0123456789abcdef-xy*": {Role: RoleAdmin, Tenants: []string{"0123456789abcdef-xy*"}},
	} {
		got, err := ParseScope(strings.Fields(line))
		if err != nil || got.Role != want.Role || !slices.Equal(got.Tenants, want.Tenants) || (got.Tenants == nil) != (want.Tenants == nil) {
			t.Errorf("ParseScope(%q) = %+v, %v; want %+v", line, got, err, want)
		}
		again, err := ParseScope(strings.Fields(got.String()))
		if err != nil || again.String() != got.String() {
			t.Errorf("ParseScope(%q.String() = %q) = %v, %v", line, got.String(), again, err)
		}
	}
	for _, line := range []string{"role=root", "role=", "tenants=", "tenants=a*b", "tenants=-a", "tenants=a,,b", "tenants=a/b",
		"tenant=a", "role=send role=ops", "tenants=a tenants=b", "x", "=a"} {
		if s, err := ParseScope(strings.Fields(line)); !errors.Is(err, errScope) {
			t.Errorf("ParseScope(%q) = %+v, %v; want errScope", line, s, err)
		}
	}
	s := Scope{Role: RoleOps, Tenants: []string{"a-*", "b"}}
	for id, want := range map[string]bool{"a-1": true, "a-": true, "a": false, "b": true, "b-1": false, "ba-1": false} {
		if s.Tenant(id) != want {
			t.Errorf("%v.Tenant(%q) = %v", s, id, !want)
		}
	}
}

// scopedStack is the event stack's Server over a running supervisor holding
// tenants a-1, a-2, b-1 (unlinked: no browser starts), served with a's
// options and the health service.
func scopedStack(t *testing.T, a *Auth) (*eventStack, *grpc.ClientConn) {
	t.Helper()
	st := newEventStack(t)
	for _, id := range []string{"a-1", "a-2", "b-1"} {
		if err := st.store.PutTenant(sessionstore.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- st.sup.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	opts, err := a.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	wapoolv1.RegisterSessionServiceServer(gs, st.srv)
	hs := NewHealth(st.sup)
	for _, id := range []string{"a-1", "a-2", "b-1"} {
		hs.OnChange(supervisor.Session{TenantID: id, State: supervisor.StateUnlinked})
	}
	healthgrpc.RegisterHealthServer(gs, hs)
	addr := grpctest.Serve(t, gs)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return st, conn
}

// as returns a context whose calls carry token, bounded by the test.
func as(t *testing.T, token string) context.Context {
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantDenied checks that err is PERMISSION_DENIED with reason.
func wantDenied(t *testing.T, what string, err error, reason string) {
	t.Helper()
	code, info := errorInfo(t, err)
	if code != codes.PermissionDenied || info.GetReason() != reason {
		t.Errorf("%s: %v, want PERMISSION_DENIED %s", what, err, reason)
	}
}

func sessionIDs(resp *wapoolv1.ListSessionsResponse) []string {
	var ids []string
	for _, s := range resp.GetSessions() {
		ids = append(ids, s.GetTenantId())
	}
	slices.Sort(ids)
	return ids
}

// TestScopedTokens: a token scoped to a-* gets PERMISSION_DENIED on b-1,
// whether b-1 exists or not, lists only a-*, and sees no b-* event; its
// role bounds what it may do; a token with no scope does everything, as
// before.
func TestScopedTokens(t *testing.T) {
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: writeAuthFile(t, "tokens", scopedTokens)})
	if err != nil {
		t.Fatal(err)
	}
	st, conn := scopedStack(t, a)
	c := wapoolv1.NewSessionServiceClient(conn)
	hc := healthgrpc.NewHealthClient(conn)
	opsA, sendA, admin := as(t, opsAToken), as(t, sendAToken), as(t, adminToken)

	// Outside the scope: denied, an existing tenant and a missing one alike.
	for _, id := range []string{"b-1", "b-404"} {
		_, err := c.Status(opsA, &wapoolv1.StatusRequest{TenantId: id})
		wantDenied(t, "ops a-*: Status "+id, err, reasonTenantOutOfScope)
		_, err = c.Send(opsA, &wapoolv1.SendRequest{TenantId: id, To: "+15550001111", Text: "hi", IdempotencyKey: "k"})
		wantDenied(t, "ops a-*: Send "+id, err, reasonTenantOutOfScope)
		_, err = c.GetMessage(opsA, &wapoolv1.GetMessageRequest{TenantId: id, MessageId: "m"})
		wantDenied(t, "ops a-*: GetMessage "+id, err, reasonTenantOutOfScope)
		_, err = c.Logout(opsA, &wapoolv1.LogoutRequest{TenantId: id})
		wantDenied(t, "ops a-*: Logout "+id, err, reasonTenantOutOfScope)
		_, err = c.Screenshot(opsA, &wapoolv1.ScreenshotRequest{TenantId: id})
		wantDenied(t, "ops a-*: Screenshot "+id, err, reasonTenantOutOfScope)
		_, err = c.Diagnose(opsA, &wapoolv1.DiagnoseRequest{TenantId: id})
		wantDenied(t, "ops a-*: Diagnose "+id, err, reasonTenantOutOfScope)
		link, err := c.Link(opsA, &wapoolv1.LinkRequest{TenantId: id})
		if err == nil {
			_, err = link.Recv()
		}
		wantDenied(t, "ops a-*: Link "+id, err, reasonTenantOutOfScope)
		_, err = hc.Check(opsA, &healthgrpc.HealthCheckRequest{Service: TenantHealthPrefix + id})
		wantDenied(t, "ops a-*: health of "+id, err, reasonTenantOutOfScope)
	}
	// Inside it: served (and an id that is not one is the handler's
	// INVALID_ARGUMENT, whatever the scope).
	if resp, err := c.Status(opsA, &wapoolv1.StatusRequest{TenantId: "a-1"}); err != nil || resp.GetSession().GetTenantId() != "a-1" {
		t.Errorf("ops a-*: Status a-1 = %v, %v", resp, err)
	}
	if _, err := c.Status(opsA, &wapoolv1.StatusRequest{TenantId: "../b-1"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("ops a-*: Status of a bad id: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := hc.Check(opsA, &healthgrpc.HealthCheckRequest{Service: TenantHealthPrefix + "a-1"}); err != nil {
		t.Errorf("ops a-*: health of a-1: %v", err)
	}
	if _, err := hc.Check(opsA, &healthgrpc.HealthCheckRequest{}); err != nil {
		t.Errorf("ops a-*: the daemon's health: %v", err)
	}

	// Lists leave the others out.
	for _, tc := range []struct {
		ctx  context.Context
		name string
		want []string
	}{{opsA, "ops a-*", []string{"a-1", "a-2"}}, {sendA, "send a-1,c-*", []string{"a-1"}}, {admin, "admin", []string{"a-1", "a-2", "b-1"}}} {
		resp, err := c.ListSessions(tc.ctx, &wapoolv1.ListSessionsRequest{})
		if err != nil || !slices.Equal(sessionIDs(resp), tc.want) {
			t.Errorf("%s: ListSessions = %v, %v; want %v", tc.name, sessionIDs(resp), err, tc.want)
		}
		hl, err := hc.List(tc.ctx, &healthgrpc.HealthListRequest{})
		var tenants []string
		for svc := range hl.GetStatuses() {
			if id, ok := strings.CutPrefix(svc, TenantHealthPrefix); ok {
				tenants = append(tenants, id)
			}
		}
		slices.Sort(tenants)
		if err != nil || !slices.Equal(tenants, tc.want) {
			t.Errorf("%s: health List tenants = %v, %v; want %v", tc.name, tenants, err, tc.want)
		}
	}

	// Events: no b-* event reaches the a-* token; the admin sees them all.
	scoped, _ := watch(t, opsA, c, &wapoolv1.WatchEventsRequest{})
	all, _ := watch(t, admin, c, &wapoolv1.WatchEventsRequest{})
	for _, id := range []string{"b-1", "b-2", "a-1", "b-1", "a-2"} {
		st.session(t, id, "READY")
	}
	var got []string
	for _, ev := range recvN(t, scoped, 2) {
		got = append(got, ev.GetTenantId())
	}
	if !slices.Equal(got, []string{"a-1", "a-2"}) {
		t.Errorf("ops a-*: events of %v, want a-1, a-2", got)
	}
	got = nil
	for _, ev := range recvN(t, all, 5) {
		got = append(got, ev.GetTenantId())
	}
	if !slices.Equal(got, []string{"b-1", "b-2", "a-1", "b-1", "a-2"}) {
		t.Errorf("admin: events of %v", got)
	}
	// An explicit filter outside the scope is refused.
	bad, err := c.WatchEvents(opsA, &wapoolv1.WatchEventsRequest{TenantIds: []string{"a-1", "b-1"}})
	if err == nil {
		_, err = bad.Recv()
	}
	wantDenied(t, "ops a-*: WatchEvents of b-1", err, reasonTenantOutOfScope)

	// Roles.
	_, err = c.Logout(sendA, &wapoolv1.LogoutRequest{TenantId: "a-1"})
	wantDenied(t, "send: Logout", err, reasonRole)
	ws, err := c.WatchEvents(sendA, &wapoolv1.WatchEventsRequest{})
	if err == nil {
		_, err = ws.Recv()
	}
	wantDenied(t, "send: WatchEvents", err, reasonRole)
	prune := &wapoolv1.PruneSessionsRequest{InactiveFor: durationpb.New(time.Hour), DryRun: true}
	_, err = c.PruneSessions(opsA, prune)
	wantDenied(t, "ops: PruneSessions", err, reasonRole)
	_, err = c.DrainNode(opsA, &wapoolv1.DrainNodeRequest{NodeId: "n"})
	wantDenied(t, "ops: DrainNode", err, reasonRole)
	_, err = c.ListDeadEvents(sendA, &wapoolv1.ListDeadEventsRequest{})
	wantDenied(t, "send: ListDeadEvents", err, reasonRole)
	if _, err := c.PruneSessions(admin, prune); err != nil {
		t.Errorf("admin: PruneSessions: %v", err)
	}
}

// TestScopedAdminNeedsEveryTenantForNodeWideCalls: admin on some tenants
// may not prune or drain every tenant.
func TestScopedAdminNeedsEveryTenantForNodeWideCalls(t *testing.T) {
	const tok = "admin-a-token-0123456789abcdef-01"
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: writeAuthFile(t, "tokens", tok+" tenants=a-*\n")})
	if err != nil {
		t.Fatal(err)
	}
	_, conn := scopedStack(t, a)
	c := wapoolv1.NewSessionServiceClient(conn)
	_, err = c.PruneSessions(as(t, tok), &wapoolv1.PruneSessionsRequest{InactiveFor: durationpb.New(time.Hour), DryRun: true})
	wantDenied(t, "admin a-*: PruneSessions", err, reasonEveryTenant)
	if _, err := c.Status(as(t, tok), &wapoolv1.StatusRequest{TenantId: "a-2"}); err != nil {
		t.Errorf("admin a-*: Status a-2: %v", err)
	}
}

// TestShortTokenRefused: a token shorter than MinTokenLen refuses the file
// at start, and at a reload, which keeps the tokens in force.
func TestShortTokenRefused(t *testing.T) {
	short := strings.Repeat("s", MinTokenLen-1)
	file := writeAuthFile(t, "tokens", adminToken+"\n"+short+" role=send\n")
	_, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: file})
	if !errors.Is(err, ErrShortToken) || strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("NewAuth with a short token: %v, want ErrShortToken naming line 2, not the token", err)
	}
	if err := os.WriteFile(file, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); !errors.Is(err, ErrShortToken) {
		t.Errorf("Reload with a short token: %v, want ErrShortToken", err)
	}
	if !a.ValidToken(adminToken) || a.ValidToken(short) {
		t.Error("a refused reload changed the tokens in force")
	}
}

// TestWrongTokensAreThrottled: the 5th attempt after 4 wrong tokens from
// one address waits, unchecked, even with a right token; the failures are
// counted; once the delay has passed a right token is served and starts the
// address over.
func TestWrongTokensAreThrottled(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewAuthMetrics(prometheus.NewRegistry())
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: writeAuthFile(t, "tokens", scopedTokens),
		Limiter: authlimit.New(authlimit.Config{Now: clock.Now}), Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	_, conn := scopedStack(t, a)
	c := wapoolv1.NewSessionServiceClient(conn)
	status1 := func(token string) error {
		_, err := c.Status(as(t, token), &wapoolv1.StatusRequest{TenantId: "a-1"})
		return err
	}
	wrong := strings.Repeat("w", MinTokenLen)
	for i := 1; i <= 4; i++ {
		err := status1(wrong)
		if _, info := errorInfo(t, err); status.Code(err) != codes.Unauthenticated || info != nil {
			t.Fatalf("wrong token %d: %v, want UNAUTHENTICATED", i, err)
		}
	}
	err = status1(adminToken)
	code, info := errorInfo(t, err)
	if code != codes.Unauthenticated || info.GetReason() != reasonThrottled {
		t.Fatalf("5th attempt: %v, want UNAUTHENTICATED %s", err, reasonThrottled)
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry.GetRetryDelay().AsDuration() != time.Second {
		t.Errorf("5th attempt: retry delay %v, want 1s", retry.GetRetryDelay().AsDuration())
	}
	if f, th := testutil.ToFloat64(m.failures.WithLabelValues(SurfaceGRPC)), testutil.ToFloat64(m.throttled.WithLabelValues(SurfaceGRPC)); f != 4 || th != 1 {
		t.Errorf("wapool_auth_failures_total %v, wapool_auth_throttled_total %v; want 4, 1", f, th)
	}
	// A call with no token at all is no guess: refused, not counted.
	if _, err := c.Status(t.Context(), &wapoolv1.StatusRequest{TenantId: "a-1"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v", err)
	}
	clock.Advance(time.Second)
	if err := status1(adminToken); err != nil {
		t.Fatalf("right token once the delay passed: %v", err)
	}
	if err := status1(wrong); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token after a right one: %v", err)
	}
	if err := status1(adminToken); err != nil {
		t.Errorf("right token after one wrong one: %v (a success starts the address over)", err)
	}
}

// TestTokensOffLoopbackNeedTLS: tokens on a non-loopback address need TLS
// (--tls-cert and --tls-key; no client CA needed) unless --insecure, and
// with it a client trusting the server's CA calls with its token.
func TestTokensOffLoopbackNeedTLS(t *testing.T) {
	tokens := writeAuthFile(t, "tokens", scopedTokens)
	if _, err := NewAuth(AuthConfig{Listen: "0.0.0.0:7440", TokensFile: tokens}); !errors.Is(err, ErrPlaintextTokens) {
		t.Errorf("tokens off loopback without TLS: %v, want ErrPlaintextTokens", err)
	}
	if _, err := NewAuth(AuthConfig{Listen: "0.0.0.0:7440", TokensFile: tokens, Insecure: true}); err != nil {
		t.Errorf("tokens off loopback without TLS, --insecure: %v", err)
	}
	pki := newTestPKI(t)
	if _, err := NewAuth(AuthConfig{Listen: "0.0.0.0:7440", TLSCert: pki.serverCert, TLSKey: pki.serverKey}); !errors.Is(err, ErrInsecureListen) {
		t.Errorf("TLS without tokens or client CA off loopback: %v, want ErrInsecureListen", err)
	}
	a, err := NewAuth(AuthConfig{Listen: "0.0.0.0:7440", TokensFile: tokens, TLSCert: pki.serverCert, TLSKey: pki.serverKey})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Mode(); got != "tls+tokens" {
		t.Errorf("Mode() = %q", got)
	}
	addr := startAuthServer(t, a)
	conn := dialAuth(t, addr, pki.clientCreds(t, nil), "Bearer "+adminToken)
	if err := authCheckTenant(t, conn); err != nil {
		t.Errorf("TLS without a client certificate, with a token: %v", err)
	}
	if err := authCheckTenant(t, dialAuth(t, addr, pki.clientCreds(t, nil), "")); status.Code(err) != codes.Unauthenticated {
		t.Errorf("TLS without a token: %v, want UNAUTHENTICATED", err)
	}
	if err := authCheckTenant(t, dialAuth(t, addr, insecure.NewCredentials(), "Bearer "+adminToken)); err == nil {
		t.Error("plaintext to a TLS listener succeeded")
	}
}

// callerScopeRecorder answers Status with the caller scope header its
// handler saw (what the forwarder would relay).
type callerScopeRecorder struct {
	wapoolv1.UnimplementedSessionServiceServer
}

func (callerScopeRecorder) Status(ctx context.Context, req *wapoolv1.StatusRequest) (*wapoolv1.StatusResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return &wapoolv1.StatusResponse{Session: &wapoolv1.Session{TenantId: req.GetTenantId(), LastError: strings.Join(md.Get(callerScopeHeader), "|")}}, nil
}

// TestCertificateScopes: --tls-client-scopes gives certificates scopes by
// CN or SAN (first line that names one wins, "*" any other); a node's
// certificate relays the caller scope a forwarding node wrote, which
// nobody else can forge.
func TestCertificateScopes(t *testing.T) {
	pki := newTestPKI(t)
	spiffe, _ := url.Parse("spiffe://example.org/svc/a")
	scopes := writeAuthFile(t, "scopes", "# by SAN, CN, and any other\n"+
		spiffe.String()+" tenants=a-* role=send\n"+
		"node-1 role=node\n"+
		"ops.example.internal tenants=a-*,b-1 role=ops\n"+
		"* tenants=z-* role=send\n")
	a, err := NewAuth(AuthConfig{Listen: "0.0.0.0:7440", TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSClientCA: pki.caFile, ClientScopesFile: scopes})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Mode(); got != "mtls+cert-scopes" {
		t.Errorf("Mode() = %q", got)
	}
	opts, err := a.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	addr := serveNode(t, callerScopeRecorder{}, opts...)
	client := func(cert *tls.Certificate) wapoolv1.SessionServiceClient {
		conn := dialAuth(t, addr, pki.clientCreds(t, cert), "")
		return wapoolv1.NewSessionServiceClient(conn)
	}
	svc := client(pki.issue(t, "svc", func(c *x509.Certificate) { c.URIs = []*url.URL{spiffe} }))
	ops := client(pki.issue(t, "someone", func(c *x509.Certificate) { c.DNSNames = []string{"ops.example.internal"} }))
	other := client(pki.client)
	node := client(pki.issue(t, "node-1", nil))

	status1 := func(c wapoolv1.SessionServiceClient, ctx context.Context, id string) (string, error) {
		resp, err := c.Status(ctx, &wapoolv1.StatusRequest{TenantId: id})
		return resp.GetSession().GetLastError(), err
	}
	ctx := t.Context()
	if seen, err := status1(svc, ctx, "a-1"); err != nil || seen != "tenants=a-* role=send" {
		t.Errorf("SAN a-*: Status a-1 = %q, %v; want served, its scope in the header", seen, err)
	}
	_, err = status1(svc, ctx, "b-1")
	wantDenied(t, "SAN a-*: Status b-1", err, reasonTenantOutOfScope)
	if _, err := status1(ops, ctx, "b-1"); err != nil {
		t.Errorf("DNS SAN a-*,b-1: Status b-1: %v", err)
	}
	_, err = status1(other, ctx, "a-1")
	wantDenied(t, "any other certificate: Status a-1", err, reasonTenantOutOfScope)

	// A client cannot forge the header: it is replaced by its own scope.
	forged := metadata.AppendToOutgoingContext(ctx, callerScopeHeader, "role=admin")
	if seen, err := status1(other, forged, "z-1"); err != nil || seen != "tenants=z-* role=send" {
		t.Errorf("forged caller scope: %q, %v; want the client's own", seen, err)
	}
	_, err = status1(other, forged, "a-1")
	wantDenied(t, "forged caller scope: Status a-1", err, reasonTenantOutOfScope)

	// A node relays its caller's scope, and acts on nothing by itself.
	_, err = status1(node, ctx, "a-1")
	wantDenied(t, "node without a caller scope", err, reasonNoScope)
	relayed := metadata.AppendToOutgoingContext(ctx, callerScopeHeader, "tenants=a-* role=send", forwardedHeader, "node-2")
	if seen, err := status1(node, relayed, "a-1"); err != nil || seen != "tenants=a-* role=send" {
		t.Errorf("node relaying a-*: Status a-1 = %q, %v", seen, err)
	}
	_, err = status1(node, relayed, "b-1")
	wantDenied(t, "node relaying a-*: Status b-1", err, reasonTenantOutOfScope)

	// A certificate no line names is refused, when there is no "*".
	if err := os.WriteFile(scopes, []byte("node-1 role=node\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	_, err = status1(other, ctx, "z-1")
	wantDenied(t, "a certificate no line names", err, reasonNoScope)

	if _, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: writeAuthFile(t, "t", adminToken+"\n"), ClientScopesFile: scopes}); !errors.Is(err, ErrClientScopes) {
		t.Errorf("--tls-client-scopes without a client CA: %v, want ErrClientScopes", err)
	}
}

// TestForwardedCallKeepsItsScope: in cluster mode the entry node refuses a
// call outside the token's scope before forwarding it, and the holder
// checks the forwarded token again.
func TestForwardedCallKeepsItsScope(t *testing.T) {
	holderTokens := writeAuthFile(t, "holder", opsAToken+" tenants=far role=ops\n")
	entryTokens := writeAuthFile(t, "entry", opsAToken+" tenants=far role=ops\n"+sendAToken+" tenants=far role=ops\n")
	holderAuth, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: holderTokens})
	if err != nil {
		t.Fatal(err)
	}
	entryAuth, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: entryTokens})
	if err != nil {
		t.Fatal(err)
	}
	holder := &recorder{name: "holder"}
	hopts, _ := holderAuth.ServerOptions()
	holderAddr := serveNode(t, holder, hopts...)
	fwd := NewForwarder(fixedRoute{addr: holderAddr}, "entry")
	defer fwd.Close()
	eopts, _ := entryAuth.ServerOptions()
	eopts = append(eopts, grpc.ChainUnaryInterceptor(fwd.UnaryInterceptor), grpc.ChainStreamInterceptor(fwd.StreamInterceptor))
	entry := &recorder{name: "entry"}
	conn := dialAuth(t, serveNode(t, entry, eopts...), insecure.NewCredentials(), "")
	c := wapoolv1.NewSessionServiceClient(conn)

	if resp, err := c.Status(as(t, opsAToken), &wapoolv1.StatusRequest{TenantId: "far"}); err != nil || resp.GetSession().GetNode() != "holder" {
		t.Errorf("Status far through entry: %v, %v", resp, err)
	}
	_, err = c.Status(as(t, opsAToken), &wapoolv1.StatusRequest{TenantId: "here"})
	wantDenied(t, "Status here, outside the scope", err, reasonTenantOutOfScope)
	link, err := c.Link(as(t, opsAToken), &wapoolv1.LinkRequest{TenantId: "near"})
	if err == nil {
		_, err = link.Recv()
	}
	wantDenied(t, "Link near, outside the scope, not forwarded", err, reasonTenantOutOfScope)
	// The holder checks the forwarded token itself: one it does not know
	// is refused there.
	if _, err := c.Status(as(t, sendAToken), &wapoolv1.StatusRequest{TenantId: "far"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a token only the entry knows, forwarded: %v, want the holder's UNAUTHENTICATED", err)
	}
	holder.mu.Lock()
	defer holder.mu.Unlock()
	if holder.calls != 1 {
		t.Errorf("the holder served %d calls, want 1", holder.calls)
	}
	entry.mu.Lock()
	defer entry.mu.Unlock()
	if entry.calls != 0 {
		t.Errorf("the entry served %d calls itself, want 0", entry.calls)
	}
}
