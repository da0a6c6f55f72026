package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/authlimit"
	"github.com/wapool/wapool/internal/grpctest"
	"github.com/wapool/wapool/internal/testpki"
)

// Tokens of the tests: at least MinTokenLen characters.
const (
	firstToken  = "first-token-0123456789abcdef-0123"
	secondToken = "second-token-0123456789abcdef-012"
	oldToken    = "old-token-0123456789abcdef-012345"
	newToken    = "new-token-0123456789abcdef-012345"
	tlsToken    = "tls-and-token-0123456789abcdef-01"
)

func TestAuthRefusesNonLoopbackWithoutCredentials(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:7440", ":7440", "10.1.2.3:1", "[::]:7440", "example.com:7440", ""} {
		_, err := NewAuth(AuthConfig{Listen: listen})
		if !errors.Is(err, ErrInsecureListen) {
			t.Errorf("NewAuth(Listen %q) = %v, want ErrInsecureListen", listen, err)
		}
		a, err := NewAuth(AuthConfig{Listen: listen, Insecure: true})
		if err != nil {
			t.Errorf("NewAuth(Listen %q, Insecure) = %v", listen, err)
			continue
		}
		if got := a.Mode(); got != "none (insecure)" {
			t.Errorf("Mode() = %q", got)
		}
	}
}

func TestLoopbackWithoutCredentialsNeedsNoToken(t *testing.T) {
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440"})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Mode(); got != "none (loopback)" {
		t.Errorf("Mode() = %q", got)
	}
	if a.TransportCredentials() != nil {
		t.Error("TransportCredentials() != nil without TLS files")
	}
	conn := dialAuth(t, startAuthServer(t, a), insecure.NewCredentials(), "")
	for name, rpc := range authProtectedCalls {
		if err := rpc(t, conn); err != nil {
			t.Errorf("%s without token on loopback: %v", name, err)
		}
	}
}

func TestTokenAuth(t *testing.T) {
	file := writeAuthFile(t, "tokens", "# operators\n\n  "+firstToken+"  \n"+secondToken+"\n# end\n")
	// Many wrong tokens follow: none is throttled here (see
	// TestWrongTokensAreThrottled).
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: file, Limiter: authlimit.New(authlimit.Config{Free: 1000})})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Mode(); got != "tokens" {
		t.Errorf("Mode() = %q", got)
	}
	addr := startAuthServer(t, a)

	for _, tc := range []struct {
		name, authorization string
		want                codes.Code
	}{
		{"missing", "", codes.Unauthenticated},
		{"wrong", "Bearer not-a-token", codes.Unauthenticated},
		{"prefix of a token", "Bearer " + firstToken[:len(firstToken)-1], codes.Unauthenticated},
		{"other scheme", "Basic " + firstToken, codes.Unauthenticated},
		{"no token", "Bearer ", codes.Unauthenticated},
		{"first", "Bearer " + firstToken, codes.OK},
		{"second", "Bearer " + secondToken, codes.OK},
		{"scheme case", "bearer " + secondToken, codes.OK},
	} {
		conn := dialAuth(t, addr, insecure.NewCredentials(), tc.authorization)
		for name, rpc := range authProtectedCalls {
			if got := status.Code(rpc(t, conn)); got != tc.want {
				t.Errorf("%s: %s = %v, want %v", tc.name, name, got, tc.want)
			}
		}
		// The daemon's health is open whatever the credentials.
		for name, rpc := range authOpenCalls {
			if err := rpc(t, conn); err != nil {
				t.Errorf("%s: %s: %v", tc.name, name, err)
			}
		}
	}
}

