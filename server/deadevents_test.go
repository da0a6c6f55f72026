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

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// cursorsOf returns the cursor of each entry.
func cursorsOf(ds []*wapoolv1.DeadEvent) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.GetCursor()
	}
	return out
}

// wantCode fails unless err is a status with code and, when reason is not
// empty, an ErrorInfo with that reason.
func wantCode(t *testing.T, what string, err error, code codes.Code, reason string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Errorf("%s: %v, want %v", what, err, code)
		return
	}
	if reason == "" {
		return
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reason {
			return
		}
	}
	t.Errorf("%s: %v, want reason %s", what, err, reason)
}

// newDeadEventStack is an event stack whose server keeps the dead-letter
// list in its store, as wapoold sets it up when a webhook is on.
func newDeadEventStack(t *testing.T) (*eventStack, *DeadEvents) {
	t.Helper()
	st := newEventStack(t)
	dead := NewDeadEvents(st.store, true)
	st.srv.SetDeadEvents(dead)
	return st, dead
}

// The dead-letter RPCs over the store: the webhook source parks events,
// ListDeadEvents pages through them with their events, RedeliverDeadEvents
// marks all or the ones named (all or nothing) and wakes the source's Next
// at once; the source then hands them out and removes the delivered ones.
func TestDeadEventsRPCs(t *testing.T) {
	st, dead := newDeadEventStack(t)
	c := st.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := NewWebhookSource(st.sup, dead, nil)

	var cursors []string
	for _, to := range []string{"READY", "HIBERNATED", "FAILED"} {
		cur := st.session(t, "shop", to)
		cursors = append(cursors, cur)
		ds, err := src.Next(ctx, st.store.Cursor(0), 10)
		if err != nil || len(ds) == 0 {
			t.Fatalf("Next = %v, %v", ds, err)
		}
		body := ds[len(ds)-1].Body
		if err := src.Park(webhook.DeadLetter{Delivery: webhook.Delivery{ID: cur, Body: body}, Attempts: 10, LastError: "HTTP 500"}); err != nil {
			t.Fatal(err)
		}
	}

	first, err := c.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := cursorsOf(first.GetDeadEvents()); !slices.Equal(got, cursors[:2]) || first.GetNextAfter() != cursors[1] {
		t.Fatalf("first page %q, next %q; want %q, next %q", got, first.GetNextAfter(), cursors[:2], cursors[1])
	}
	d := first.GetDeadEvents()[1]
	if d.GetEvent().GetCursor() != cursors[1] || d.GetEvent().GetSessionState().GetTo() != wapoolv1.SessionState_SESSION_STATE_HIBERNATED ||
		d.GetAttempts() != 10 || d.GetLastError() != "HTTP 500" || d.GetParkedAt() == nil || d.GetRedeliveryPending() {
		t.Errorf("entry %v", d)
	}
	last, err := c.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{After: first.GetNextAfter()})
	if err != nil || !slices.Equal(cursorsOf(last.GetDeadEvents()), cursors[2:]) || last.GetNextAfter() != "" {
		t.Fatalf("second page %v, %v; want the third entry, no next", last, err)
	}
	_, err = c.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{After: "nonsense"})
	wantCode(t, "ListDeadEvents after nonsense", err, codes.InvalidArgument, "INVALID_CURSOR")

	// Named: all or nothing.
	_, err = c.RedeliverDeadEvents(ctx, &wapoolv1.RedeliverDeadEventsRequest{Cursors: []string{cursors[0], "nonsense"}})
	wantCode(t, "RedeliverDeadEvents of nonsense", err, codes.InvalidArgument, "INVALID_CURSOR")
	_, err = c.RedeliverDeadEvents(ctx, &wapoolv1.RedeliverDeadEventsRequest{Cursors: []string{cursors[0], st.store.Cursor(99)}})
	wantCode(t, "RedeliverDeadEvents of a cursor not listed", err, codes.NotFound, "")
	if ds, _ := src.Redeliveries(ctx, 10); len(ds) != 0 {
		t.Fatalf("a refused redelivery marked %v", ds)
	}

	// A Next waiting for events returns at once when a redelivery is asked.
	woken := make(chan error, 1)
	go func() {
		ds, err := src.Next(ctx, cursors[2], 10)
		if len(ds) > 0 {
			err = status.Error(codes.Internal, "events came")
		}
		woken <- err
	}()
	time.Sleep(50 * time.Millisecond) // Next waits
	resp, err := c.RedeliverDeadEvents(ctx, &wapoolv1.RedeliverDeadEventsRequest{Cursors: []string{cursors[1]}})
	if err != nil || resp.GetCount() != 1 {
		t.Fatalf("RedeliverDeadEvents(one) = %v, %v", resp, err)
	}
	select {
	case err := <-woken:
		if err != nil {
			t.Fatalf("the woken Next: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next was not woken by the redelivery")
	}
	ds, err := src.Redeliveries(ctx, 10)
	if err != nil || len(ds) != 1 || ds[0].ID != cursors[1] {
		t.Fatalf("Redeliveries = %v, %v; want the second entry", ds, err)
	}
	if err := src.Redelivered(ds[0].ID); err != nil {
		t.Fatal(err)
	}
	resp, err = c.RedeliverDeadEvents(ctx, &wapoolv1.RedeliverDeadEventsRequest{})
	if err != nil || resp.GetCount() != 2 {
		t.Fatalf("RedeliverDeadEvents(all) = %v, %v; want 2", resp, err)
	}
	all, _ := c.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{})
	if got := cursorsOf(all.GetDeadEvents()); !slices.Equal(got, []string{cursors[0], cursors[2]}) || !all.GetDeadEvents()[0].GetRedeliveryPending() {
		t.Errorf("after the redeliveries: %v", all)
	}

	// Without a webhook: listing works, redelivering is refused.
	st.srv.SetDeadEvents(NewDeadEvents(st.store, false))
	if _, err := c.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{}); err != nil {
		t.Errorf("ListDeadEvents without a webhook: %v", err)
	}
	_, err = c.RedeliverDeadEvents(ctx, &wapoolv1.RedeliverDeadEventsRequest{})
	wantCode(t, "RedeliverDeadEvents without a webhook", err, codes.FailedPrecondition, "WEBHOOK_OFF")
}

