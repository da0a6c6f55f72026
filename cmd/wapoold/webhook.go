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
// goroutine that delivers the event log, and one that re-reads the secrets
// on SIGHUP. The returned func stops both and waits for them; an event whose
// POST it cuts is sent again at the next start (its position was not
// stored). Without --webhook-url it starts nothing. dead is the dead-letter
// list the RPCs share with the sender.
//
// In cluster mode (leads not nil) only one node delivers: the one that
// leads the "webhook" duty. The delivered position and the dead-letter list
// are in the shared store, so the next leader resumes where the last one
// stopped.
func startWebhook(cfg config, sup *supervisor.Supervisor, dead *server.DeadEvents, m *server.Metrics, leads func() bool, log *zap.Logger) (stop func(), err error) {
	if cfg.WebhookURL == "" {
		return func() {}, nil
	}
	secrets, err := readSecrets(cfg.WebhookSecretFile)
	if err != nil {
		return nil, err
	}
	sender, err := webhook.New(webhook.Config{
		URL:         cfg.WebhookURL,
		Secrets:     secrets,
		MaxAttempts: cfg.WebhookMaxAttempts,
		Observer:    m.Webhook(),
		Log:         log,
	}, server.NewWebhookSource(sup, dead, log))
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
				s, err := readSecrets(cfg.WebhookSecretFile)
				if err == nil {
					err = sender.SetSecrets(s)
				}
				if err != nil {
					log.Error("SIGHUP: keeping the old webhook secrets", zap.Error(err))
				} else {
					log.Info("SIGHUP: webhook secrets reloaded", zap.Int("secrets", len(s)))
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

// readSecrets reads the webhook secrets: one per line, each without the
// white space around it, blank lines skipped; one or two (webhook.MaxSecrets:
// while a secret rotates, both sign).
func readSecrets(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--webhook-secret-file: %w", err)
	}
	var secrets [][]byte
	for line := range bytes.Lines(b) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			secrets = append(secrets, line)
		}
	}
	switch {
	case len(secrets) == 0:
		return nil, errors.New("--webhook-secret-file: the file holds no secret")
	case len(secrets) > webhook.MaxSecrets:
		return nil, fmt.Errorf("--webhook-secret-file: %d secrets; at most %d (the current one and the next, while a receiver moves to it)", len(secrets), webhook.MaxSecrets)
	}
	return secrets, nil
}