func TestTokenReload(t *testing.T) {
	file := writeAuthFile(t, "tokens", oldToken+"\n")
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: file})
	if err != nil {
		t.Fatal(err)
	}
	addr := startAuthServer(t, a)
	oldConn := dialAuth(t, addr, insecure.NewCredentials(), "Bearer "+oldToken)
	newConn := dialAuth(t, addr, insecure.NewCredentials(), "Bearer "+newToken)
	if err := authCheckTenant(t, oldConn); err != nil {
		t.Fatalf("old token before reload: %v", err)
	}
	if got := status.Code(authCheckTenant(t, newConn)); got != codes.Unauthenticated {
		t.Fatalf("new token before reload: %v", got)
	}

	if err := os.WriteFile(file, []byte(newToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	for name, rpc := range authProtectedCalls {
		if got := status.Code(rpc(t, oldConn)); got != codes.Unauthenticated {
			t.Errorf("old token after reload: %s = %v", name, got)
		}
		if err := rpc(t, newConn); err != nil {
			t.Errorf("new token after reload: %s: %v", name, err)
		}
	}

	// A broken file keeps the tokens in force.
	if err := os.WriteFile(file, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); !errors.Is(err, ErrNoTokens) {
		t.Errorf("Reload of an empty file = %v, want ErrNoTokens", err)
	}
	if err := authCheckTenant(t, newConn); err != nil {
		t.Errorf("new token after a failed reload: %v", err)
	}
}

func TestTokensFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		path string
		want error
	}{
		"missing":       {filepath.Join(dir, "missing"), os.ErrNotExist},
		"empty":         {writeAuthFile(t, "empty", ""), ErrNoTokens},
		"only comments": {writeAuthFile(t, "comments", "# a\n\n   \n#b\n"), ErrNoTokens},
		"unreadable":    {dir, nil}, // a directory: read fails even as root
		"inner space":   {writeAuthFile(t, "space", "two words\n"), ErrShortToken},
		"short":         {writeAuthFile(t, "short", firstToken[:MinTokenLen-1]+"\n"), ErrShortToken},
		"unknown key":   {writeAuthFile(t, "key", firstToken+" tenant=a\n"), errScope},
		"bad role":      {writeAuthFile(t, "role", firstToken+" role=root\n"), errScope},
		"node role":     {writeAuthFile(t, "node", firstToken+" role=node\n"), nil},
		"bad pattern":   {writeAuthFile(t, "pattern", firstToken+" tenants=a*b\n"), errScope},
		"no tenant":     {writeAuthFile(t, "none", firstToken+" tenants=\n"), errScope},
		"twice":         {writeAuthFile(t, "twice", firstToken+"\n"+firstToken+" role=send\n"), nil},
	} {
		// Loopback: the error is the file's, not the address's.
		_, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: tc.path})
		if err == nil {
			t.Errorf("%s: NewAuth succeeded", name)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: NewAuth = %v, want %v", name, err, tc.want)
		}
		for _, secret := range []string{"words", "two", firstToken[:MinTokenLen-1]} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error quotes the token: %v", name, err)
			}
		}
	}
}

