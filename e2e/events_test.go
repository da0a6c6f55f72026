package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Events out (DESIGN.md "WatchEvents" and "Webhooks"), end to end: the real
// daemon, a real browser on fakewa, gRPC streams, and a webhook receiver on
// 127.0.0.1. One linked daemon serves every check, in order.

// TestEventsStreamResumeAndWebhook:
//   - a Send's QUEUED → SENDING → SENT appear in order on a stream;
//   - a consumer that disconnects mid-way and reconnects with its last
//     cursor gets every later event once, with no gap;
//   - the webhook receiver checks every signature; it answers 500 twice to
//     one event, then 200, and the event arrives (its id de-duplicates it);
//   - the receiver answers 500 while the daemon is SIGKILLed after a Send's
//     changes: after the restart the events arrive, none lost.
func TestEventsStreamResumeAndWebhook(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	hook := newHookReceiver(t, "e2e-webhook-secret")
	secretFile := filepath.Join(t.TempDir(), "webhook-secret")
	if err := os.WriteFile(secretFile, []byte("e2e-webhook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// On the page's worst case: slow boot, slow acks, the late editor.
	f, d := startStackWith(t, fakewa.WorstCaseOptions(), "--webhook-url", hook.url, "--webhook-secret-file", secretFile, "--metrics-addr", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The reference consumer: one stream from before the first event to the
	// end, never disconnected.
	ref, start := openStream(t, ctx, d, "")
	link(t, d, f, "shop", accountA)
	m1 := sendKey(t, ctx, d, contact1, "first", "k1")

	t.Run("send states in order", func(t *testing.T) {
		sent := ref.waitMessage(t, m1.Id, wapoolv1.MessageState_MESSAGE_STATE_SENT)
		var states []wapoolv1.MessageState
		for _, ev := range ref.upTo(sent) {
			if m := ev.GetMessage().GetMessage(); m.GetId() == m1.Id {
				states = append(states, m.GetState())
				if m.GetTenantId() != "shop" || ev.GetTenantId() != "shop" || m.GetTo() != contact1 || m.GetIdempotencyKey() != "k1" {
					t.Errorf("message event %v", ev)
				}
			}
		}
		want := []wapoolv1.MessageState{wapoolv1.MessageState_MESSAGE_STATE_QUEUED, wapoolv1.MessageState_MESSAGE_STATE_SENDING, wapoolv1.MessageState_MESSAGE_STATE_SENT}
		if !slices.Equal(states, want) {
			t.Errorf("message %s states on the stream: %v, want %v", m1.Id, states, want)
		}
		if last := ref.upTo(sent); last[len(last)-1].GetMessage().GetMessage().GetWaMessageId() != m1.WaMessageId {
			t.Errorf("SENT event without the WhatsApp id %q", m1.WaMessageId)
		}
		// The link showed as session states, READY among them.
		ready := slices.ContainsFunc(ref.upTo(sent), func(ev *wapoolv1.Event) bool {
			return ev.GetSessionState().GetTo() == wapoolv1.SessionState_SESSION_STATE_READY
		})
		if !ready {
			t.Errorf("no session event to READY in %d events", len(ref.upTo(sent)))
		}
	})

	t.Run("reconnect with the last cursor", func(t *testing.T) {
		// A consumer reads two events from the start, then goes away.
		a, _ := openStream(t, ctx, d, start)
		a.waitCount(t, 2)
		a.close()
		seen := a.events()[:2]
		// Events happen while it is away; one of them is the webhook's
		// flaky event below.
		sendKey(t, ctx, d, contact2, "second", "flaky")
		m3 := sendKey(t, ctx, d, contact1, "third", "k3")
		b, resumedAt := openStream(t, ctx, d, seen[1].GetCursor())
		if resumedAt != seen[1].GetCursor() {
			t.Errorf("resumed stream starts after %q, want %q", resumedAt, seen[1].GetCursor())
		}
		last := b.waitMessage(t, m3.Id, wapoolv1.MessageState_MESSAGE_STATE_SENT)
		got := cursors(append(slices.Clone(seen), b.upTo(last)...))
		want := cursors(ref.upTo(ref.waitMessage(t, m3.Id, wapoolv1.MessageState_MESSAGE_STATE_SENT)))
		if !slices.Equal(got, want) {
			t.Fatalf("the reconnected consumer saw %d events, the reference %d:\n got %q\nwant %q", len(got), len(want), got, want)
		}
		b.close()
	})

	t.Run("webhook retries until 2xx", func(t *testing.T) {
		last := ref.events()[len(ref.events())-1]
		hook.waitAccepted(t, last.GetCursor())
		// The QUEUED event of the "flaky" message was refused twice, then
		// accepted once; the receiver keys its records by event id.
		var flaky string
		for _, ev := range ref.events() {
			if m := ev.GetMessage().GetMessage(); m.GetIdempotencyKey() == "flaky" && m.GetState() == wapoolv1.MessageState_MESSAGE_STATE_QUEUED {
				flaky = ev.GetCursor()
			}
		}
		if n := hook.attempts(flaky); n != 3 {
			t.Errorf("the flaky event was POSTed %d times, want 3 (500, 500, 200)", n)
		}
		// Every event of the stream reached the webhook, in the stream's
		// order, with the same content.
		if got, want := hook.acceptedIDs(), cursors(ref.events()); !isSubsequence(want, got) {
			t.Errorf("webhook order %q\nstream order %q", got, want)
		}
		for _, ev := range ref.events() {
			if body := hook.body(ev.GetCursor()); body == nil || !proto.Equal(body, ev) {
				t.Errorf("webhook body of %s = %v, stream has %v", ev.GetCursor(), body, ev)
			}
		}
		metrics := scrape(t, d.metricsAddr(t))
		if v, _ := strconv.Atoi(metric(metrics, "wapool_webhook_retries_total")); v < 2 {
			t.Errorf("wapool_webhook_retries_total = %q, want at least 2", metric(metrics, "wapool_webhook_retries_total"))
		}
		if v, _ := strconv.Atoi(metric(metrics, "wapool_webhook_delivered_total")); v < len(ref.events()) {
			t.Errorf("wapool_webhook_delivered_total = %d, want at least %d", v, len(ref.events()))
		}
		// The two streams of the reconnecting consumer are closed; the
		// reference stream is open.
		waitFor(t, "wapool_event_streams 1", 10*time.Second, func() bool {
			return metric(scrape(t, d.metricsAddr(t)), "wapool_event_streams") == "1"
		})
	})

	t.Run("webhook survives a daemon SIGKILL", func(t *testing.T) {
		hook.setDown(true) // every POST gets a 500 from now on
		m4 := sendKey(t, ctx, d, contact1, "fourth", "k4")
		queued := ref.waitMessage(t, m4.Id, wapoolv1.MessageState_MESSAGE_STATE_QUEUED)
		sent := ref.waitMessage(t, m4.Id, wapoolv1.MessageState_MESSAGE_STATE_SENT)
		// The daemon tried (and failed) to deliver the message's first
		// change; its later ones wait behind it, in order.
		waitFor(t, "a refused POST of the QUEUED event", 30*time.Second, func() bool { return hook.attempts(queued.GetCursor()) > 0 })
		if n := hook.attempts(sent.GetCursor()); n != 0 {
			t.Errorf("the SENT event was POSTed %d times before the QUEUED one got through", n)
		}
		if err := d.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-d.exited
		ref.waitEnd(t)
		waitNoBrowsers(t, d.dataDir, 10*time.Second)
		hook.setDown(false)
		d2 := startDaemon(t, d.opts)
		hook.waitAccepted(t, sent.GetCursor())
		for _, ev := range ref.events() {
			if !slices.Contains(hook.acceptedIDs(), ev.GetCursor()) {
				t.Errorf("event %s (%v) never reached the webhook", ev.GetCursor(), ev)
			}
		}

		// A cursor from another database: OUT_OF_RANGE, with the oldest
		// event kept in the details.
		s, err := d2.client().WatchEvents(ctx, &wapoolv1.WatchEventsRequest{After: "00000000-0000000000000001"})
		if err == nil {
			_, err = s.Recv()
		}
		st := status.Convert(err)
		var info *errdetails.ErrorInfo
		for _, det := range st.Details() {
			if i, ok := det.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if st.Code() != codes.OutOfRange || info.GetReason() != "CURSOR_OUT_OF_RANGE" || info.GetMetadata()["oldest_cursor"] != ref.events()[0].GetCursor() {
			t.Errorf("foreign cursor: %v %v; want OUT_OF_RANGE with oldest_cursor %s", st, info, ref.events()[0].GetCursor())
		}
	})
	if bad := hook.problems(); len(bad) > 0 {
		t.Errorf("bad webhook requests: %q", bad)
	}
	if t.Failed() {
		t.Logf("webhook receiver: %s", hook.summary())
	}
}

// sendKey sends text with an idempotency key and waits for SENT.
func sendKey(t *testing.T, ctx context.Context, d *daemon, to, text, key string) *wapoolv1.Message {
	t.Helper()
	resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{TenantId: "shop", To: to, Text: text, IdempotencyKey: key})
	if err != nil {
		t.Fatalf("send %q: %v", key, err)
	}
	if resp.GetMessage().GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT {
		t.Fatalf("send %q: %v", key, resp.GetMessage())
	}
	return resp.GetMessage()
}

func cursors(evs []*wapoolv1.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.GetCursor()
	}
	return out
}

// isSubsequence reports whether sub appears in seq in order (seq may hold
// more, e.g. repeats of a delivery cut by a kill).
func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && s == sub[i] {
			i++
		}
	}
	return i == len(sub)
}

