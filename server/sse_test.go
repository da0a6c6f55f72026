package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/supervisor"
)

// sseBlock is one dispatched block of an event stream.
type sseBlock struct {
	id, event, data string
	hasID           bool
}

// sseStream is an open GET /v1/events, read as EventSource reads it.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	rd     *bufio.Reader
	lastID string // as EventSource keeps it
}

// openSSE opens /v1/events on the gateway at addr with token and
// lastEventID ("" = none); it fails the test unless the answer is 200.
func openSSE(t *testing.T, addr, query, token, lastEventID string) *sseStream {
	t.Helper()
	s, code, body := tryOpenSSE(t, addr, query, token, lastEventID)
	if s == nil {
		t.Fatalf("GET /v1/events%s: %d %s", query, code, body)
	}
	return s
}

func tryOpenSSE(t *testing.T, addr, query, token, lastEventID string) (*sseStream, int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/v1/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, string(b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	s := &sseStream{t: t, resp: resp, rd: bufio.NewReader(resp.Body)}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return s, resp.StatusCode, ""
}

// next reads up to the next block with data, applying the id fields of
// the blocks before it (as EventSource does).
func (s *sseStream) next() sseBlock {
	s.t.Helper()
	var b sseBlock
	var data []string
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading the event stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if b.hasID {
				s.lastID = b.id
			}
			if len(data) > 0 {
				b.data = strings.Join(data, "\n")
				return b
			}
			b = sseBlock{}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			b.id, b.hasID = value, true
		case "event":
			b.event = value
		case "data":
			data = append(data, value)
		}
	}
}

// event reads the next block, which must be an event, and returns it.
func (s *sseStream) event() *wapoolv1.Event {
	s.t.Helper()
	b := s.next()
	if b.event != "" {
		s.t.Fatalf("an %q block where an event was expected: %s", b.event, b.data)
	}
	ev := &wapoolv1.Event{}
	if err := protojson.Unmarshal([]byte(b.data), ev); err != nil {
		s.t.Fatalf("data %q: %v", b.data, err)
	}
	if b.id != ev.GetCursor() {
		s.t.Fatalf("SSE id %q, event cursor %q", b.id, ev.GetCursor())
	}
	return ev
}

// readStart reads the first block (retry and the start cursor as id,
// nothing dispatched) and returns that cursor.
func (s *sseStream) readStart() string {
	s.t.Helper()
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.t.Fatal(err)
		}
		if line == "\n" {
			return s.lastID
		}
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			s.lastID = strings.TrimSuffix(id, "\n")
		}
	}
}

func (s *sseStream) close() { s.resp.Body.Close() }

// TestSSEResumesWithLastEventID: /v1/events writes each event of
// WatchEvents as an SSE block whose id is its cursor; a client that
// disconnects and reconnects with Last-Event-ID (what EventSource sends)
// gets every event it missed, in order, none twice, then the live ones,
// also when it disconnected before its first event (the first block's id).
// The filters are WatchEvents': other tenants' events are left out.
func TestSSEResumesWithLastEventID(t *testing.T) {
	st := newEventStack(t)
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := startGateway(t, a, st.srv)

	s := openSSE(t, addr, "?tenant_ids=shop", "", "")
	start := s.readStart()
	if start == "" {
		t.Fatal("the first block gave no id")
	}
	var want []string
	st.session(t, "other", "READY") // filtered out
	for range 3 {
		want = append(want, st.session(t, "shop", "READY"))
	}
	var got []string
	for range 3 {
		got = append(got, s.event().GetCursor())
	}
	s.close()
	// Events happen while the client is away, the other tenant's too.
	for range 3 {
		want = append(want, st.session(t, "shop", "LINKING"))
		st.session(t, "other", "LINKING")
	}
	s = openSSE(t, addr, "?tenant_ids=shop", "", s.lastID)
	if resumed := s.readStart(); resumed != got[2] {
		t.Errorf("resumed stream starts after %q, want the last id seen %q", resumed, got[2])
	}
	for range 3 {
		ev := s.event()
		if ev.GetTenantId() != "shop" || ev.GetSessionState().GetTo() != wapoolv1.SessionState_SESSION_STATE_LINKING {
			t.Errorf("resumed event %v", ev)
		}
		got = append(got, ev.GetCursor())
	}
	want = append(want, st.session(t, "shop", "READY")) // live again
	got = append(got, s.event().GetCursor())
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events seen across the reconnection:\n%v\nwant\n%v", got, want)
	}
	s.close()

	// Away before the first event: the first block's id resumes from the
	// stream's start.
	s = openSSE(t, addr, "?tenant_ids=shop", "", "")
	first := s.readStart()
	s.close()
	missed := st.session(t, "shop", "READY")
	s = openSSE(t, addr, "?tenant_ids=shop", "", first)
	s.readStart()
	if ev := s.event(); ev.GetCursor() != missed {
		t.Errorf("after a reconnection with the first id: %q, want %q", ev.GetCursor(), missed)
	}
	// `after` in the query does the same (Last-Event-ID wins over it).
	s = openSSE(t, addr, "?tenant_ids=shop&after="+first, "", "")
	s.readStart()
	if ev := s.event(); ev.GetCursor() != missed {
		t.Errorf("with after=: %q, want %q", ev.GetCursor(), missed)
	}
}