// The sender over the store: an event the endpoint keeps failing is parked
// in the store after its attempts, the next ones are delivered, and a
// redelivery asked through the RPC delivers it once the endpoint is back.
func TestWebhookParksAndRedeliversThroughTheStore(t *testing.T) {
	st, dead := newDeadEventStack(t)
	c := st.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var mu sync.Mutex
	failing := ""    // the event id answered 502 (mu)
	var got []string // event ids accepted (mu)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get(webhook.EventIDHeader)
		if id == failing {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		got = append(got, id)
	}))
	defer hook.Close()
	src := NewWebhookSource(st.sup, dead, nil)
	if _, err := src.Position(ctx); err != nil { // from now on
		t.Fatal(err)
	}
	m := NewMetrics()
	sender, err := webhook.New(webhook.Config{URL: hook.URL, Secrets: [][]byte{[]byte("k")}, MaxAttempts: 3,
		MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Observer: m.Webhook()}, src)
	if err != nil {
		t.Fatal(err)
	}
	first := st.session(t, "shop", "READY")
	second := st.session(t, "shop", "HIBERNATED")
	mu.Lock()
	failing = first
	mu.Unlock()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sender.Run(runCtx)
	}()
	defer func() { stop(); <-done }()
	accepted := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting until %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUntil("the second event is delivered", func() bool { return slices.Equal(accepted(), []string{second}) })
	list, err := c.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{})
	if err != nil || !slices.Equal(cursorsOf(list.GetDeadEvents()), []string{first}) || list.GetDeadEvents()[0].GetLastError() != "HTTP 502" {
		t.Fatalf("dead-letter list %v, %v; want the first event, HTTP 502", list, err)
	}
	if n := testutil.ToFloat64(m.webhookParked); n != 1 {
		t.Errorf("wapool_webhook_dead_letters_total = %v, want 1", n)
	}
	mu.Lock()
	failing = ""
	mu.Unlock()
	if _, err := c.RedeliverDeadEvents(ctx, &wapoolv1.RedeliverDeadEventsRequest{}); err != nil {
		t.Fatal(err)
	}
	waitUntil("the first event is redelivered", func() bool { return slices.Equal(accepted(), []string{second, first}) })
	waitUntil("the list is empty", func() bool {
		list, err := c.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{})
		return err == nil && len(list.GetDeadEvents()) == 0
	})
}
