package server

// Webhooks managed by the API: CreateWebhook, ListWebhooks, DeleteWebhook,
// and Webhooks.Run, which delivers them.
//
// A webhook is kept in the store (sessionstore.Webhook), so in cluster mode
// every node answers the RPCs and the node that delivers the webhooks sends
// them all. Run keeps one internal/webhook Sender per webhook, each with its
// own goroutine, delivery position, retries and dead-letter list (the
// consumer sessionstore.WebhookConsumer(id)), so a slow or dead receiver
// delays no other:
//
//	Run ──► every reconcile period (or at once after a change here):
//	          list the store's webhooks
//	          new one ──► start its Sender (its Source filters the log)
//	          gone    ──► cancel its Sender, wait for it
//	ctx ends ──► cancel every Sender, wait for them, return
//
// A new webhook gets the events after the log's head at its creation:
// CreateWebhook stores that position with it.
//
// Ownership: Run owns the senders' goroutines and the map of them; the RPCs
// only touch the store and the wake channel.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// errInvalidWebhook: a CreateWebhook request the daemon refuses
// (INVALID_ARGUMENT, reason INVALID_WEBHOOK).
var errInvalidWebhook = errors.New("invalid webhook")

// minWebhookSecret is the shortest secret CreateWebhook takes, in bytes.
const minWebhookSecret = 16

// WebhookStore keeps the webhooks and their consumers: *sessionstore.Store.
type WebhookStore interface {
	DeadEventStore
	CreateWebhook(w sessionstore.Webhook) (sessionstore.Webhook, error)
	Webhooks() ([]sessionstore.Webhook, error)
	DeleteWebhook(id string) error
}

// WebhooksConfig configures Webhooks. Store and Sup are required.
type WebhooksConfig struct {
	Store WebhookStore
	Sup   *supervisor.Supervisor
	// MaxAttempts, MinBackoff, MaxBackoff: each sender's (webhook.Config);
	// 0: its defaults.
	MaxAttempts            int
	MinBackoff, MaxBackoff time.Duration
	// Reconcile is how often Run reads the list of webhooks from the
	// store (changes made on another node); 0 means 2 s. A change made
	// through this daemon is seen at once.
	Reconcile time.Duration
	// Observer counts deliveries, retries and parked events of every
	// webhook together (not pauses); nil: none.
	Observer webhook.Observer
	Log      *zap.Logger
}

// Webhooks serves the webhook RPCs and delivers the webhooks (Run).
type Webhooks struct {
	cfg  WebhooksConfig
	wake chan struct{} // holds a token when the list changed here
}

