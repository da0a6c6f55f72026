package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/testpki"
)

// tokenServer serves the fake and demands "authorization: Bearer <token>".
func tokenServer(t *testing.T, token string) string {
	check := func(ctx context.Context) error {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("authorization"); len(v) != 1 || v[0] != "Bearer "+token {
			return status.Error(codes.Unauthenticated, "missing or wrong bearer token")
		}
		return nil
	}
	return serve(t, newFakeService(t),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := check(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := check(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}))
}

func TestBearerToken(t *testing.T) {
	addr := tokenServer(t, "s3cret-token")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("# wapool\n\n  s3cret-token  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runCtl(t, addr, "--token-file", file, "status", "shop1").want(t, 0, []string{"READY"}, nil)
	// The daemon's tokens file: the first line's token, its scope left.
	daemons := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(daemons, []byte("# ops\ns3cret-token tenants=shop* role=ops # comment\nother-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runCtl(t, addr, "--token-file", daemons, "status", "shop1").want(t, 0, []string{"READY"}, nil)
	runCtl(t, addr, "--token", "s3cret-token", "link", "shop1").want(t, 0, []string{"already linked"}, nil)
	runWith(t, ctlOpts{env: map[string]string{"WAPOOL_TOKEN": "s3cret-token"}}, "--addr", addr, "list").
		want(t, 0, []string{"shop1"}, nil)

	runCtl(t, addr, "--token", "wrong", "list").
		want(t, 1, nil, []string{"the daemon refused the credentials (missing or wrong bearer token): give a token with --token-file"})
	runCtl(t, addr, "list").want(t, 1, nil, []string{"refused the credentials"})
	runCtl(t, addr, "--token-file", filepath.Join(t.TempDir(), "none"), "list").
		want(t, 1, nil, []string{"reading the token file"})
	// Never in clear text off this machine.
	runCtl(t, "192.0.2.1:7440", "--token", "s3cret-token", "list").
		want(t, 2, nil, []string{"refusing to send a bearer token in clear text"})
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7440": true, "localhost:7440": true, "[::1]:7440": true, "dns:///localhost:1": true,
		"127.1.2.3:1": true, "unix:///run/wapool.sock": true,
		"10.0.0.1:7440": false, "wapool.internal:7440": false, "dns:///example.com:443": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}

// pki is a CA with a server and a client certificate, written as PEM files.
type pki struct {
	dir                            string
	caFile, serverCert, serverKey  string
	clientCert, clientKey, otherCA string
	caPool                         *x509.CertPool
	serverTLS                      tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	write := func(name string, b []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ca, err := testpki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	p.caFile = write("ca.pem", ca.PEM)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca.Cert)
	p.otherCA = write("other-ca.pem", other.PEM)

	server, err := ca.Issue("wapoold", func(c *x509.Certificate) {
		c.IPAddresses, c.DNSNames = []net.IP{net.ParseIP("127.0.0.1")}, []string{"wapoold.test"}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	if err != nil {
		t.Fatal(err)
	}
	p.serverCert, p.serverKey = write("server.pem", server.CertPEM), write("server-key.pem", server.KeyPEM)
	if p.serverTLS, err = tls.LoadX509KeyPair(p.serverCert, p.serverKey); err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue("ops", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.clientCert, p.clientKey = write("client.pem", client.CertPEM), write("client-key.pem", client.KeyPEM)
	return p
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	creds := credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{p.serverTLS},
		ClientCAs:    p.caPool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	addr := serve(t, newFakeService(t), grpc.Creds(creds))
	mtls := []string{"--addr", addr, "--tls-ca", p.caFile, "--tls-cert", p.clientCert, "--tls-key", p.clientKey}

	runWith(t, ctlOpts{}, append(mtls, "status", "shop1")...).want(t, 0, []string{"READY"}, nil)
	runWith(t, ctlOpts{}, append(mtls, "link", "tlsshop")...).want(t, 0, []string{"linked to +" + linkedPhone}, nil)
	// The name to verify can be given when --addr does not carry it.
	runWith(t, ctlOpts{}, append(mtls, "--tls-server-name", "wapoold.test", "list")...).want(t, 0, []string{"shop1"}, nil)

	// No client certificate: the daemon refuses the handshake.
	// With TLS 1.3 the refusal shows either as a failed handshake or as a
	// connection closed right after it; both point at the certificate.
	for range 5 {
		r := runWith(t, ctlOpts{}, "--addr", addr, "--tls-ca", p.caFile, "list")
		r.want(t, 1, nil, []string{"the daemon at " + addr, "--tls-cert"})
		if r.stdout != "" {
			t.Fatalf("stdout %q", r.stdout)
		}
	}
	// A daemon certificate from an unknown CA.
	runWith(t, ctlOpts{}, "--addr", addr, "--tls-ca", p.otherCA, "--tls-cert", p.clientCert, "--tls-key", p.clientKey, "list").
		want(t, 1, nil, []string{"TLS handshake with the daemon at " + addr + " failed", "--tls-ca"})
	// Plain text to a TLS daemon.
	runCtl(t, addr, "list").want(t, 1, nil, []string{"not reachable at " + addr})
}
