// Command wapoold is the wapool daemon: it keeps one warm Chrome per tenant,
// logged in to WhatsApp Web, and serves Link, Send and Status over gRPC.
//
// Configuration comes from flags, each with a WAPOOL_* environment twin (see
// config.go). SIGTERM or SIGINT stops it gracefully: it stops accepting,
// drains in-flight calls, closes the browsers and exits 0 within
// --stop-timeout.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/server"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wapoold:", err)
		os.Exit(2)
	}
	log, err := newLogger(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wapoold:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("wapoold stopped with an error", zap.Error(err))
		_ = log.Sync()
		os.Exit(1)
	}
	_ = log.Sync()
}

func newLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	return zc.Build()
}

// run serves until ctx ends, then stops everything it started.
func run(ctx context.Context, cfg config, log *zap.Logger) error {
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	wapoolv1.RegisterSessionServiceServer(gs, server.New(log))
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(wapoolv1.SessionService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("wapoold serving", zap.String("listen", lis.Addr().String()), zap.String("target_url", cfg.TargetURL))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("stopping: no new calls, draining")
	hs.Shutdown()
	drained := make(chan struct{})
	go func() { gs.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(cfg.StopTimeout):
		log.Warn("drain took too long, closing connections")
		gs.Stop()
		<-drained
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	log.Info("stopped")
	return nil
}