// NewWebhooks returns the webhooks of cfg.Store.
func NewWebhooks(cfg WebhooksConfig) *Webhooks {
	if cfg.Reconcile <= 0 {
		cfg.Reconcile = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &Webhooks{cfg: cfg, wake: make(chan struct{}, 1)}
}

// SetWebhooks serves CreateWebhook, ListWebhooks and DeleteWebhook from w.
// Call it before serving; without it they answer UNIMPLEMENTED.
func (s *Server) SetWebhooks(w *Webhooks) { s.hooks = w }

// CreateWebhook adds a webhook.
func (s *Server) CreateWebhook(ctx context.Context, req *wapoolv1.CreateWebhookRequest) (*wapoolv1.CreateWebhookResponse, error) {
	if s.hooks == nil {
		return s.UnimplementedSessionServiceServer.CreateWebhook(ctx, req)
	}
	w, err := s.hooks.create(req)
	if err != nil {
		return nil, toStatus(err)
	}
	if s.log != nil {
		s.log.Info("webhook created", zap.String("webhook", w.ID), zap.String("host", hostOf(w.URL)),
			zap.Strings("tenant_ids", w.TenantIDs), zap.Strings("events", w.Events))
	}
	return &wapoolv1.CreateWebhookResponse{Webhook: webhookProto(w), Secret: string(w.Secret)}, nil
}

// ListWebhooks lists the webhooks.
func (s *Server) ListWebhooks(ctx context.Context, req *wapoolv1.ListWebhooksRequest) (*wapoolv1.ListWebhooksResponse, error) {
	if s.hooks == nil {
		return s.UnimplementedSessionServiceServer.ListWebhooks(ctx, req)
	}
	ws, err := s.hooks.cfg.Store.Webhooks()
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &wapoolv1.ListWebhooksResponse{}
	for _, w := range ws {
		resp.Webhooks = append(resp.Webhooks, webhookProto(w))
	}
	return resp, nil
}

// DeleteWebhook removes a webhook.
func (s *Server) DeleteWebhook(ctx context.Context, req *wapoolv1.DeleteWebhookRequest) (*wapoolv1.DeleteWebhookResponse, error) {
	if s.hooks == nil {
		return s.UnimplementedSessionServiceServer.DeleteWebhook(ctx, req)
	}
	if err := s.hooks.cfg.Store.DeleteWebhook(req.GetWebhookId()); err != nil {
		return nil, toStatus(err)
	}
	s.hooks.changed()
	if s.log != nil {
		s.log.Info("webhook deleted", zap.String("webhook", req.GetWebhookId()))
	}
	return &wapoolv1.DeleteWebhookResponse{}, nil
}

func webhookProto(w sessionstore.Webhook) *wapoolv1.Webhook {
	return &wapoolv1.Webhook{WebhookId: w.ID, Url: w.URL, TenantIds: w.TenantIDs, Events: w.Events, CreatedAt: timestamppb.New(w.CreatedAt)}
}

// hostOf is a URL's host, for the logs (never its credentials or query).
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// changed wakes Run.
func (h *Webhooks) changed() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// create checks req, stores the webhook with its position at the log's
// head, and returns it with its secret.
func (h *Webhooks) create(req *wapoolv1.CreateWebhookRequest) (sessionstore.Webhook, error) {
	u, err := url.Parse(req.GetUrl())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sessionstore.Webhook{}, fmt.Errorf("url: want an http or https URL: %w", errInvalidWebhook)
	}
	if _, err := newEventFilter(req.GetTenantIds(), req.GetEvents()); err != nil {
		return sessionstore.Webhook{}, err
	}
	id := req.GetWebhookId()
	if id == "" {
		id = "wh-" + randomHex(6)
	} else if err := sessionstore.ValidateTenantID(id); err != nil { // the same alphabet as tenant ids
		return sessionstore.Webhook{}, fmt.Errorf("webhook_id %q: letters, digits, '_' and '-' (not first), at most 64: %w", id, errInvalidWebhook)
	}
	secret := req.GetSecret()
	switch {
	case secret == "":
		secret = randomHex(32)
	case len(secret) < minWebhookSecret:
		return sessionstore.Webhook{}, fmt.Errorf("secret: at least %d bytes: %w", minWebhookSecret, errInvalidWebhook)
	}
	// Its events start after the log's head now: stored before the webhook
	// itself, so that no sender can start without it.
	head, err := h.cfg.Sup.HeadCursor()
	if err != nil {
		return sessionstore.Webhook{}, err
	}
	if err := h.cfg.Sup.SetConsumerCursor(sessionstore.WebhookConsumer(id), head); err != nil {
		return sessionstore.Webhook{}, err
	}
	w, err := h.cfg.Store.CreateWebhook(sessionstore.Webhook{ID: id, URL: req.GetUrl(), Secret: []byte(secret),
		TenantIDs: slices.Clone(req.GetTenantIds()), Events: slices.Clone(req.GetEvents())})
	if err != nil {
		return sessionstore.Webhook{}, err
	}
	h.changed()
	return w, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// running is one webhook's sender, as Run keeps it.
type running struct {
	stop context.CancelFunc
	done chan struct{}
}

// Run delivers every webhook of the store until ctx ends, then stops
// their senders and returns once they have ended.
func (h *Webhooks) Run(ctx context.Context) error {
	senders := map[string]*running{}
	defer func() {
		for _, r := range senders {
			r.stop()
		}
		for _, r := range senders {
			<-r.done
		}
	}()
	t := time.NewTicker(h.cfg.Reconcile)
	defer t.Stop()
	for {
		h.reconcile(ctx, senders)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-h.wake:
		}
	}
}

// reconcile starts the senders of new webhooks and stops those of deleted
// ones.
func (h *Webhooks) reconcile(ctx context.Context, senders map[string]*running) {
	ws, err := h.cfg.Store.Webhooks()
	if err != nil {
		h.cfg.Log.Warn("webhooks: reading the list", zap.Error(err))
		return
	}
	keep := map[string]bool{}
	for _, w := range ws {
		keep[w.ID] = true
		if senders[w.ID] != nil {
			continue
		}
		r, err := h.start(ctx, w)
		if err != nil {
			h.cfg.Log.Error("webhooks: not delivered", zap.String("webhook", w.ID), zap.Error(err))
			continue
		}
		senders[w.ID] = r
	}
	for id, r := range senders {
		if !keep[id] {
			r.stop()
			<-r.done
			delete(senders, id)
			h.cfg.Log.Info("webhooks: stopped delivering a deleted webhook", zap.String("webhook", id))
		}
	}
}

