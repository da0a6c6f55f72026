package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
)

// hookInbox is a webhook receiver: it checks each signature with its
// secret and keeps the events it accepted; down, it answers 503. mu guards
// the fields that follow.
type hookInbox struct {
	secret   []byte
	mu       sync.Mutex
	down     bool
	events   []*wapoolv1.Event
	attempts int
	bad      int
}

func (h *hookInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts++
	if h.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	ev := &wapoolv1.Event{}
	if webhook.Verify(h.secret, r.Header, body, time.Now(), 0) != nil || protojson.Unmarshal(body, ev) != nil {
		h.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !slices.ContainsFunc(h.events, func(e *wapoolv1.Event) bool { return e.GetCursor() == ev.GetCursor() }) {
		h.events = append(h.events, ev)
	}
}

func (h *hookInbox) got() (cursors []string, attempts, bad int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		cursors = append(cursors, e.GetCursor())
	}
	return cursors, h.attempts, h.bad
}

// TestWebhooksAPI: webhooks made with CreateWebhook, each with its own
// filters, each get exactly their events, signed with their own secret,
// while a third one's receiver is down (it is retried, and delays no
// other); ListWebhooks shows them without secrets; a deleted one stops and
// its consumer state goes; bad requests are INVALID_ARGUMENT, a taken id
// ALREADY_EXISTS.
func TestWebhooksAPI(t *testing.T) {
	st := newEventStack(t)
	hooks := NewWebhooks(WebhooksConfig{Store: st.store, Sup: st.sup, Reconcile: 50 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxAttempts: 1000, Log: zap.NewNop()})
	st.srv.SetWebhooks(hooks)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- hooks.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	inbox := func(secret string) (*hookInbox, string) {
		h := &hookInbox{secret: []byte(secret)}
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		return h, ts.URL
	}
	a, aURL := inbox("secret-of-a-0123456789")
	b, bURL := inbox("")
	c, cURL := inbox("secret-of-c-0123456789")
	c.down = true

	st.session(t, "shop-1", "READY") // before any webhook: nobody gets it
	create := func(req *wapoolv1.CreateWebhookRequest) *wapoolv1.CreateWebhookResponse {
		t.Helper()
		resp, err := st.srv.CreateWebhook(ctx, req)
		if err != nil {
			t.Fatalf("CreateWebhook %v: %v", req, err)
		}
		return resp
	}
	create(&wapoolv1.CreateWebhookRequest{WebhookId: "a", Url: aURL, Secret: string(a.secret), TenantIds: []string{"shop-*"}, Events: []string{"session.ready", "message.sent"}})
	rb := create(&wapoolv1.CreateWebhookRequest{Url: bURL, TenantIds: []string{"other"}, Events: []string{"session"}})
	if len(rb.GetSecret()) != 64 || rb.GetWebhook().GetWebhookId() == "" {
		t.Fatalf("a webhook without secret or id: %v", rb)
	}
	b.mu.Lock()
	b.secret = []byte(rb.GetSecret())
	b.mu.Unlock()
	create(&wapoolv1.CreateWebhookRequest{WebhookId: "c", Url: cURL, Secret: string(c.secret)})

	var wantA, wantB []string
	wantA = append(wantA, st.session(t, "shop-1", "READY"))
	st.session(t, "shop-1", "LINKING")
	wantB = append(wantB, st.session(t, "other", "READY"))
	wantA = append(wantA, st.session(t, "shop-2", "READY"))
	for range 50 { // a run of events neither wants
		st.session(t, "x", "READY")
	}
	wantB = append(wantB, st.session(t, "other", "LINKING"))
	wantA = append(wantA, st.session(t, "shop-2", "READY"))

	deadline := time.Now().Add(10 * time.Second)
	for {
		ga, _, _ := a.got()
		gb, _, _ := b.got()
		if len(ga) >= len(wantA) && len(gb) >= len(wantB) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: a got %v (want %v), b got %v (want %v)", ga, wantA, gb, wantB)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything more would show now
	ga, _, badA := a.got()
	gb, _, badB := b.got()
	if !slices.Equal(ga, wantA) || !slices.Equal(gb, wantB) || badA+badB > 0 {
		t.Errorf("a got %v, want %v; b got %v, want %v; bad signatures %d, %d", ga, wantA, gb, wantB, badA, badB)
	}
	if gc, attempts, _ := c.got(); len(gc) != 0 || attempts < 2 {
		t.Errorf("the receiver that is down: %d events, %d attempts; want none and retries", len(gc), attempts)
	}

	list, err := st.srv.ListWebhooks(ctx, &wapoolv1.ListWebhooksRequest{})
	if err != nil || len(list.GetWebhooks()) != 3 || list.GetWebhooks()[0].GetWebhookId() != "a" || list.GetWebhooks()[2].GetWebhookId() != "c" {
		t.Fatalf("ListWebhooks: %v %v", list, err)
	}
	if w := list.GetWebhooks()[0]; w.GetUrl() != aURL || !slices.Equal(w.GetTenantIds(), []string{"shop-*"}) || w.GetCreatedAt() == nil {
		t.Errorf("webhook a listed as %v", w)
	}

	// c comes back: it gets everything since its creation, in order.
	c.mu.Lock()
	c.down = false
	c.mu.Unlock()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		end := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(end) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("c to catch up", func() bool { gc, _, _ := c.got(); return len(gc) == 2+1+1+50+1+1 })

	// Deleted, b gets nothing more, and its position goes.
	if _, err := st.srv.DeleteWebhook(ctx, &wapoolv1.DeleteWebhookRequest{WebhookId: rb.GetWebhook().GetWebhookId()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	st.session(t, "other", "READY")
	later := st.session(t, "shop-3", "READY")
	waitFor("a's next event", func() bool { ga, _, _ := a.got(); return slices.Contains(ga, later) })
	if gb, _, _ := b.got(); len(gb) != len(wantB) {
		t.Errorf("a deleted webhook got %d events, want %d", len(gb), len(wantB))
	}
	if _, ok, _ := st.store.ConsumerPosition(sessionstore.WebhookConsumer(rb.GetWebhook().GetWebhookId())); ok {
		t.Error("the deleted webhook's position is still stored")
	}
	if _, err := st.srv.DeleteWebhook(ctx, &wapoolv1.DeleteWebhookRequest{WebhookId: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("deleting an unknown webhook: %v", err)
	}

	for name, req := range map[string]*wapoolv1.CreateWebhookRequest{
		"no url":       {},
		"ftp url":      {Url: "ftp://example.com/"},
		"bad pattern":  {Url: aURL, TenantIds: []string{"a*b"}},
		"bad event":    {Url: aURL, Events: []string{"message.delivered"}},
		"short secret": {Url: aURL, Secret: "short"},
		"bad id":       {Url: aURL, WebhookId: "-x"},
	} {
		_, err := st.srv.CreateWebhook(ctx, req)
		if code, info := errorInfo(t, err); code != codes.InvalidArgument || info.GetReason() != "INVALID_WEBHOOK" {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = st.srv.CreateWebhook(ctx, &wapoolv1.CreateWebhookRequest{WebhookId: "a", Url: aURL})
	if code, info := errorInfo(t, err); code != codes.AlreadyExists || info.GetReason() != "WEBHOOK_EXISTS" {
		t.Errorf("a taken id: %v", err)
	}
}
