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
// empty), with the API's tokens when --auth-tokens is set; without tokens it
// refuses a non-loopback address. The returned stop ends its link streams
// and waits for it; it may be called more than once.
func startConsole(cfg config, sup *supervisor.Supervisor, auth *server.Auth, log *zap.Logger) (stop func(), err error) {
	if cfg.ConsoleAddr == "" {
		return func() {}, nil
	}
	opts := console.Options{Log: log}
	if cfg.AuthTokens != "" {
		opts.Tokens = auth.ValidToken
	}
	c := console.New(sup, opts)
	ln, err := c.Listen(cfg.ConsoleAddr)
	if err != nil {
		return nil, fmt.Errorf("--console-addr: %w", err)
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
	return func() { once.Do(func() { cancel(); <-done }) }, nil
}