// start runs w's sender in a goroutine of its own.
func (h *Webhooks) start(ctx context.Context, w sessionstore.Webhook) (*running, error) {
	filter, err := newEventFilter(w.TenantIDs, w.Events)
	if err != nil {
		return nil, err
	}
	consumer := sessionstore.WebhookConsumer(w.ID)
	log := h.cfg.Log.With(zap.String("webhook", w.ID))
	src := newWebhookSource(h.cfg.Sup, newDeadEventsOf(h.cfg.Store, consumer), consumer, filter.match, log)
	sender, err := webhook.New(webhook.Config{
		URL: w.URL, Secrets: [][]byte{w.Secret}, MaxAttempts: h.cfg.MaxAttempts,
		MinBackoff: h.cfg.MinBackoff, MaxBackoff: h.cfg.MaxBackoff,
		Observer: countsOnly{h.cfg.Observer}, Log: log,
	}, src)
	if err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(ctx)
	r := &running{stop: stop, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = sender.Run(rctx)
	}()
	log.Info("webhooks: delivering", zap.String("host", hostOf(w.URL)))
	return r, nil
}

// countsOnly hands on an Observer's counts, not pauses: the pause gauge is
// the --webhook-url webhook's.
type countsOnly struct{ o webhook.Observer }

func (c countsOnly) Delivered() {
	if c.o != nil {
		c.o.Delivered()
	}
}

func (c countsOnly) Retried() {
	if c.o != nil {
		c.o.Retried()
	}
}

func (c countsOnly) Parked() {
	if c.o != nil {
		c.o.Parked()
	}
}

func (countsOnly) Paused(bool) {}

// eventFilter is a webhook's filters.
type eventFilter struct {
	tenants Scope           // Tenants nil: every tenant
	kinds   map[string]bool // nil: every event
}

// eventKinds are the names CreateWebhookRequest.events takes.
var eventKinds = func() map[string]bool {
	k := map[string]bool{"session": true, "message": true, "session.deleted": true}
	for v, name := range wapoolv1.SessionState_name {
		if v != 0 {
			k["session."+strings.ToLower(strings.TrimPrefix(name, "SESSION_STATE_"))] = true
		}
	}
	for v, name := range wapoolv1.MessageState_name {
		if v != 0 {
			k["message."+strings.ToLower(strings.TrimPrefix(name, "MESSAGE_STATE_"))] = true
		}
	}
	return k
}()

func newEventFilter(tenants, events []string) (eventFilter, error) {
	var f eventFilter
	if len(tenants) > 0 {
		ps, err := parsePatterns(strings.Join(tenants, ","))
		if err != nil || slices.Contains(tenants, "") {
			return f, fmt.Errorf("tenant_ids: each a tenant id, or an id's start followed by *: %w", errInvalidWebhook)
		}
		f.tenants.Tenants = ps
	}
	if len(events) > 0 {
		f.kinds = map[string]bool{}
		for _, e := range events {
			if !eventKinds[e] {
				return f, fmt.Errorf("events: %q is none of session, session.<state>, session.deleted, message, message.<state>: %w", e, errInvalidWebhook)
			}
			f.kinds[e] = true
		}
	}
	return f, nil
}

// match reports whether ev passes the filters.
func (f eventFilter) match(ev supervisor.Event) bool {
	if !f.tenants.Tenant(ev.TenantID) {
		return false
	}
	if f.kinds == nil {
		return true
	}
	pe := event(ev)
	switch {
	case pe.GetSessionState() != nil:
		ss := pe.GetSessionState()
		kind := "session." + strings.ToLower(strings.TrimPrefix(ss.GetTo().String(), "SESSION_STATE_"))
		if ss.GetDeleted() {
			kind = "session.deleted"
		}
		return f.kinds["session"] || f.kinds[kind]
	case pe.GetMessage() != nil:
		kind := "message." + strings.ToLower(strings.TrimPrefix(pe.GetMessage().GetMessage().GetState().String(), "MESSAGE_STATE_"))
		return f.kinds["message"] || f.kinds[kind]
	}
	return false
}

// skipMemo remembers, for a filtered source, how far Next scanned past the
// position the sender gave without finding an event for it, so that the
// next call goes on from there. mu guards the fields that follow.
type skipMemo struct {
	mu          sync.Mutex
	after, from string
}

func (m *skipMemo) get(after string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.after == after && m.from != "" {
		return m.from
	}
	return after
}

func (m *skipMemo) set(after, from string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.after, m.from = after, from
}