// eventStream is one WatchEvents consumer; a goroutine, owned by it,
// receives into events until the stream ends. mu guards the fields that
// follow it.
type eventStream struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	evs    []*wapoolv1.Event
	err    error
}

// openStream opens WatchEvents after cursor ("" from now) and returns once
// the stream is in place, with the cursor of its header.
func openStream(t *testing.T, ctx context.Context, d *daemon, after string) (*eventStream, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	s, err := d.client().WatchEvents(ctx, &wapoolv1.WatchEventsRequest{TenantIds: []string{"shop"}, After: after})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	md, err := s.Header()
	if err != nil || len(md.Get("wapool-cursor")) != 1 {
		cancel()
		t.Fatalf("WatchEvents header: %v %v", md, err)
	}
	es := &eventStream{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(es.done)
		for {
			resp, err := s.Recv()
			es.mu.Lock()
			if err != nil {
				es.err = err
				es.mu.Unlock()
				return
			}
			es.evs = append(es.evs, resp.GetEvent())
			es.mu.Unlock()
		}
	}()
	t.Cleanup(es.close)
	return es, md.Get("wapool-cursor")[0]
}

func (s *eventStream) close() {
	s.cancel()
	<-s.done
}

func (s *eventStream) events() []*wapoolv1.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

// upTo returns the events up to and including last.
func (s *eventStream) upTo(last *wapoolv1.Event) []*wapoolv1.Event {
	evs := s.events()
	i := slices.IndexFunc(evs, func(ev *wapoolv1.Event) bool { return ev.GetCursor() == last.GetCursor() })
	return evs[:i+1]
}

