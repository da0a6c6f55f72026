package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wapool/wapool/internal/grpctest"
	"github.com/wapool/wapool/internal/testclock"
	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// eventStack is a Server over a Supervisor over a real store, with no
// browser: WatchEvents needs only the store. clock is the store's, 1ms
// later at each reading.
type eventStack struct {
	store *sessionstore.Store
	sup   *supervisor.Supervisor
	srv   *Server
	clock *testclock.Clock
}

func newEventStack(t *testing.T) *eventStack {
	t.Helper()
	st := &eventStack{clock: testclock.NewTicking(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), time.Millisecond)}
	store, err := sessionstore.Open(sessionstore.Options{DataDir: filepath.Join(t.TempDir(), "data"), Now: st.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	st.store = store
	st.sup = supervisor.New(supervisor.Config{Store: store, TargetURL: "http://127.0.0.1:1"})
	st.srv = New(st.sup, zap.NewNop())
	return st
}

// serve runs the gRPC server on 127.0.0.1:0 and returns a client.
func (st *eventStack) serve(t *testing.T, opts ...grpc.ServerOption) wapoolv1.SessionServiceClient {
	t.Helper()
	gs := grpc.NewServer(opts...)
	wapoolv1.RegisterSessionServiceServer(gs, st.srv)
	addr := grpctest.Serve(t, gs)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return wapoolv1.NewSessionServiceClient(conn)
}

// session appends a session event and returns its cursor.
func (st *eventStack) session(t *testing.T, tenant, to string) string {
	t.Helper()
	ev, err := st.store.AppendSessionEvent(tenant, sessionstore.SessionEvent{From: "STARTING", To: to, LastError: "why " + to})
	if err != nil {
		t.Fatal(err)
	}
	return st.store.Cursor(ev.Seq)
}

// watch opens a stream and returns it with the cursor of its header.
func watch(t *testing.T, ctx context.Context, c wapoolv1.SessionServiceClient, req *wapoolv1.WatchEventsRequest) (wapoolv1.SessionService_WatchEventsClient, string) {
	t.Helper()
	stream, err := c.WatchEvents(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	md, err := stream.Header()
	if err != nil {
		t.Fatalf("WatchEvents header: %v", err)
	}
	cur := md.Get(CursorHeader)
	if len(cur) != 1 {
		t.Fatalf("WatchEvents header %v: want one %s", md, CursorHeader)
	}
	return stream, cur[0]
}

func recvN(t *testing.T, stream wapoolv1.SessionService_WatchEventsClient, n int) []*wapoolv1.Event {
	t.Helper()
	var out []*wapoolv1.Event
	for len(out) < n {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after %d events: %v", len(out), err)
		}
		out = append(out, resp.GetEvent())
	}
	return out
}

func TestWatchEventsBacklogThenLiveWithoutGap(t *testing.T) {
	st := newEventStack(t)
	c := st.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cursors []string
	for range 5 {
		cursors = append(cursors, st.session(t, "shop", "READY"))
	}
	// A writer goes on appending while the client connects: whatever the
	// moment the stream switches from the log to live events, it sees every
	// event once, in order.
	const live = 300
	writerDone := make(chan []string, 1)
	go func() {
		var out []string
		for range live {
			ev, err := st.store.AppendSessionEvent("shop", sessionstore.SessionEvent{From: "READY", To: "HIBERNATED"})
			if err != nil {
				t.Error(err)
				break
			}
			out = append(out, st.store.Cursor(ev.Seq))
		}
		writerDone <- out
	}()
	stream, start := watch(t, ctx, c, &wapoolv1.WatchEventsRequest{After: cursors[1]})
	if start != cursors[1] {
		t.Errorf("header cursor %q, want the given %q", start, cursors[1])
	}
	got := recvN(t, stream, 3+live)
	want := append(cursors[2:], <-writerDone...)
	for i, ev := range got {
		if ev.GetCursor() != want[i] {
			t.Fatalf("event %d has cursor %q, want %q (a gap, a repeat or out of order)", i, ev.GetCursor(), want[i])
		}
		if ev.GetTenantId() != "shop" || ev.GetAt() == nil || ev.GetSessionState() == nil {
			t.Fatalf("event %d: %v", i, ev)
		}
	}
	if s := got[0].GetSessionState(); s.GetFrom() != wapoolv1.SessionState_SESSION_STATE_STARTING ||
		s.GetTo() != wapoolv1.SessionState_SESSION_STATE_READY || s.GetLastError() != "why READY" || s.GetDeleted() {
		t.Errorf("session event %v", s)
	}
}

func TestWatchEventsFromNowFiltersTenantsAndCarriesMessages(t *testing.T) {
	st := newEventStack(t)
	c := st.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st.session(t, "shop", "READY") // before the stream: not seen
	head := st.session(t, "other", "READY")
	stream, start := watch(t, ctx, c, &wapoolv1.WatchEventsRequest{TenantIds: []string{"shop", "not-yet"}})
	if start != head {
		t.Fatalf("header cursor %q, want the newest event %q", start, head)
	}
	m, _, err := st.store.Enqueue(sessionstore.Message{TenantID: "shop", To: "4915112345678", Text: "private text", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	st.session(t, "other", "FAILED") // filtered out
	if _, err := st.store.UpdateMessage("shop", m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSending; x.Attempts = 1 }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.store.UpdateMessage("shop", m.ID, func(x *sessionstore.Message) {
		x.State, x.WAMessageID, x.SentAt = sessionstore.StateSent, "true_4915112345678@c.us_AB", st.clock.Now()
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.store.AppendSessionEvent("not-yet", sessionstore.SessionEvent{Deleted: true, LastError: "logged out and deleted"}); err != nil {
		t.Fatal(err)
	}
	got := recvN(t, stream, 4)
	states := []wapoolv1.MessageState{wapoolv1.MessageState_MESSAGE_STATE_QUEUED, wapoolv1.MessageState_MESSAGE_STATE_SENDING, wapoolv1.MessageState_MESSAGE_STATE_SENT}
	for i, want := range states {
		msg := got[i].GetMessage().GetMessage()
		if got[i].GetTenantId() != "shop" || msg.GetId() != m.ID || msg.GetState() != want || msg.GetIdempotencyKey() != "k1" || msg.GetTo() != "4915112345678" {
			t.Errorf("event %d: %v, want %v of %s", i, got[i], want, m.ID)
		}
	}
	if msg := got[2].GetMessage().GetMessage(); msg.GetWaMessageId() != "true_4915112345678@c.us_AB" || msg.GetSentAt() == nil || msg.GetAttempts() != 1 {
		t.Errorf("SENT event %v", msg)
	}
	if d := got[3].GetSessionState(); got[3].GetTenantId() != "not-yet" || !d.GetDeleted() || d.GetTo() != wapoolv1.SessionState_SESSION_STATE_UNSPECIFIED {
		t.Errorf("deletion event %v", got[3])
	}
	// Never the text, on the wire or in the webhook body.
	for _, ev := range got {
		b, _ := protojson.Marshal(ev)
		if bytes.Contains(b, []byte("private text")) {
			t.Fatalf("an event carries the message text: %s", b)
		}
	}
}

// errorInfo returns the status code and ErrorInfo of err.
func errorInfo(t *testing.T, err error) (codes.Code, *errdetails.ErrorInfo) {
	t.Helper()
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return st.Code(), info
		}
	}
	return st.Code(), nil
}

func TestWatchEventsCursorErrors(t *testing.T) {
	st := newEventStack(t)
	c := st.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	old := st.session(t, "shop", "READY")
	st.session(t, "shop", "HIBERNATED")
	st.clock.Advance(8 * 24 * time.Hour)
	kept := st.session(t, "shop", "READY")
	if r, err := st.store.PurgeEvents(sessionstore.EventPurge{}); err != nil || r.Purged != 2 {
		t.Fatalf("purge: %+v, %v", r, err)
	}
	recvErr := func(req *wapoolv1.WatchEventsRequest) error {
		stream, err := c.WatchEvents(ctx, req)
		if err != nil {
			return err
		}
		_, err = stream.Recv()
		return err
	}
	// Purged: OUT_OF_RANGE, with the oldest event and where to start.
	code, info := errorInfo(t, recvErr(&wapoolv1.WatchEventsRequest{After: old}))
	if code != codes.OutOfRange || info.GetReason() != "CURSOR_OUT_OF_RANGE" || info.GetDomain() != ErrorDomain {
		t.Fatalf("purged cursor: %v %v", code, info)
	}
	md := info.GetMetadata()
	if md["oldest_cursor"] != kept || md["cursor"] != old || md["start_cursor"] == "" {
		t.Fatalf("purged cursor metadata %v", md)
	}
	// start_cursor reads every event kept.
	stream, _ := watch(t, ctx, c, &wapoolv1.WatchEventsRequest{After: md["start_cursor"]})
	if ev := recvN(t, stream, 1)[0]; ev.GetCursor() != kept {
		t.Errorf("from start_cursor: %v, want %s", ev, kept)
	}
	// A cursor newer than the newest event, or of another database.
	other := newEventStack(t)
	for _, bad := range []string{st.store.Cursor(99), other.store.Cursor(1)} {
		code, info := errorInfo(t, recvErr(&wapoolv1.WatchEventsRequest{After: bad}))
		if code != codes.OutOfRange || info.GetMetadata()["oldest_cursor"] != kept {
			t.Errorf("cursor %q: %v %v", bad, code, info)
		}
	}
	for _, bad := range []string{"nope", "12", kept + "x"} {
		code, info := errorInfo(t, recvErr(&wapoolv1.WatchEventsRequest{After: bad}))
		if code != codes.InvalidArgument || info.GetReason() != "INVALID_CURSOR" {
			t.Errorf("cursor %q: %v %v", bad, code, info)
		}
	}
	code, info = errorInfo(t, recvErr(&wapoolv1.WatchEventsRequest{TenantIds: []string{"ok", "../etc"}}))
	if code != codes.InvalidArgument || info.GetReason() != "INVALID_TENANT_ID" {
		t.Errorf("bad tenant: %v %v", code, info)
	}
}

// blockingStream is a WatchEvents server stream whose first Send blocks
// until release is closed.
type blockingStream struct {
	grpc.ServerStream
	ctx     context.Context
	header  chan metadata.MD // the headers, once
	blocked chan struct{}    // closed when the first Send blocks
	release chan struct{}
	mu      sync.Mutex
	sent    []*wapoolv1.Event
}

func (s *blockingStream) Context() context.Context { return s.ctx }
func (s *blockingStream) SendHeader(md metadata.MD) error {
	s.header <- md
	return nil
}

func (s *blockingStream) Send(resp *wapoolv1.WatchEventsResponse) error {
	s.mu.Lock()
	first := len(s.sent) == 0
	s.sent = append(s.sent, resp.GetEvent())
	s.mu.Unlock()
	if first {
		close(s.blocked)
		<-s.release
	}
	return nil
}

// TestWatchEventsCutsOffASlowClient: while a client does not take its
// events, writers never wait for it; once its buffer is full it is cut off
// with RESOURCE_EXHAUSTED and the cursor to resume after.
func TestWatchEventsCutsOffASlowClient(t *testing.T) {
	st := newEventStack(t)
	m := NewMetrics()
	st.srv.SetMetrics(m)
	st.srv.SetEventBuffer(4)
	stream := &blockingStream{ctx: context.Background(), header: make(chan metadata.MD, 1), blocked: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- st.srv.WatchEvents(&wapoolv1.WatchEventsRequest{}, stream) }()
	<-stream.header
	var cursors []string
	cursors = append(cursors, st.session(t, "shop", "READY"))
	<-stream.blocked // the client takes nothing more
	for range 6 {    // 4 fill the buffer, the 5th overflows it
		cursors = append(cursors, st.session(t, "shop", "READY"))
	}
	close(stream.release)
	err := <-done
	code, info := errorInfo(t, err)
	if code != codes.ResourceExhausted || info.GetReason() != "SLOW_CONSUMER" {
		t.Fatalf("slow client: %v (%v)", err, info)
	}
	// It got the event it was sending and the 4 buffered; it resumes after
	// the last of them.
	if len(stream.sent) != 5 || info.GetMetadata()["cursor"] != cursors[4] {
		t.Fatalf("sent %d events, resume cursor %q; want 5 and %q", len(stream.sent), info.GetMetadata()["cursor"], cursors[4])
	}
	for i, ev := range stream.sent {
		if ev.GetCursor() != cursors[i] {
			t.Errorf("event %d cursor %q, want %q", i, ev.GetCursor(), cursors[i])
		}
	}
	if got := testutilValue(t, m, "wapool_event_streams_cut_total"); got != 1 {
		t.Errorf("wapool_event_streams_cut_total = %v", got)
	}
	if got := testutilValue(t, m, "wapool_event_streams"); got != 0 {
		t.Errorf("wapool_event_streams = %v after the stream ended", got)
	}
	// Resuming with that cursor gives the rest from the log.
	c := st.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rest, _ := watch(t, ctx, c, &wapoolv1.WatchEventsRequest{After: info.GetMetadata()["cursor"]})
	for i, ev := range recvN(t, rest, 2) {
		if ev.GetCursor() != cursors[5+i] {
			t.Errorf("resumed event %d: %q, want %q", i, ev.GetCursor(), cursors[5+i])
		}
	}
}

// testutilValue reads a counter or gauge without labels from m's registry.
func testutilValue(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		x := mf.GetMetric()[0]
		if x.GetCounter() != nil {
			return x.GetCounter().GetValue()
		}
		return x.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestWatchEventsEndsWhenTheDaemonDrains(t *testing.T) {
	st := newEventStack(t)
	c := st.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, _ := watch(t, ctx, c, &wapoolv1.WatchEventsRequest{})
	st.sup.Drain()
	_, err := stream.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("after Drain: %v, want UNAVAILABLE", err)
	}
}

func TestWatchEventsNeedsATokenWhenTokensAreSet(t *testing.T) {
	st := newEventStack(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(firstToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0", TokensFile: tokens})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := a.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	c := st.serve(t, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := c.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("WatchEvents without a token: %v, want UNAUTHENTICATED", err)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+firstToken)
	watch(t, authed, c, &wapoolv1.WatchEventsRequest{}) // headers: in place
}

// TestWebhookSourceStartsAtTheHeadAndKeepsItsPosition: a new webhook starts
// from now; its position survives a reopen of the store; bodies are the
// protojson of Event.
func TestWebhookSourceStartsAtTheHeadAndKeepsItsPosition(t *testing.T) {
	st := newEventStack(t)
	st.session(t, "shop", "READY") // before the webhook existed: not delivered
	src := NewWebhookSource(st.sup, NewDeadEvents(st.store, true), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pos, err := src.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := st.session(t, "shop", "HIBERNATED")
	ds, err := src.Next(ctx, pos, 10)
	if err != nil || len(ds) != 1 || ds[0].ID != next {
		t.Fatalf("Next = %v, %v; want the one event after the head", ds, err)
	}
	var ev wapoolv1.Event
	if err := protojson.Unmarshal(ds[0].Body, &ev); err != nil || ev.GetCursor() != next ||
		ev.GetSessionState().GetTo() != wapoolv1.SessionState_SESSION_STATE_HIBERNATED {
		t.Fatalf("body %s: %v", ds[0].Body, err)
	}
	if err := src.Ack(ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if again, _ := src.Position(ctx); again != next {
		t.Fatalf("position %q after the ack, want %q", again, next)
	}
	// Next waits for the next event.
	got := make(chan []webhook.Delivery, 1)
	go func() {
		ds, _ := src.Next(ctx, next, 10)
		got <- ds
	}()
	later := st.session(t, "shop", "READY")
	if ds := <-got; len(ds) != 1 || ds[0].ID != later {
		t.Fatalf("waiting Next = %v", ds)
	}
	// A position whose events were purged (undelivered past the hard
	// cap) goes on with the oldest kept.
	st.clock.Advance(sessionstore.DefaultUndeliveredRetention + 24*time.Hour)
	kept := st.session(t, "shop", "FAILED")
	if r, err := st.store.PurgeEvents(sessionstore.EventPurge{}); err != nil || r.Dropped != 1 {
		t.Fatalf("purge: %+v, %v; want the undelivered event dropped", r, err)
	}
	ds, err = src.Next(ctx, next, 10)
	if err != nil || len(ds) != 1 || ds[0].ID != kept {
		t.Fatalf("Next from a purged position = %v, %v; want %s", ds, err, kept)
	}
}
