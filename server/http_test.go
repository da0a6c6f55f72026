package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// peerRecorder answers Status with what the handler saw: the caller scope
// header in last_error, the caller's address in phone, and the surface in
// node.
type peerRecorder struct {
	wapoolv1.UnimplementedSessionServiceServer
}

func (peerRecorder) Status(ctx context.Context, req *wapoolv1.StatusRequest) (*wapoolv1.StatusResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	addr, _, surface := callPeer(ctx)
	return &wapoolv1.StatusResponse{Session: &wapoolv1.Session{TenantId: req.GetTenantId(),
		LastError: strings.Join(md.Get(callerScopeHeader), "|"), Phone: addr, Node: surface}}, nil
}

// startGateway serves srv with a's options behind a gateway on a loopback
// port until the test ends; it returns the gateway's address.
func startGateway(t *testing.T, a *Auth, srv wapoolv1.SessionServiceServer) string {
	t.Helper()
	return startGatewayWith(t, a, srv, GatewayConfig{})
}

// startGatewayWith is startGateway with cfg's options (its Addr and Auth
// are set here) and more gRPC server options.
func startGatewayWith(t *testing.T, a *Auth, srv wapoolv1.SessionServiceServer, cfg GatewayConfig, more ...grpc.ServerOption) string {
	t.Helper()
	opts, err := a.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(append(opts, more...)...)
	wapoolv1.RegisterSessionServiceServer(gs, srv)
	cfg.Addr, cfg.Auth = "127.0.0.1:0", a
	gw, err := NewGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	grpcDone, httpDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(grpcDone); _ = gs.Serve(gw.GRPCListener()) }()
	go func() {
		defer close(httpDone)
		if err := gw.Serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("gateway Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		gw.Shutdown(context.Background())
		<-httpDone
		gs.Stop()
		<-grpcDone
	})
	return gw.Addr().String()
}

// TestGatewayMutualTLS: over HTTPS with mTLS and certificate scopes, the
// gateway serves HTTP/2 with the API's certificate, the handler sees the
// HTTP client's address and the scope of its certificate, a client without
// a certificate is refused in the handshake, and headers that try to pass
// as the daemon's own metadata change nothing.
func TestGatewayMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	scopes := writeAuthFile(t, "scopes", "svc tenants=a-* role=send\n")
	a, err := NewAuth(AuthConfig{Listen: "0.0.0.0:7440", TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSClientCA: pki.caFile, ClientScopesFile: scopes})
	if err != nil {
		t.Fatal(err)
	}
	addr := startGateway(t, a, peerRecorder{})
	client := func(cert *tls.Certificate) *http.Client {
		conf := &tls.Config{RootCAs: pki.caPool, MinVersion: tls.VersionTLS12}
		if cert != nil {
			conf.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}}
	}
	svc := client(pki.issue(t, "svc", nil))
	get := func(c *http.Client, path string, header http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", "https://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	resp, body := get(svc, "/v1/tenants/a-1", http.Header{
		"Grpc-Metadata-Wapool-Caller-Scope":     {"role=admin"},
		"Grpc-Metadata-Wapool-Http-Client-Addr": {"10.9.9.9:1"},
	})
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("a-1 with the svc certificate: %s %d %s", resp.Proto, resp.StatusCode, body)
	}
	var st wapoolv1.StatusResponse
	if err := protojson.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	s := st.GetSession()
	if s.GetLastError() != "tenants=a-* role=send" || !strings.HasPrefix(s.GetPhone(), "127.0.0.1:") || s.GetNode() != SurfaceHTTP {
		t.Errorf("the handler saw scope %q, address %q, surface %q; want the certificate's scope and the HTTP client's address",
			s.GetLastError(), s.GetPhone(), s.GetNode())
	}

	resp, body = get(svc, "/v1/tenants/b-1", nil)
	var e struct {
		Code    int
		Details []struct{ Reason string }
	}
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusForbidden || e.Code != 7 || len(e.Details) != 1 || e.Details[0].Reason != reasonTenantOutOfScope {
		t.Errorf("b-1 with the a-* certificate: %d %s", resp.StatusCode, body)
	}

	if _, err := client(nil).Get("https://" + addr + "/v1/tenants/a-1"); err == nil {
		t.Error("a client without a certificate got through the handshake")
	}
	// Another CA's certificate is refused too.
	if _, err := client(pki.otherClient).Get("https://" + addr + "/v1/tenants/a-1"); err == nil {
		t.Error("another CA's certificate got through the handshake")
	}
}

// TestGatewayListenRules: --http-addr follows the rules of --listen.
func TestGatewayListenRules(t *testing.T) {
	tokens := writeAuthFile(t, "tokens", adminToken+"\n")
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0", TokensFile: tokens})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewGateway(GatewayConfig{Addr: "0.0.0.0:0", Auth: a}); err == nil || !strings.Contains(err.Error(), "needs TLS") {
		t.Errorf("tokens over plain HTTP off loopback: %v, want ErrPlaintextTokens", err)
	}
	b, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewGateway(GatewayConfig{Addr: ":0", Auth: b}); err == nil {
		t.Error("no credentials off loopback: no error")
	}
}
