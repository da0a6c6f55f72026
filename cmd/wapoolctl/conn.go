package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wapool/wapool/internal/loopback"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// connect resolves the environment twins and opens the client connection.
// The connection is lazy: the first call dials.
func (c *cli) connect(cmd string) error {
	g := &c.g
	if !g.set["addr"] {
		if v := c.getenv("WAPOOL_ADDR"); v != "" {
			g.addr = v
		}
	}
	token, err := c.loadToken(cmd)
	if err != nil {
		return err
	}
	useTLS := g.useTLS()
	var opts []grpc.DialOption
	if useTLS {
		cfg, err := g.tlsConfig(cmd)
		if err != nil {
			return err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if token != "" {
		if !useTLS && !isLoopback(g.addr) {
			return usagef(cmd, "refusing to send a bearer token in clear text to %s: use TLS (--tls-ca) or a loopback address", g.addr)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(token)))
	}
	conn, err := grpc.NewClient(g.addr, opts...)
	if err != nil {
		return usagef(cmd, "bad --addr %q: %v", g.addr, err)
	}
	c.conn = conn
	c.client = wapoolv1.NewSessionServiceClient(conn)
	return nil
}

// loadToken returns the bearer token: --token-file, else --token, else
// WAPOOL_TOKEN; "" when none.
func (c *cli) loadToken(cmd string) (string, error) {
	g := &c.g
	if g.tokenFile != "" && g.token != "" {
		return "", usagef(cmd, "give --token-file or --token, not both")
	}
	tok := g.token
	if g.tokenFile != "" {
		b, err := os.ReadFile(g.tokenFile)
		if err != nil {
			return "", fmt.Errorf("reading the token file: %w", err)
		}
		// The first token of the file: the daemon's tokens file works too
		// (a line's first field is its token, its scope may follow).
		tok = ""
		for line := range strings.Lines(string(b)) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				tok = strings.Fields(line)[0]
				break
			}
		}
		if tok == "" {
			return "", fmt.Errorf("the token file %s holds no token", g.tokenFile)
		}
	} else if tok == "" {
		tok = strings.TrimSpace(c.getenv("WAPOOL_TOKEN"))
	}
	for _, r := range tok {
		if r <= ' ' || r == 0x7f {
			return "", usagef(cmd, "the bearer token holds white space or control characters")
		}
	}
	return tok, nil
}

func (g *globalOpts) tlsConfig(cmd string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: g.tlsServerName}
	if g.tlsCA != "" {
		pem, err := os.ReadFile(g.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("reading --tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", g.tlsCA)
		}
		cfg.RootCAs = pool
	}
	if (g.tlsCert == "") != (g.tlsKey == "") {
		return nil, usagef(cmd, "--tls-cert and --tls-key go together")
	}
	if g.tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(g.tlsCert, g.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// isLoopback reports whether addr (a gRPC target) stays on this machine.
func isLoopback(addr string) bool {
	if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "unix-abstract:") {
		return true
	}
	addr = strings.TrimPrefix(addr, "dns:///")
	addr = strings.TrimPrefix(addr, "passthrough:///")
	return loopback.Addr(addr)
}

// bearerToken sends "authorization: Bearer <token>" with every call. The
// clear-text check is done once in connect (loopback only), so it does not
// ask gRPC for transport security.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }

// useTLS reports whether any TLS flag is set.
func (g *globalOpts) useTLS() bool {
	return g.tlsCA != "" || g.tlsCert != "" || g.tlsKey != "" || g.tlsServerName != ""
}
