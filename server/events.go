package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/supervisor"
)

// CursorHeader is the response header metadata of WatchEvents that holds the
// cursor the stream starts after. The server sends the headers once the
// stream is in place, before any event.
const CursorHeader = "wapool-cursor"

// WebhookConsumer names the webhook's delivered position in the store.
const WebhookConsumer = "webhook"

// eventConfig configures WatchEvents; the zero value takes the defaults.
type eventConfig struct {
	buffer  int      // live events held per stream; 0: supervisor.DefaultWatchBuffer
	metrics *Metrics // nil: none
}

// SetEventBuffer sets how many live events a WatchEvents stream holds for a
// client that has not read them yet before it is cut off with
// RESOURCE_EXHAUSTED; n <= 0 means supervisor.DefaultWatchBuffer (1024).
// Call it before serving.
func (s *Server) SetEventBuffer(n int) { s.events.buffer = n }

// SetMetrics makes WatchEvents count its streams in m. Call it before
// serving.
func (s *Server) SetMetrics(m *Metrics) { s.events.metrics = m }

// WatchEvents streams the event log: the backlog after req.after, then live
// events, of the tenants the caller's scope covers (the authentication
// refused a tenant_ids filter outside it; without a filter, the others'
// events are left out).
func (s *Server) WatchEvents(req *wapoolv1.WatchEventsRequest, stream wapoolv1.SessionService_WatchEventsServer) error {
	if m := s.events.metrics; m != nil {
		m.eventStreams.Inc()
		defer m.eventStreams.Dec()
	}
	err := s.sup.WatchEvents(stream.Context(), supervisor.WatchRequest{
		Tenants: req.GetTenantIds(),
		After:   req.GetAfter(),
		Buffer:  s.events.buffer,
		Started: func(cursor string) error {
			return stream.SendHeader(metadata.Pairs(CursorHeader, cursor))
		},
	}, func(ev supervisor.Event) error {
		if !TenantAllowed(stream.Context(), ev.TenantID) {
			return nil
		}
		return stream.Send(&wapoolv1.WatchEventsResponse{Event: event(ev)})
	})
	if m := s.events.metrics; m != nil && errors.Is(err, supervisor.ErrSlowConsumer) {
		m.eventStreamsCut.Inc()
	}
	if errors.Is(err, supervisor.ErrSlowConsumer) && s.log != nil {
		s.log.Info("WatchEvents: a slow client was cut off", zap.Error(err))
	}
	return toStatus(err)
}

// eventJSON is how an event is written in a webhook body: the proto3 JSON
// mapping, with zero values (as `wapoolctl -o json` prints).
var eventJSON = protojson.MarshalOptions{EmitDefaultValues: true}

// EventJSON returns the webhook body of ev: the protojson of its Event.
func EventJSON(ev supervisor.Event) ([]byte, error) {
	return eventJSON.Marshal(event(ev))
}

// WebhookSource reads the event log for the webhook sender
// (internal/webhook): each delivery is one Event as JSON, its id the
// event's cursor; the delivered position is kept in the store under
// WebhookConsumer, and so is the dead-letter list (DeadEvents).
type WebhookSource struct {
	sup      *supervisor.Supervisor
	dead     *DeadEvents
	log      *zap.Logger
	consumer string                      // where the position is kept
	match    func(supervisor.Event) bool // nil: every event
	skipped  skipMemo                    // with match: how far Next scanned for nothing
}

var _ webhook.Source = (*WebhookSource)(nil)

// webhookPoll bounds how long Next waits for events before it returns none,
// so that the sender looks for redeliveries asked on another node (cluster
// mode); one asked on this daemon wakes Next at once.
var webhookPoll = 5 * time.Second

// NewWebhookSource returns the source of the webhook sender, its
// dead-letter list in dead.
func NewWebhookSource(sup *supervisor.Supervisor, dead *DeadEvents, log *zap.Logger) *WebhookSource {
	return newWebhookSource(sup, dead, WebhookConsumer, nil, log)
}