func TestTLSPartialFlags(t *testing.T) {
	for _, cfg := range []AuthConfig{
		{TLSCert: "c"},
		{TLSKey: "k"},
		{TLSClientCA: "ca"},
		{TLSCert: "c", TLSClientCA: "ca"},
		{TLSKey: "k", TLSClientCA: "ca"},
	} {
		cfg.Listen = "127.0.0.1:7440"
		if _, err := NewAuth(cfg); !errors.Is(err, ErrPartialTLS) {
			t.Errorf("NewAuth(%+v) = %v, want ErrPartialTLS", cfg, err)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	a, err := NewAuth(AuthConfig{Listen: "0.0.0.0:7440", TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSClientCA: pki.caFile})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Mode(); got != "mtls" {
		t.Errorf("Mode() = %q", got)
	}
	addr := startAuthServer(t, a)

	good := dialAuth(t, addr, pki.clientCreds(t, pki.client), "")
	for name, rpc := range authProtectedCalls {
		if err := rpc(t, good); err != nil {
			t.Errorf("client of the CA: %s: %v", name, err)
		}
	}
	refused := map[string]credentials.TransportCredentials{
		"client of another CA": pki.clientCreds(t, pki.otherClient),
		"no client cert":       pki.clientCreds(t, nil),
		"plaintext":            insecure.NewCredentials(),
	}
	for name, creds := range refused {
		conn := dialAuth(t, addr, creds, "")
		if err := authCheckDaemon(t, conn); err == nil {
			t.Errorf("%s: health authCheck succeeded", name)
		}
		if err := authCheckTenant(t, conn); err == nil {
			t.Errorf("%s: tenant authCheck succeeded", name)
		}
	}

	// Reload follows a changed client CA: the other CA's clients get in,
	// the first CA's do not.
	if err := os.WriteFile(pki.caFile, pki.otherCAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := authCheckTenant(t, dialAuth(t, addr, pki.clientCreds(t, pki.otherClient), "")); err != nil {
		t.Errorf("client of the new CA after reload: %v", err)
	}
	if err := authCheckTenant(t, dialAuth(t, addr, pki.clientCreds(t, pki.client), "")); err == nil {
		t.Error("client of the old CA after reload: succeeded")
	}
}

func TestMutualTLSWithTokens(t *testing.T) {
	pki := newTestPKI(t)
	a, err := NewAuth(AuthConfig{
		Listen:     "127.0.0.1:7440",
		TokensFile: writeAuthFile(t, "tokens", tlsToken+"\n"),
		TLSCert:    pki.serverCert, TLSKey: pki.serverKey, TLSClientCA: pki.caFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := startAuthServer(t, a)
	if got := status.Code(authCheckTenant(t, dialAuth(t, addr, pki.clientCreds(t, pki.client), ""))); got != codes.Unauthenticated {
		t.Errorf("certificate without token: %v, want Unauthenticated", got)
	}
	if err := authCheckTenant(t, dialAuth(t, addr, pki.clientCreds(t, pki.client), "Bearer "+tlsToken)); err != nil {
		t.Errorf("certificate and token: %v", err)
	}
	if err := authCheckTenant(t, dialAuth(t, addr, pki.clientCreds(t, pki.otherClient), "Bearer "+tlsToken)); err == nil {
		t.Error("token with a foreign certificate: succeeded")
	}
}

func TestTLSBadFiles(t *testing.T) {
	pki := newTestPKI(t)
	noCA := writeAuthFile(t, "noca.pem", "not a certificate\n")
	for name, cfg := range map[string]AuthConfig{
		"ca without certificate": {TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSClientCA: noCA},
		"missing ca":             {TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSClientCA: noCA + ".missing"},
		"key of another cert":    {TLSCert: pki.serverCert, TLSKey: pki.clientKeyFile, TLSClientCA: pki.caFile},
	} {
		cfg.Listen = "0.0.0.0:7440"
		if _, err := NewAuth(cfg); err == nil {
			t.Errorf("%s: NewAuth succeeded", name)
		}
	}
}

// authCall is one RPC on conn; it returns the RPC's error.
type authCall func(t *testing.T, conn *grpc.ClientConn) error

// authProtectedCalls need credentials when some are configured: unary and
// streaming, health included.
var authProtectedCalls = map[string]authCall{
	"reflection stream":   authReflect,
	"tenant health Check": authCheckTenant,
	"tenant health Watch": authWatch("tenant/a"),
	"health List":         authList,
}

// authOpenCalls never need a token: what kubelet's probes ask.
var authOpenCalls = map[string]authCall{
	"daemon health Check":  authCheckDaemon,
	"service health Check": authCheck("wapool.v1.SessionService"),
	"daemon health Watch":  authWatch(""),
	"service health Watch": authWatch("wapool.v1.SessionService"),
}

var (
	authCheckDaemon = authCheck("")
	authCheckTenant = authCheck("tenant/a")
)

func authCheck(service string) authCall {
	return func(t *testing.T, conn *grpc.ClientConn) error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		resp, err := healthgrpc.NewHealthClient(conn).Check(ctx, &healthgrpc.HealthCheckRequest{Service: service})
		if err == nil && resp.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v", service, resp.GetStatus())
		}
		return err
	}
}

func authWatch(service string) authCall {
	return func(t *testing.T, conn *grpc.ClientConn) error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		stream, err := healthgrpc.NewHealthClient(conn).Watch(ctx, &healthgrpc.HealthCheckRequest{Service: service})
		if err != nil {
			return err
		}
		resp, err := stream.Recv()
		if err == nil && resp.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
			t.Errorf("Watch(%q) = %v", service, resp.GetStatus())
		}
		return err
	}
}

func authList(t *testing.T, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := healthgrpc.NewHealthClient(conn).List(ctx, &healthgrpc.HealthListRequest{})
	if err == nil {
		if _, ok := resp.GetStatuses()["tenant/a"]; !ok {
			t.Errorf("List = %v, want tenant/a", resp.GetStatuses())
		}
	}
	return err
}

func authReflect(t *testing.T, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	stream, err := reflectiongrpc.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	req := &reflectiongrpc.ServerReflectionRequest{
		MessageRequest: &reflectiongrpc.ServerReflectionRequest_ListServices{},
	}
	if err := stream.Send(req); err != nil {
		// The server's answer is on Recv.
		_, rerr := stream.Recv()
		return rerr
	}
	resp, err := stream.Recv()
	if err != nil {
		return err
	}
	found := false
	for _, s := range resp.GetListServicesResponse().GetService() {
		found = found || s.GetName() == healthgrpc.Health_ServiceDesc.ServiceName
	}
	if !found {
		t.Errorf("reflection lists %v, want the health service", resp.GetListServicesResponse().GetService())
	}
	return stream.CloseSend()
}

// startAuthServer serves the standard health service (daemon, session
// service and tenant "a" SERVING) and reflection on a free loopback port
// with a's options, until the test ends.
func startAuthServer(t *testing.T, a *Auth) string {
	t.Helper()
	opts, err := a.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	for _, svc := range []string{"", "wapool.v1.SessionService", "tenant/a"} {
		hs.SetServingStatus(svc, healthgrpc.HealthCheckResponse_SERVING)
	}
	healthgrpc.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	return grpctest.Serve(t, srv)
}

// dialAuth connects to addr with creds, sending authorization (when not "") on
// every call, until the test ends.
func dialAuth(t *testing.T, addr string, creds credentials.TransportCredentials, authorization string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if authorization != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerAuthorization(authorization)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// bearerAuthorization sends one authorization value, over plaintext too
// (google.golang.org/grpc/credentials/oauth insists on TLS).
type bearerAuthorization string

func (s bearerAuthorization) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(s)}, nil
}