// TestSSEErrors: an error before the stream is answered as on the other
// routes (its status as JSON under its HTTP status): missing token, tenant
// outside the token's scope, malformed cursor; without a tenant filter a
// scoped token sees only its tenants' events.
func TestSSEErrors(t *testing.T) {
	tokens := writeAuthFile(t, "tokens", scopedTokens)
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0", TokensFile: tokens})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := scopedStack(t, a)
	addr := startGateway(t, a, st.srv)
	for _, c := range []struct {
		query, token string
		code         int
		reason       string
	}{
		{"", "", http.StatusUnauthorized, ""},
		{"?tenant_ids=b-1", opsAToken, http.StatusForbidden, reasonTenantOutOfScope},
		{"?after=not-a-cursor", opsAToken, http.StatusBadRequest, "INVALID_CURSOR"},
		{"?tenant_ids=-bad", adminToken, http.StatusBadRequest, "INVALID_TENANT_ID"},
	} {
		s, code, body := tryOpenSSE(t, addr, c.query, c.token, "")
		if s != nil {
			t.Errorf("%s with %q: a stream", c.query, c.token)
			continue
		}
		var e struct {
			Details []struct{ Reason string }
		}
		_ = json.Unmarshal([]byte(body), &e)
		reason := ""
		if len(e.Details) > 0 {
			reason = e.Details[0].Reason
		}
		if code != c.code || reason != c.reason {
			t.Errorf("%s with %q: %d %s; want %d %s", c.query, c.token, code, body, c.code, c.reason)
		}
	}
	s := openSSE(t, addr, "", opsAToken, "")
	s.readStart()
	st.session(t, "b-1", "READY")
	want := st.session(t, "a-2", "READY")
	if ev := s.event(); ev.GetCursor() != want {
		t.Errorf("scoped to a-*: got %v, want the a-2 event %s", ev, want)
	}
}

// slowStream stands in for a WatchEvents that cuts its client off.
type slowStream struct {
	wapoolv1.UnimplementedSessionServiceServer
}

func (slowStream) WatchEvents(_ *wapoolv1.WatchEventsRequest, stream wapoolv1.SessionService_WatchEventsServer) error {
	if err := stream.SendHeader(metadata.Pairs(CursorHeader, "c0")); err != nil {
		return err
	}
	for _, c := range []string{"c1", "c2"} {
		if err := stream.Send(&wapoolv1.WatchEventsResponse{Event: &wapoolv1.Event{Cursor: c, TenantId: "shop"}}); err != nil {
			return err
		}
	}
	return toStatus(&supervisor.SlowConsumerError{Cursor: "c2", Buffer: 4})
}

// TestSSEEndsWithTheStreamError: a stream WatchEvents ends with an error
// (a slow client cut off) ends with an `error` block holding its status,
// the cursor to resume after in its ErrorInfo.
func TestSSEEndsWithTheStreamError(t *testing.T) {
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := startGateway(t, a, slowStream{})
	s := openSSE(t, addr, "", "", "")
	if start := s.readStart(); start != "c0" {
		t.Errorf("start %q", start)
	}
	s.event()
	s.event()
	b := s.next()
	var st struct {
		Code    int
		Details []struct {
			Reason   string
			Metadata map[string]string
		}
	}
	if err := json.Unmarshal([]byte(b.data), &st); err != nil || b.event != "error" || st.Code != 8 || len(st.Details) != 1 ||
		st.Details[0].Reason != "SLOW_CONSUMER" || st.Details[0].Metadata["cursor"] != "c2" {
		t.Fatalf("last block: event %q data %s", b.event, b.data)
	}
	if _, err := s.rd.ReadString('\n'); err != io.EOF {
		t.Errorf("the stream goes on after the error: %v", err)
	}
}

// TestSSEHeartbeat: an idle stream carries a comment now and then, so that
// proxies keep it open.
func TestSSEHeartbeat(t *testing.T) {
	st := newEventStack(t)
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := startGatewayWith(t, a, st.srv, GatewayConfig{SSEHeartbeat: 50 * time.Millisecond})
	s := openSSE(t, addr, "", "", "")
	s.readStart()
	line, err := s.rd.ReadString('\n')
	if err != nil || line != ": keep-alive\n" {
		t.Errorf("idle stream: %q, %v", line, err)
	}
}
