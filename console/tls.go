package console

import (
	"crypto/tls"
	"fmt"
	"sync"
)

// KeyPair is the console's TLS certificate and key, read from PEM files and
// re-read by Reload (the daemon calls it on SIGHUP): each handshake uses
// the pair last loaded. Its methods are safe for concurrent use.
type KeyPair struct {
	certFile, keyFile string

	mu   sync.RWMutex // mu guards the field that follows
	cert *tls.Certificate
}

// LoadKeyPair reads certFile (the chain, PEM) and keyFile (its key, PEM).
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	k := &KeyPair{certFile: certFile, keyFile: keyFile}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload reads the files again; on an error the pair in force stays.
func (k *KeyPair) Reload() error {
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("console tls cert/key: %w", err)
	}
	k.mu.Lock()
	k.cert = &c
	k.mu.Unlock()
	return nil
}

// TLSConfig returns a server config (TLS 1.2 or newer, no client
// certificates: people sign in with tokens) serving the pair as last
// loaded; for Options.TLS.
func (k *KeyPair) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			k.mu.RLock()
			defer k.mu.RUnlock()
			return k.cert, nil
		},
	}
}
