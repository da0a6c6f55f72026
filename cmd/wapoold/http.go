package main

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/wapool/wapool/server"
)

// gateway is the HTTP/JSON API of --http-addr (server.Gateway); nil when
// off, and then its methods do nothing.
type gateway struct {
	gw   *server.Gateway
	done chan struct{} // closed when the HTTP server has ended
}

// newGateway listens on --http-addr; nil when it is empty.
func newGateway(cfg config, auth *server.Auth, log *zap.Logger) (*gateway, error) {
	if cfg.HTTPAddr == "" {
		return nil, nil
	}
	gw, err := server.NewGateway(server.GatewayConfig{Addr: cfg.HTTPAddr, Auth: auth, MaxRequestBytes: httpMaxRequest(cfg.MaxMediaBytes), MaxMediaBytes: cfg.MaxMediaBytes, Log: log})
	if err != nil {
		return nil, err
	}
	return &gateway{gw: gw, done: make(chan struct{})}, nil
}

// addr is the address it listens on, "" when off.
func (g *gateway) addr() string {
	if g == nil {
		return ""
	}
	return g.gw.Addr().String()
}

// serve has gs serve the gateway's in-memory connections (its result
// goes to served, as that of gs's other listener: the first ends the
// daemon) and serves HTTP. The returned func stops the HTTP server,
// waiting up to the given time for its calls (0: none), and returns once
// it ended; it may be called more than once.
func (g *gateway) serve(gs *grpc.Server, served chan<- error, log *zap.Logger) func(time.Duration) {
	if g == nil {
		return func(time.Duration) {}
	}
	// Ends when gs stops: GracefulStop and Stop wait for their Serve calls.
	go func() {
		if err := gs.Serve(g.gw.GRPCListener()); err != nil {
			select {
			case served <- err:
			default:
			}
		}
	}()
	go func() {
		defer close(g.done)
		if err := g.gw.Serve(); err != nil {
			log.Error("http server", zap.Error(err))
		}
	}()
	log.Info("http serving", zap.String("addr", g.addr()))
	var once sync.Once
	return func(wait time.Duration) {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			g.gw.Shutdown(ctx)
		})
		<-g.done
	}
}
