package console

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/loopback"
)

// ErrInsecureAddr: a console without tokens asked to serve on an address
// that is not loopback.
var ErrInsecureAddr = errors.New("the web console without --auth-tokens serves only on a loopback address (127.0.0.1, ::1 or localhost)")

// ErrPlaintextTokens: a console with tokens asked to serve plain HTTP on an
// address that is not loopback, with neither BehindTLSProxy nor Insecure.
var ErrPlaintextTokens = errors.New("the web console with tokens serves a non-loopback address over TLS only (--console-tls-cert/--console-tls-key, or --tls-cert/--tls-key), " +
	"or behind a TLS-terminating proxy (--console-behind-tls-proxy), or with --insecure: else tokens and cookies cross the network in clear")

// shutdownTimeout bounds the wait for requests in flight once Serve's ctx
// ends (link streams end with ctx at once).
const shutdownTimeout = 5 * time.Second

// CheckAddr refuses a listen address (host:port) that is not loopback
// without tokens (ErrInsecureAddr: an empty host, ":8080", listens on every
// interface and is not loopback), or with tokens but neither TLS, nor
// BehindTLSProxy, nor Insecure (ErrPlaintextTokens).
func (c *Console) CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console address %q: %w", addr, err)
	}
	switch {
	case loopbackHost(host):
		return nil
	case !c.tokens():
		return fmt.Errorf("console address %q: %w", addr, ErrInsecureAddr)
	case c.opts.TLS == nil && !c.opts.BehindTLSProxy && !c.opts.Insecure:
		return fmt.Errorf("console address %q: %w", addr, ErrPlaintextTokens)
	}
	return nil
}

// Listen checks addr against the console's options (CheckAddr) and listens
// on it over TCP.
func (c *Console) Listen(addr string) (net.Listener, error) {
	if err := c.CheckAddr(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return ln, nil
}

// Serve serves the console on ln until ctx ends or serving fails, and
// returns only once its HTTP server has stopped: when ctx ends, every
// request's context ends with it (link streams return at once), requests in
// flight get shutdownTimeout to finish, and the listener is closed. It
// returns nil after ctx ended. It refuses a listener whose address
// CheckAddr refuses, closing it. With Options.TLS it speaks HTTPS.
func (c *Console) Serve(ctx context.Context, ln net.Listener) error {
	if err := c.CheckAddr(ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           c,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: a link stream lasts as long as the page's codes.
		BaseContext: func(net.Listener) context.Context { return ctx },
		TLSConfig:   c.opts.TLS,
	}
	served := make(chan error, 1)
	scheme := "http"
	if c.opts.TLS != nil {
		scheme = "https"
		go func() { served <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { served <- hs.Serve(ln) }()
	}
	c.log.Info("web console serving", zap.String("addr", ln.Addr().String()), zap.String("url", scheme+"://"+ln.Addr().String()+"/"),
		zap.Bool("tokens", c.tokens()), zap.Bool("behind_tls_proxy", c.opts.BehindTLSProxy))
	select {
	case err := <-served:
		return fmt.Errorf("console: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = hs.Close()
	}
	<-served // http.ErrServerClosed
	return err
}

// loopbackHost reports whether host (a host name, an IP, or host:port as in
// a Host header) is 127.0.0.0/8, ::1 or "localhost" (loopback.Addr), or
// the fully qualified "localhost.".
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.EqualFold(host, "localhost.") || loopback.Addr(host)
}
