// Package testpki makes the certificates that the tests, the bench and the
// soak run wapoold with when they try TLS: a CA of their own, cluster-node
// certificates (server and client usage, naming 127.0.0.1) written as the
// files --tls-cert, --tls-key and --tls-client-ca take, and client
// credentials that trust the CA and present one of its certificates.
//
// Every certificate lives an hour and uses ECDSA P-256; nothing here is fit
// for anything but a test on loopback. Functions return errors rather than
// taking a testing.T, so that programs (the soak) can use them too.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// CA signs the certificates of one test run.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// PEM is Cert in PEM, what --tls-client-ca takes.
	PEM []byte
}

// Pair is a certificate and its key, both in PEM.
type Pair struct {
	CertPEM, KeyPEM []byte
}

// NewCA makes a self-signed CA named cn.
func NewCA(cn string) (*CA, error) {
	cert, key, certPEM, err := newCert(cn, nil, nil, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage = x509.KeyUsageCertSign
	})
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, PEM: certPEM}, nil
}

// Issue makes a certificate for cn signed by the CA, changed by edit (nil:
// none). With no edit it is a client certificate (client usage only).
func (ca *CA) Issue(cn string, edit func(*x509.Certificate)) (Pair, error) {
	_, key, certPEM, err := newCert(cn, ca.Cert, ca.Key, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if edit != nil {
			edit(c)
		}
	})
	if err != nil {
		return Pair{}, err
	}
	keyPEM, err := KeyPEM(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// NodeFiles are the files of one node's TLS flags.
type NodeFiles struct {
	Cert, Key, ClientCA string
}

// Args are the node's flags: --tls-cert, --tls-key, --tls-client-ca.
func (f NodeFiles) Args() []string {
	return []string{"--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-client-ca", f.ClientCA}
}

// WriteNode makes a cluster node's certificate (cn, server and client usage,
// naming 127.0.0.1) and writes it, its key and the CA into dir (0600 each),
// named after cn.
func (ca *CA) WriteNode(dir, cn string) (NodeFiles, error) {
	p, err := ca.Issue(cn, func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	})
	if err != nil {
		return NodeFiles{}, err
	}
	f := NodeFiles{
		Cert:     filepath.Join(dir, cn+".pem"),
		Key:      filepath.Join(dir, cn+"-key.pem"),
		ClientCA: filepath.Join(dir, cn+"-ca.pem"),
	}
	for path, b := range map[string][]byte{f.Cert: p.CertPEM, f.Key: p.KeyPEM, f.ClientCA: ca.PEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return NodeFiles{}, fmt.Errorf("testpki: %w", err)
		}
	}
	return f, nil
}

// ClientCreds are gRPC credentials that trust the CA and present a client
// certificate of it named cn.
func (ca *CA) ClientCreds(cn string) (credentials.TransportCredentials, error) {
	p, err := ca.Issue(cn, nil)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}), nil
}

// Uncertified are the client credentials that a node on mutual TLS must
// refuse, by what they are: plaintext, and TLS that trusts the CA but shows
// no certificate.
func (ca *CA) Uncertified() map[string]credentials.TransportCredentials {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return map[string]credentials.TransportCredentials{
		"a plaintext client":               insecure.NewCredentials(),
		"a TLS client with no certificate": credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
	}
}

// KeyPEM is key in PKCS #8 PEM.
func KeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newCert makes a certificate for cn signed by parent (self-signed when
// nil), changed by edit; it returns the certificate, its key and its PEM.
func newCert(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, edit func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testpki: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testpki: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	edit(tmpl)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testpki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testpki: %w", err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
