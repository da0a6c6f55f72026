package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// NodeTLS is the TLS a cluster node forwards calls with (forward.go): its
// own certificate and key (--tls-cert, --tls-key) as the client
// certificate, the other nodes' certificates verified against the
// cluster's CA (--tls-client-ca, the CA that signs the client certificates
// the nodes accept; the system's roots without one). The nodes of a
// cluster share that CA, so each node's certificate must be, for the
// others, both a server certificate naming its --advertise-addr and a
// client certificate: NewNodeTLS and Reload refuse one that is not.
//
// Concurrency: mu guards the loaded certificate and CA pool; every TLS
// handshake reads them, so a Reload (SIGHUP) applies to the next
// connection without closing the ones open.
type NodeTLS struct {
	cfg NodeTLSConfig

	mu   sync.RWMutex // guards the fields that follow
	cert *tls.Certificate
	pool *x509.CertPool // nil: the system's roots
}

// NodeTLSConfig names a node's TLS files.
type NodeTLSConfig struct {
	CertFile, KeyFile string // required: the node's certificate chain and key (PEM)
	// CAFile is the CA(s) of the cluster (PEM); "" means the system's
	// roots verify the other nodes and they ask for no client
	// certificate (TLS without mTLS).
	CAFile string
	// AdvertiseAddr is where the other nodes reach this one: its host
	// must be one the certificate names.
	AdvertiseAddr string
}

// ErrNodeCertificate: a node's certificate cannot serve node-to-node
// forwarding (see NodeTLS); the error says why and what to change.
var ErrNodeCertificate = errors.New("the node's certificate cannot serve cluster forwarding")

// NewNodeTLS loads and checks cfg's files.
func NewNodeTLS(cfg NodeTLSConfig) (*NodeTLS, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("cluster TLS: a certificate and its key are required")
	}
	n := &NodeTLS{cfg: cfg}
	if err := n.Reload(); err != nil {
		return nil, err
	}
	return n, nil
}

// Reload re-reads the files; on any error it keeps what it had.
func (n *NodeTLS) Reload() error {
	cert, err := tls.LoadX509KeyPair(n.cfg.CertFile, n.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("cluster TLS: --tls-cert/--tls-key: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("cluster TLS: --tls-cert: %w", err)
	}
	var pool *x509.CertPool
	if n.cfg.CAFile != "" {
		caPEM, err := os.ReadFile(n.cfg.CAFile)
		if err != nil {
			return fmt.Errorf("cluster TLS: --tls-client-ca: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("cluster TLS: --tls-client-ca %q: no PEM certificate", n.cfg.CAFile)
		}
	}
	if err := checkNodeCert(leaf, cert.Certificate[1:], pool, n.cfg); err != nil {
		return err
	}
	n.mu.Lock()
	n.cert, n.pool = &cert, pool
	n.mu.Unlock()
	return nil
}

// checkNodeCert checks that the other nodes, verifying with pool, accept
// leaf as the server at cfg.AdvertiseAddr and, with mTLS, as a client.
func checkNodeCert(leaf *x509.Certificate, chain [][]byte, pool *x509.CertPool, cfg NodeTLSConfig) error {
	host, _, err := net.SplitHostPort(cfg.AdvertiseAddr)
	if err != nil {
		host = cfg.AdvertiseAddr
	}
	inter := x509.NewCertPool()
	for _, der := range chain {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	roots := "the system's roots"
	if pool != nil {
		roots = "--tls-client-ca"
	}
	opts := x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: time.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("cluster mode with TLS: the other nodes verify --tls-cert against %s as a server certificate, and it does not pass (%v): %w", roots, err, ErrNodeCertificate)
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return fmt.Errorf("cluster mode with TLS: the other nodes reach this node at --advertise-addr %s, and --tls-cert does not name %q (%v): add it to the certificate's subject alternative names: %w", cfg.AdvertiseAddr, host, err, ErrNodeCertificate)
	}
	if pool == nil {
		return nil
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("cluster mode with mTLS: a node forwards calls with its own --tls-cert as its client certificate, so it must be signed by --tls-client-ca and allow client authentication (extended key usage clientAuth, beside serverAuth): %v: %w", err, ErrNodeCertificate)
	}
	return nil
}

// credentials are the transport credentials of a connection to addr's
// node: the current certificate as the client certificate, the peer
// verified against the current pool and named by addr's host.
func (n *NodeTLS) credentials() credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			n.mu.RLock()
			defer n.mu.RUnlock()
			return n.cert, nil
		},
		// The verification is VerifyConnection's, against the pool as last
		// (re)loaded: tls.Config.RootCAs would stay the pool of the dial.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			n.mu.RLock()
			pool := n.pool
			n.mu.RUnlock()
			if len(cs.PeerCertificates) == 0 {
				return errors.New("cluster TLS: the node showed no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: pool, Intermediates: inter, DNSName: cs.ServerName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			return err
		},
	})
}
