package main

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/wapool/wapool/console"
	"github.com/wapool/wapool/server"
	"github.com/wapool/wapool/supervisor"
)

// startConsole serves the web console on --console-addr (nothing when it is
// empty), with the API's tokens and their scopes when --auth-tokens is set
// (without tokens it refuses a non-loopback address), over HTTPS with
// --console-tls-cert/--console-tls-key or else --tls-cert/--tls-key. Wrong
// sign-ins share the API's per-address limiter and metrics. The returned
// stop ends its link streams and waits for it; it may be called more than
// once. reload re-reads the console's certificate (SIGHUP).
func startConsole(cfg config, sup *supervisor.Supervisor, auth *server.Auth, obs console.AuthObserver, log *zap.Logger) (stop func(), reload func() error, err error) {
	if cfg.ConsoleAddr == "" {
		return func() {}, func() error { return nil }, nil
	}
	opts := console.Options{
		Log:            log,
		BehindTLSProxy: cfg.ConsoleTLSProxy,
		Insecure:       cfg.Insecure,
		Limiter:        auth.Limiter(),
		Observer:       obs,
	}
	if cfg.AuthTokens != "" {
		opts.Tokens = func(token string) (console.Access, bool) {
			s, ok := auth.Lookup(token)
			if !ok {
				return console.Access{}, false
			}
			return consoleAccess(s), true
		}
	}
	reload = func() error { return nil }
	certFile, keyFile := cfg.ConsoleTLSCert, cfg.ConsoleTLSKey
	if certFile == "" {
		certFile, keyFile = cfg.TLSCert, cfg.TLSKey
	}
	if certFile != "" {
		kp, err := console.LoadKeyPair(certFile, keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--console-addr: %w", err)
		}
		opts.TLS, reload = kp.TLSConfig(), kp.Reload
	}
	c := console.New(sup, opts)
	ln, err := c.Listen(cfg.ConsoleAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("--console-addr: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Serve(ctx, ln); err != nil {
			log.Error("web console", zap.Error(err))
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }, reload, nil
}

// consoleAccess is what a token's scope lets its holder do in the console:
// its tenants, and read-only below role ops (no link, screenshot or
// logout).
func consoleAccess(s server.Scope) console.Access {
	a := console.Access{ReadOnly: s.Role < server.RoleOps || s.Role == server.RoleNode}
	if !s.EveryTenant() {
		a.Tenant = s.Tenant
	}
	return a
}