func (s *eventStream) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *eventStream) waitCount(t *testing.T, n int) {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" events", 60*time.Second, func() bool {
		if err := s.failure(); err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		return len(s.events()) >= n
	})
}

// waitMessage waits for the event of message id reaching state.
func (s *eventStream) waitMessage(t *testing.T, id string, state wapoolv1.MessageState) *wapoolv1.Event {
	t.Helper()
	var found *wapoolv1.Event
	waitFor(t, "message "+id+" "+state.String()+" on the stream", 60*time.Second, func() bool {
		for _, ev := range s.events() {
			if m := ev.GetMessage().GetMessage(); m.GetId() == id && m.GetState() == state {
				found = ev
				return true
			}
		}
		if err := s.failure(); err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		return false
	})
	return found
}

// waitEnd waits for the stream to end (its daemon died).
func (s *eventStream) waitEnd(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream outlived its daemon")
	}
}

// hookReceiver is a webhook endpoint on 127.0.0.1 that checks every
// request's signature and headers, answers 500 to the first two POSTs of
// the QUEUED event of a message with idempotency key "flaky" and to every
// POST while down, and records each event by its id. mu guards the fields
// that follow it.
type hookReceiver struct {
	url    string
	secret []byte
	mu     sync.Mutex
	down   bool
	tries  map[string]int             // POSTs per event id
	bodies map[string]*wapoolv1.Event // the accepted body per event id
	order  []string                   // event ids in the order accepted (once each)
	bad    []string                   // problems with requests
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{secret: []byte(secret), tries: map[string]int{}, bodies: map[string]*wapoolv1.Event{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/wapool/events"
	return h
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	id := r.Header.Get(webhook.EventIDHeader)
	var ev wapoolv1.Event
	if err == nil {
		err = protojson.Unmarshal(body, &ev)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/wapool/events":
		h.bad = append(h.bad, r.Method+" "+r.URL.Path)
	case webhook.Verify(h.secret, r.Header, body, time.Now(), 0) != nil:
		h.bad = append(h.bad, "bad signature on "+id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	case err != nil:
		h.bad = append(h.bad, "body of "+id+": "+err.Error())
	case ev.GetCursor() != id:
		h.bad = append(h.bad, "body of "+id+" holds cursor "+ev.GetCursor())
	}
	h.tries[id]++
	flaky := ev.GetMessage().GetMessage().GetIdempotencyKey() == "flaky" &&
		ev.GetMessage().GetMessage().GetState() == wapoolv1.MessageState_MESSAGE_STATE_QUEUED
	if h.down || (flaky && h.tries[id] <= 2) {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if _, dup := h.bodies[id]; !dup { // a repeat (cut by a kill) is the same event: keep one
		h.bodies[id] = &ev
		h.order = append(h.order, id)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

func (h *hookReceiver) attempts(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tries[id]
}

func (h *hookReceiver) body(id string) *wapoolv1.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bodies[id]
}

func (h *hookReceiver) acceptedIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.order)
}

// problems returns what was wrong with the requests (none: nil).
func (h *hookReceiver) problems() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bad)
}

func (h *hookReceiver) waitAccepted(t *testing.T, id string) {
	t.Helper()
	waitFor(t, "the webhook to accept "+id, 60*time.Second, func() bool { return slices.Contains(h.acceptedIDs(), id) })
}

func (h *hookReceiver) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, id := range h.order {
		b.WriteString(id + "×" + strconv.Itoa(h.tries[id]) + " ")
	}
	return b.String()
}