func (bearerAuthorization) RequireTransportSecurity() bool { return false }

func writeAuthFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testPKI is made in the test: a CA signing the server and one client, and
// another CA signing another client.
type testPKI struct {
	caFile                string // PEM of the CA, the server's client CA
	otherCAPEM            []byte // PEM of the other CA
	serverCert, serverKey string
	clientKeyFile         string // the client's key, a key that fits no server cert
	caPool                *x509.CertPool
	client, otherClient   *tls.Certificate
	ca                    *testpki.CA // signs issue's certificates
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := testpki.NewCA("wapool test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	server := issuePair(t, ca, "wapoold", func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	client := issuePair(t, ca, "wapoolctl", nil)
	otherClient := issuePair(t, other, "intruder", nil)

	p := &testPKI{
		caFile:        filepath.Join(dir, "ca.pem"),
		otherCAPEM:    other.PEM,
		serverCert:    filepath.Join(dir, "server.pem"),
		serverKey:     filepath.Join(dir, "server-key.pem"),
		clientKeyFile: filepath.Join(dir, "client-key.pem"),
		caPool:        x509.NewCertPool(),
		ca:            ca,
	}
	for path, b := range map[string][]byte{
		p.caFile: ca.PEM, p.serverCert: server.CertPEM, p.serverKey: server.KeyPEM, p.clientKeyFile: client.KeyPEM,
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.caPool.AddCert(ca.Cert)
	p.client = testKeyPair(t, client)
	p.otherClient = testKeyPair(t, otherClient)
	return p
}

// issue returns a client certificate of the test CA for cn, changed by
// edit (nil: none).
func (p *testPKI) issue(t *testing.T, cn string, edit func(*x509.Certificate)) *tls.Certificate {
	t.Helper()
	return testKeyPair(t, issuePair(t, p.ca, cn, edit))
}

// clientCreds trusts the test CA for the server and presents cert (none
// when nil).
func (p *testPKI) clientCreds(t *testing.T, cert *tls.Certificate) credentials.TransportCredentials {
	t.Helper()
	conf := &tls.Config{RootCAs: p.caPool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	return credentials.NewTLS(conf)
}

// issuePair is ca.Issue, failing the test on error.
func issuePair(t *testing.T, ca *testpki.CA, cn string, edit func(*x509.Certificate)) testpki.Pair {
	t.Helper()
	pair, err := ca.Issue(cn, edit)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func testKeyPair(t *testing.T, p testpki.Pair) *tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &pair
}
