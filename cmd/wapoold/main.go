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
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/wapool/wapool/browserpool"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/server"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
	"github.com/wapool/wapool/waweb"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wapoold:", err)
		os.Exit(2)
	}
	log, err := newLogger(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wapoold:", err)
		os.Exit(2)
	}
	// Profiles are credentials: whatever the daemon and its browsers create
	// is private to the daemon's user.
	syscall.Umask(0o077)
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

// maxRequestBytes bounds a request: a 65,536-character text is at most
// 256 KiB in UTF-8.
const maxRequestBytes = 1 << 20

// serveMetrics serves Prometheus metrics on addr ("" = off) until the
// returned func is called.
func serveMetrics(addr string, m *server.Metrics, log *zap.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", zap.Error(err))
		}
	}()
	log.Info("metrics serving", zap.String("addr", lis.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, nil
}

// supervisorStop is the supervisor's share of --stop-timeout: the calls'
// drain takes a tenth first, and a margin is left for the rest of the exit.
func supervisorStop(total time.Duration) time.Duration { return total * 8 / 10 }

// run serves until ctx ends, then stops everything it started, in order:
// stop accepting calls, let waiting Sends return (their messages stay
// queued), drain the calls, close the browsers gracefully in parallel.
func run(ctx context.Context, cfg config, log *zap.Logger) error {
	deadline := func() <-chan time.Time { return time.After(cfg.StopTimeout) }
	sel := waweb.DefaultSelectors()
	if cfg.Selectors != "" {
		var err error
		if sel, err = waweb.LoadSelectors(cfg.Selectors); err != nil {
			return fmt.Errorf("--selectors: %w", err)
		}
	}
	metrics := server.NewMetrics()
	authMetrics := server.NewAuthMetrics(metrics.Registry)
	auth, err := server.NewAuth(server.AuthConfig{Listen: cfg.Listen, TokensFile: cfg.AuthTokens,
		TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey, TLSClientCA: cfg.TLSClientCA, ClientScopesFile: cfg.TLSClientScopes,
		Insecure: cfg.Insecure, Observer: authMetrics, Log: log})
	if err != nil {
		return err
	}
	authOpts, err := auth.ServerOptions()
	if err != nil {
		return err
	}
	storeOpts := sessionstore.Options{DataDir: cfg.DataDir, ProfilesDir: cfg.ProfilesDir, QueueLimit: cfg.QueueLimit}
	if cfg.clustered() {
		storeOpts.URL, storeOpts.NodeID = cfg.Store, cfg.NodeID
	}
	store, err := sessionstore.Open(storeOpts)
	if err != nil {
		return err
	}
	defer store.Close()
	node, err := newNode(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	if node != nil {
		defer node.close()
	}
	files, err := openMedia(ctx, cfg, store, node, log)
	if err != nil {
		return err
	}
	defer files.Close()
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}

	var hs *server.Health
	var sup *supervisor.Supervisor
	sup = supervisor.New(supervisor.Config{
		Observer:         metrics,
		Store:            store,
		Browser:          browserpool.Config{ExecPath: cfg.Chromium, Lean: cfg.LeanChrome},
		MaxWarm:          cfg.MaxWarm,
		IdleHibernate:    cfg.IdleHibernate,
		MaxBrowserMemory: uint64(cfg.MaxBrowserMemory),
		Restart:          supervisor.RestartPolicy{CoolDown: cfg.FailedCoolDown, CrashLoop: cfg.CrashLoop},
		PruneInactive:    cfg.PruneInactive,
		EventRetention:   cfg.EventRetention,
		// Undelivered events are kept up to this (supervisor/events.go).
		EventUndeliveredMax: cfg.EventRetentionUndelivered,
		ProbeTimeout:        cfg.ProbeTimeout,
		TargetURL:           cfg.TargetURL,
		Selectors:           sel,
		ContractHoldMax:     cfg.ContractHoldMax,
		SelfcheckEvery:      selfcheck(cfg.SelfcheckEvery),
		Log:                 log,
		SendInterval:        cfg.SendInterval,
		SendJitter:          cfg.SendJitter,
		WarmParallel:        cfg.WarmParallel,
		StopTimeout:         supervisorStop(cfg.StopTimeout),
		Placement:           node.placement(),
		Media:               files,
		// A Logout's Deleted event commits with the deletion (the store).
		OnChange: func(s supervisor.Session) { hs.OnChange(s) },
	})
	hs = server.NewHealth(sup)
	metrics.SetSupervisor(sup)
	// Metrics first, so that refused calls are counted too.
	gs := grpc.NewServer(append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(metrics.GRPC.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(metrics.GRPC.StreamServerInterceptor()),
		grpc.MaxRecvMsgSize(grpcMaxRequest(cfg.MaxMediaBytes)),
	}, append(authOpts, node.serverOptions()...)...)...)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	api := server.New(sup, log)
	api.SetMetrics(metrics)
	api.SetMedia(files, cfg.MaxMediaBytes)
	dead := server.NewDeadEvents(store, cfg.WebhookURL != "")
	api.SetDeadEvents(dead)
	node.attach(api)
	wapoolv1.RegisterSessionServiceServer(gs, api)
	metrics.GRPC.InitializeMetrics(gs)
	gw, err := newGateway(cfg, auth, log)
	if err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(cfg.MetricsAddr, metrics, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	// Webhooks read the event log from the store; stopped after the
	// supervisor (deferred), before the store closes.
	stopWebhook, err := startWebhook(cfg, sup, dead, metrics, node.leadsWebhook(), log)
	if err != nil {
		return err
	}
	defer stopWebhook()
	stopWebhooks := startWebhooks(cfg, store, sup, api, metrics, node.leadsWebhook(), log)
	defer stopWebhooks()

	stopConsole, reloadConsole, err := startConsole(cfg, sup, auth, authMetrics, log)
	if err != nil {
		return err
	}
	defer stopConsole()

	supCtx, stopSup := context.WithCancel(context.Background())
	defer stopSup()
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(supCtx) }()
	// The media sweep ends with the supervisor, before the stores close.
	mediaDone := make(chan struct{})
	go func() { defer close(mediaDone); _ = files.Run(supCtx) }()
	defer func() { stopSup(); <-mediaDone }()
	stopNode := node.run(supCtx, sup)
	defer stopNode()
	served := make(chan error, 2) // gs.Serve's result, and that of the gateway's listener
	go func() { served <- gs.Serve(lis) }()
	stopHTTP := gw.serve(gs, served, log)
	defer stopHTTP(0)
	log.Info("wapoold serving", zap.String("listen", lis.Addr().String()), zap.String("http", gw.addr()),
		zap.String("target_url", cfg.TargetURL), zap.String("data_dir", cfg.DataDir), zap.String("auth", auth.Mode()))

	// SIGHUP re-reads the tokens, the client scopes, the TLS files (the
	// console's too) and the selectors (and never kills the daemon).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	hupDone := make(chan struct{})
	go func() {
		defer close(hupDone)
		for {
			select {
			case <-hup:
				if err := auth.Reload(); err != nil {
					log.Error("SIGHUP: keeping the old credentials", zap.Error(err))
				} else {
					log.Info("SIGHUP: credentials reloaded", zap.String("auth", auth.Mode()))
				}
				if err := reloadConsole(); err != nil {
					log.Error("SIGHUP: keeping the console's old certificate", zap.Error(err))
				}
				if err := node.reload(); err != nil {
					log.Error("SIGHUP: keeping the old certificate for forwarding to the other nodes", zap.Error(err))
				}
				reloadSelectors(cfg.Selectors, sup, log)
			case <-supCtx.Done():
				return
			}
		}
	}()
	defer func() { signal.Stop(hup); stopSup(); <-hupDone }()

	// Serve until told to stop, the server fails, or the supervisor ends on
	// its own (it only does on an error): each ends the daemon.
	var serveErr error
	supEnded := false
	select {
	case serveErr = <-served:
	case <-ctx.Done():
	case err := <-supDone:
		supEnded = true
		serveErr = fmt.Errorf("the supervisor stopped: %w", err)
		if err == nil {
			serveErr = errors.New("the supervisor stopped on its own")
		}
		log.Error("stopping", zap.Error(serveErr))
	}
	// A cluster node first moves its tenants to the others, serving
	// (forwarding) calls meanwhile; it has its own --stop-timeout for it.
	node.leave(cfg.StopTimeout)
	stopBy := deadline()
	log.Info("stopping: no new calls; waiting Sends return, their messages stay queued")
	hs.Shutdown()
	sup.Drain()
	drained := make(chan struct{})
	go func() { gs.GracefulStop(); close(drained) }()
	// Sends waiting for SENT return at once on Drain; Link and other
	// streams get a tenth of the budget, the browsers the rest. HTTP calls
	// drain beside the gRPC ones (they are gRPC calls inside).
	httpDrained := make(chan struct{})
	go func() { stopHTTP(cfg.StopTimeout / 10); close(httpDrained) }()
	drainBy := time.NewTimer(cfg.StopTimeout / 10)
	select {
	case <-drained:
	case <-drainBy.C:
		log.Warn("calls did not drain in time: closing connections")
		gs.Stop()
		<-drained
	}
	drainBy.Stop()
	<-httpDrained
	stopConsole() // its link streams end before the browsers close
	log.Info("closing browsers")
	stopSup()
	if !supEnded {
		select {
		case err := <-supDone:
			if err != nil && serveErr == nil {
				serveErr = err
			}
		case <-stopBy:
			return errors.New("browsers did not close within --stop-timeout")
		}
	}
	if serveErr != nil && !errors.Is(serveErr, grpc.ErrServerStopped) {
		return serveErr
	}
	log.Info("stopped")
	return nil
}

// reloadSelectors re-reads the --selectors file and puts it in force for
// every tenant's page at once; running browsers keep running. A file that
// does not read or parse is refused and the selectors in force stay. With
// no --selectors, the defaults stay.
func reloadSelectors(path string, sup *supervisor.Supervisor, log *zap.Logger) {
	if path == "" {
		return
	}
	sel, err := waweb.LoadSelectors(path)
	if err == nil {
		err = sup.SetSelectors(sel)
	}
	if err != nil {
		log.Error("SIGHUP: the selectors file is refused; the selectors in force stay", zap.String("file", path), zap.Error(err))
		return
	}
	log.Info("SIGHUP: selectors reloaded: held queues try again now", zap.String("file", path))
}

// selfcheck turns the flag's 0 (off) into the supervisor's negative.
func selfcheck(every time.Duration) time.Duration {
	if every <= 0 {
		return -1
	}
	return every
}
