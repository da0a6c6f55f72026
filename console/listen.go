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
)

// ErrInsecureAddr: a console without tokens asked to serve on an address
// that is not loopback.
var ErrInsecureAddr = errors.New("the web console without --auth-tokens serves only on a loopback address (127.0.0.1, ::1 or localhost)")

// shutdownTimeout bounds the wait for requests in flight once Serve's ctx
// ends (link streams end with ctx at once).
const shutdownTimeout = 5 * time.Second

// CheckAddr refuses a listen address (host:port) that is not loopback when
// tokens is false: an empty host (":8080") listens on every interface and
// is not loopback. With tokens every address is allowed.
func CheckAddr(addr string, tokens bool) error {
	if tokens {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console address %q: %w", addr, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("console address %q: %w", addr, ErrInsecureAddr)
	}
	return nil
}

// Listen checks addr against the console's options (CheckAddr: loopback
// only without tokens) and listens on it over TCP.
func (c *Console) Listen(addr string) (net.Listener, error) {
	if err := CheckAddr(addr, c.tokens()); err != nil {
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
// returns nil after ctx ended. Without tokens it refuses a listener whose
// address is not loopback (ErrInsecureAddr), closing it.
func (c *Console) Serve(ctx context.Context, ln net.Listener) error {
	if err := CheckAddr(ln.Addr().String(), c.tokens()); err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           c,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: a link stream lasts as long as the page's codes.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	c.log.Info("web console serving", zap.String("addr", ln.Addr().String()), zap.String("url", "http://"+ln.Addr().String()+"/"),
		zap.Bool("tokens", c.tokens()))
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
// a Host header) is 127.0.0.0/8, ::1 or "localhost".
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.EqualFold(host, "localhost.") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
