package server

// The webhook's dead-letter list: the ListDeadEvents and RedeliverDeadEvents
// RPCs, and the WebhookSource's side of it (Park, Redeliveries,
// Redelivered). The list lives in the store under WebhookConsumer, so it
// survives a restart and, in cluster mode, any node answers the RPCs while
// the node that delivers the webhooks sends the redeliveries.

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
)

// errWebhookOff: RedeliverDeadEvents on a daemon without --webhook-url
// (FAILED_PRECONDITION, reason WEBHOOK_OFF).
var errWebhookOff = errors.New("no webhook is configured (--webhook-url): nothing would redeliver")

// DeadEventStore keeps the dead-letter list: *sessionstore.Store.
type DeadEventStore interface {
	Cursor(seq uint64) string
	ParseCursor(cursor string) (uint64, error)
	ParkDeadEvent(consumer string, d sessionstore.DeadEvent) (sessionstore.DeadEvent, error)
	DeadEvents(consumer string, q sessionstore.DeadEventQuery) ([]sessionstore.DeadEvent, error)
	RedeliverDeadEvents(consumer string, seqs []uint64) (int, error)
	DeleteDeadEvent(consumer string, seq uint64) error
}

// DeadEvents is the webhook's dead-letter list, shared by the RPCs and the
// WebhookSource of one daemon: a redelivery asked for here wakes this
// daemon's sender at once (another node's within webhookPoll).
type DeadEvents struct {
	store    DeadEventStore
	consumer string        // whose list: WebhookConsumer, or an API webhook's
	on       bool          // a webhook delivers: redeliveries are sent
	wake     chan struct{} // holds a token while a redelivery waits to be noticed
}

// NewDeadEvents returns the dead-letter list kept in store. webhookOn says
// whether this daemon has a webhook (--webhook-url): without one,
// RedeliverDeadEvents is refused.
func NewDeadEvents(store DeadEventStore, webhookOn bool) *DeadEvents {
	return &DeadEvents{store: store, consumer: WebhookConsumer, on: webhookOn, wake: make(chan struct{}, 1)}
}

// newDeadEventsOf returns the dead-letter list of another consumer of the
// log (an API webhook's), which its sender uses.
func newDeadEventsOf(store DeadEventStore, consumer string) *DeadEvents {
	return &DeadEvents{store: store, consumer: consumer, on: true, wake: make(chan struct{}, 1)}
}

// SetDeadEvents serves ListDeadEvents and RedeliverDeadEvents from d. Call
// it before serving; without it both answer UNIMPLEMENTED.
func (s *Server) SetDeadEvents(d *DeadEvents) { s.dead = d }

// ListDeadEvents returns one page of the dead-letter list.
func (s *Server) ListDeadEvents(ctx context.Context, req *wapoolv1.ListDeadEventsRequest) (*wapoolv1.ListDeadEventsResponse, error) {
	if s.dead == nil {
		return s.UnimplementedSessionServiceServer.ListDeadEvents(ctx, req)
	}
	page, next, err := s.dead.list(req.GetAfter(), int(req.GetLimit()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &wapoolv1.ListDeadEventsResponse{DeadEvents: page, NextAfter: next}, nil
}

// RedeliverDeadEvents marks entries of the dead-letter list for redelivery.
func (s *Server) RedeliverDeadEvents(ctx context.Context, req *wapoolv1.RedeliverDeadEventsRequest) (*wapoolv1.RedeliverDeadEventsResponse, error) {
	if s.dead == nil {
		return s.UnimplementedSessionServiceServer.RedeliverDeadEvents(ctx, req)
	}
	n, err := s.dead.redeliver(req.GetCursors())
	if err != nil {
		return nil, toStatus(err)
	}
	if s.log != nil {
		s.log.Info("webhook: redelivery of dead letters asked for", zap.Int("count", n), zap.Int("named", len(req.GetCursors())))
	}
	return &wapoolv1.RedeliverDeadEventsResponse{Count: int32(n)}, nil
}

// list returns the entries after the cursor `after` ("": from the first),
// up to limit, and the cursor of the next page ("" when none).
func (d *DeadEvents) list(after string, limit int) ([]*wapoolv1.DeadEvent, string, error) {
	q := sessionstore.DeadEventQuery{Limit: limit}
	if after != "" {
		seq, err := d.store.ParseCursor(after)
		if err != nil {
			return nil, "", err
		}
		q.After = seq
	}
	limit = q.Limit
	if limit <= 0 {
		limit = sessionstore.DefaultDeadEventLimit
	}
	limit = min(limit, sessionstore.MaxDeadEventLimit)
	q.Limit = limit + 1 // one more tells whether another page follows
	ds, err := d.store.DeadEvents(d.consumer, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ds) > limit {
		ds = ds[:limit]
		next = d.store.Cursor(ds[limit-1].Seq)
	}
	out := make([]*wapoolv1.DeadEvent, len(ds))
	for i, e := range ds {
		out[i] = &wapoolv1.DeadEvent{
			Cursor:            d.store.Cursor(e.Seq),
			Attempts:          int32(e.Attempts),
			LastError:         e.LastError,
			ParkedAt:          timestamppb.New(e.ParkedAt),
			RedeliveryPending: e.Redeliver,
		}
		var ev wapoolv1.Event
		if protojson.Unmarshal(e.Body, &ev) == nil {
			out[i].Event = &ev
		}
	}
	return out, next, nil
}

// redeliver marks the entries named by cursors (none: all) and wakes the
// sender.
func (d *DeadEvents) redeliver(cursors []string) (int, error) {
	if !d.on {
		return 0, errWebhookOff
	}
	seqs := make([]uint64, 0, len(cursors))
	for _, c := range cursors {
		seq, err := d.store.ParseCursor(c)
		if err != nil {
			return 0, err
		}
		seqs = append(seqs, seq)
	}
	n, err := d.store.RedeliverDeadEvents(d.consumer, seqs)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		select {
		case d.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return n, nil
}

// park stores a dead letter of the webhook.
func (d *DeadEvents) park(dl webhook.DeadLetter) error {
	seq, err := d.store.ParseCursor(dl.ID)
	if err != nil {
		return err
	}
	_, err = d.store.ParkDeadEvent(d.consumer, sessionstore.DeadEvent{
		Seq: seq, Body: dl.Body, Attempts: dl.Attempts, LastError: dl.LastError,
	})
	return err
}

// redeliveries returns up to max entries marked for redelivery.
func (d *DeadEvents) redeliveries(max int) ([]webhook.Delivery, error) {
	ds, err := d.store.DeadEvents(d.consumer, sessionstore.DeadEventQuery{Limit: max, RedeliverOnly: true})
	if err != nil {
		return nil, err
	}
	out := make([]webhook.Delivery, len(ds))
	for i, e := range ds {
		out[i] = webhook.Delivery{ID: d.store.Cursor(e.Seq), Body: e.Body}
	}
	return out, nil
}

// delivered removes a redelivered entry.
func (d *DeadEvents) delivered(cursor string) error {
	seq, err := d.store.ParseCursor(cursor)
	if err != nil {
		return fmt.Errorf("dead event %q: %w", cursor, err)
	}
	return d.store.DeleteDeadEvent(d.consumer, seq)
}
