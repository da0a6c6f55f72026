package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/wapool/wapool/server"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// startWebhooks serves the webhook RPCs (CreateWebhook, ListWebhooks,
// DeleteWebhook) on api and delivers the webhooks made with them: on a
// single node always, in cluster mode (leads not nil) while this node
// leads the "webhook" duty, as the --webhook-url webhook. The returned
// func stops the delivery and waits for it.
func startWebhooks(cfg config, store *sessionstore.Store, sup *supervisor.Supervisor, api *server.Server, m *server.Metrics, leads func() bool, log *zap.Logger) func() {
	hooks := server.NewWebhooks(server.WebhooksConfig{Store: store, Sup: sup, MaxAttempts: cfg.WebhookMaxAttempts,
		Observer: m.Webhook(), Log: log})
	api.SetWebhooks(hooks)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if leads == nil {
			_ = hooks.Run(ctx)
			return
		}
		runWhileLeading(ctx, leads, hooks.Run, log)
	}()
	return func() { cancel(); <-done }
}
