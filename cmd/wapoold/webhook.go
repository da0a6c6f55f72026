package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
func startWebhook(cfg config, sup *supervisor.Supervisor, m *server.Metrics, log *zap.Logger) (stop func(), err error) {
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
		_ = sender.Run(ctx)
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
