package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/webhook"
	"github.com/wapool/wapool/server"
	"github.com/wapool/wapool/supervisor"
)

// startWebhook starts the webhook sender when --webhook-url is set: one
// goroutine that delivers the event log, and one that re-reads the secret on
// SIGHUP. The returned func stops both and waits for them; an event whose
// POST it cuts is sent again at the next start (its position was not
// stored). Without --webhook-url it starts nothing.
//
// In cluster mode (leads not nil) only one node delivers: the one that
// leads the "webhook" duty. The delivered position is in the shared
// store, so the next leader resumes where the last one stopped.
func startWebhook(cfg config, sup *supervisor.Supervisor, m *server.Metrics, leads func() bool, log *zap.Logger) (stop func(), err error) {
	if cfg.WebhookURL == "" {
		return func() {}, nil
	}
	secret, err := readSecret(cfg.WebhookSecretFile)
	if err != nil {
		return nil, err
	}
	sender, err := webhook.New(webhook.Config{
		URL:      cfg.WebhookURL,
		Secret:   secret,
		Observer: m.Webhook(),
		Log:      log,
	}, server.NewWebhookSource(sup, log))
	if err != nil {
		return nil, fmt.Errorf("--webhook-url: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if leads == nil {
			_ = sender.Run(ctx)
			return
		}
		runWhileLeading(ctx, leads, sender.Run, log)
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		for {
			select {
			case <-hup:
				if s, err := readSecret(cfg.WebhookSecretFile); err != nil {
					log.Error("SIGHUP: keeping the old webhook secret", zap.Error(err))
				} else {
					sender.SetSecret(s)
					log.Info("SIGHUP: webhook secret reloaded")
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-sent
		<-reloaded
	}, nil
}

// runWhileLeading runs run while leads() says so, checking every second,
// until ctx ends.
func runWhileLeading(ctx context.Context, leads func() bool, run func(context.Context) error, log *zap.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var stop context.CancelFunc
	var done chan struct{}
	for {
		switch {
		case leads() && stop == nil:
			log.Info("webhook: this node delivers the cluster's webhooks")
			var rctx context.Context
			rctx, stop = context.WithCancel(ctx)
			done = make(chan struct{})
			go func() {
				defer close(done)
				_ = run(rctx)
			}()
		case !leads() && stop != nil:
			log.Info("webhook: another node delivers the cluster's webhooks now")
			stop()
			<-done
			stop = nil
		}
		select {
		case <-ctx.Done():
			if stop != nil {
				stop()
				<-done
			}
			return
		case <-t.C:
		}
	}
}

// readSecret reads the webhook secret: the file's content without leading
// and trailing white space (a final newline), not empty.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--webhook-secret-file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("--webhook-secret-file: the file holds no secret")
	}
	return b, nil
}