// newWebhookSource is the source of the consumer's webhook, which gets the
// events match passes (nil: all).
func newWebhookSource(sup *supervisor.Supervisor, dead *DeadEvents, consumer string, match func(supervisor.Event) bool, log *zap.Logger) *WebhookSource {
	if log == nil {
		log = zap.NewNop()
	}
	return &WebhookSource{sup: sup, dead: dead, log: log, consumer: consumer, match: match}
}

// Position returns the last delivered cursor. The first time (no position
// stored) it stores the newest event's cursor: a new webhook receives the
// events from then on, not the 7 days before.
func (w *WebhookSource) Position(context.Context) (string, error) {
	c, ok, err := w.sup.ConsumerCursor(w.consumer)
	if err != nil || ok {
		return c, err
	}
	head, err := w.sup.HeadCursor()
	if err != nil {
		return "", err
	}
	if err := w.sup.SetConsumerCursor(w.consumer, head); err != nil {
		return "", err
	}
	return head, nil
}

// Next waits for the events after `after` and returns up to max of them as
// deliveries; it returns none when a redelivery is asked for, or after
// webhookPoll. When the events after `after` were purged (the endpoint was
// down longer than the retention), it logs how delivery resumes and goes on
// with the oldest event kept.
func (w *WebhookSource) Next(ctx context.Context, after string, max int) ([]webhook.Delivery, error) {
	wctx, cancel := context.WithTimeout(ctx, webhookPoll)
	woken := make(chan struct{}) // closed when the goroutine below returned
	go func() {
		defer close(woken)
		select {
		case <-w.dead.wake:
			cancel()
		case <-wctx.Done():
		}
	}()
	defer func() { cancel(); <-woken }()
	from := after
	if w.match != nil {
		from = w.skipped.get(after)
	}
	var evs []supervisor.Event
	for {
		var err error
		evs, err = w.sup.NextEvents(wctx, from, max)
		var re *supervisor.CursorRangeError
		if errors.As(err, &re) {
			w.log.Error("webhook: events were purged before they were delivered; going on with the oldest kept",
				zap.String("delivered", from), zap.String("oldest_kept", re.Oldest))
			evs, err = w.sup.NextEvents(wctx, re.Start, max)
		}
		if err != nil && ctx.Err() == nil && wctx.Err() != nil {
			return nil, nil // woken, or polled: no events yet
		}
		if err != nil {
			return nil, err
		}
		if w.match == nil || len(evs) == 0 {
			break
		}
		kept := evs[:0]
		for _, ev := range evs {
			if w.match(ev) {
				kept = append(kept, ev)
			}
		}
		if len(kept) > 0 {
			evs = kept
			break
		}
		// None for this webhook: go on past them, and keep that position
		// (nothing before it is left to deliver).
		from = evs[len(evs)-1].Cursor
		w.skipped.set(after, from)
		if err := w.sup.SetConsumerCursor(w.consumer, from); err != nil {
			return nil, err
		}
	}
	out := make([]webhook.Delivery, 0, len(evs))
	for _, ev := range evs {
		body, err := EventJSON(ev)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.Cursor, err)
		}
		out = append(out, webhook.Delivery{ID: ev.Cursor, Body: body})
	}
	return out, nil
}

// Ack stores cursor as delivered.
func (w *WebhookSource) Ack(cursor string) error {
	return w.sup.SetConsumerCursor(w.consumer, cursor)
}

// Park stores d in the dead-letter list.
func (w *WebhookSource) Park(d webhook.DeadLetter) error { return w.dead.park(d) }

// Redeliveries returns the entries of the dead-letter list marked for
// redelivery.
func (w *WebhookSource) Redeliveries(_ context.Context, max int) ([]webhook.Delivery, error) {
	return w.dead.redeliveries(max)
}

// Redelivered removes a delivered entry from the dead-letter list.
func (w *WebhookSource) Redelivered(cursor string) error { return w.dead.delivered(cursor) }
