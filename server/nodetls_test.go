package server

import (
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
)

// nodeCert writes a certificate of the test CA for a cluster node (server
// and client usage, naming 127.0.0.1 unless edit changes it) and its key;
// it returns their files.
func nodeCert(t *testing.T, p *testPKI, edit func(*x509.Certificate)) (certFile, keyFile string) {
	t.Helper()
	pair := issuePair(t, p.ca, "node", func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		if edit != nil {
			edit(c)
		}
	})
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	if err := os.WriteFile(certFile, pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// With mTLS (--tls-cert, --tls-key, --tls-client-ca) a node forwards calls
// to the holder over TLS with its own certificate, which the holder
// accepts as a client certificate of the cluster's CA; the plaintext
// forwarding of before fails against such a node.
func TestForwardingOverMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	farCert, farKey := nodeCert(t, p, nil)
	auth, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0", TLSCert: farCert, TLSKey: farKey, TLSClientCA: p.caFile})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := auth.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	farAddr := serveNode(t, &recorder{name: "far-node"}, opts...)

	nearCert, nearKey := nodeCert(t, p, nil)
	nodeTLS, err := NewNodeTLS(NodeTLSConfig{CertFile: nearCert, KeyFile: nearKey, CAFile: p.caFile, AdvertiseAddr: "127.0.0.1:7441"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts []ForwarderOption
		ok   bool
	}{{"plaintext", nil, false}, {"node TLS", []ForwarderOption{WithNodeTLS(nodeTLS)}, true}} {
		t.Run(tc.name, func(t *testing.T) {
			fwd := NewForwarder(fixedRoute{addr: farAddr}, "near-node", tc.opts...)
			defer fwd.Close()
			nearAddr := serveNode(t, &recorder{name: "near-node"}, grpc.ChainUnaryInterceptor(fwd.UnaryInterceptor), grpc.ChainStreamInterceptor(fwd.StreamInterceptor))
			resp, err := statusOfFar(t, nearAddr)
			if tc.ok && (err != nil || resp.GetSession().GetNode() != "far-node") {
				t.Errorf("Status of far forwarded over node TLS: %v, %v", resp, err)
			}
			if !tc.ok && err == nil {
				t.Errorf("Status of far forwarded in plaintext to an mTLS node: %v, want an error", resp)
			}
		})
	}
}

// A certificate that cannot serve forwarding is refused at start, with
// what to change.
func TestNodeTLSRefusesUnfitCertificates(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	for _, tc := range []struct {
		name      string
		pki       *testPKI
		edit      func(*x509.Certificate)
		advertise string
		want      string
	}{
		{"server only", p, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, "127.0.0.1:7440", "clientAuth"},
		{"another CA", other, nil, "127.0.0.1:7440", "--tls-client-ca"},
		{"advertised host not named", p, nil, "10.0.0.7:7440", "10.0.0.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, key := nodeCert(t, tc.pki, tc.edit)
			_, err := NewNodeTLS(NodeTLSConfig{CertFile: cert, KeyFile: key, CAFile: p.caFile, AdvertiseAddr: tc.advertise})
			if !errors.Is(err, ErrNodeCertificate) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewNodeTLS = %v, want ErrNodeCertificate naming %q", err, tc.want)
			}
		})
	}
	cert, key := nodeCert(t, p, nil)
	if _, err := NewNodeTLS(NodeTLSConfig{CertFile: cert, KeyFile: key, CAFile: p.caFile, AdvertiseAddr: "127.0.0.1:7440"}); err != nil {
		t.Errorf("a fit certificate: %v", err)
	}
}
