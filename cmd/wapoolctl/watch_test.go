package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// watchService is a SessionService that only watches: its log holds the
// events c1…cN. The first stream is cut (UNAVAILABLE, as a daemon restart
// does) after cutAfter events. Once a stream has sent everything it waits
// for its client to go. mu guards the fields that follow it.
type watchService struct {
	wapoolv1.UnimplementedSessionServiceServer
	events   []*wapoolv1.Event
	cutAfter int

	mu   sync.Mutex
	reqs []*wapoolv1.WatchEventsRequest
}

func newWatchService() *watchService {
	at := timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	msg := func(state wapoolv1.MessageState, attempts uint32, errText string) func(*wapoolv1.Event) {
		return func(e *wapoolv1.Event) {
			e.Kind = &wapoolv1.Event_Message{Message: &wapoolv1.MessageEvent{Message: &wapoolv1.Message{
				Id: "m1", TenantId: "shop", To: "4915112345678", State: state, Attempts: attempts, Error: errText,
				WaMessageId: "true_4915112345678@c.us_ABC",
			}}}
		}
	}
	session := func(s *wapoolv1.SessionStateEvent) func(*wapoolv1.Event) {
		return func(e *wapoolv1.Event) { e.Kind = &wapoolv1.Event_SessionState{SessionState: s} }
	}
	kinds := []func(*wapoolv1.Event){
		session(&wapoolv1.SessionStateEvent{From: wapoolv1.SessionState_SESSION_STATE_STARTING, To: wapoolv1.SessionState_SESSION_STATE_READY}),
		msg(wapoolv1.MessageState_MESSAGE_STATE_QUEUED, 0, ""),
		msg(wapoolv1.MessageState_MESSAGE_STATE_SENDING, 1, ""),
		msg(wapoolv1.MessageState_MESSAGE_STATE_SENT, 1, ""),
		msg(wapoolv1.MessageState_MESSAGE_STATE_FAILED, 3, "gave up after 3 attempts"),
		session(&wapoolv1.SessionStateEvent{From: wapoolv1.SessionState_SESSION_STATE_READY, To: wapoolv1.SessionState_SESSION_STATE_UNLINKED, LastError: "logged out\non the phone"}),
		session(&wapoolv1.SessionStateEvent{Deleted: true}),
	}
	s := &watchService{cutAfter: 3}
	for i, kind := range kinds {
		ev := &wapoolv1.Event{Cursor: fmt.Sprintf("c%d", i+1), At: at, TenantId: "shop"}
		kind(ev)
		s.events = append(s.events, ev)
	}
	return s
}

func (s *watchService) WatchEvents(req *wapoolv1.WatchEventsRequest, stream grpc.ServerStreamingServer[wapoolv1.WatchEventsResponse]) error {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	first := len(s.reqs) == 1
	s.mu.Unlock()
	start := 0
	switch after := req.GetAfter(); after {
	case "":
		after = "c0"
	case "gone":
		st, _ := status.New(codes.OutOfRange, "cursor not in the log").WithDetails(&errdetails.ErrorInfo{
			Reason: "CURSOR_OUT_OF_RANGE", Domain: "wapool.dev",
			Metadata: map[string]string{"cursor": "gone", "oldest_cursor": "c5", "start_cursor": "c4"}})
		return st.Err()
	default:
		start = slices.IndexFunc(s.events, func(e *wapoolv1.Event) bool { return e.GetCursor() == after }) + 1
	}
	if err := stream.SendHeader(metadata.Pairs(cursorHeader, "c0")); err != nil {
		return err
	}
	for i, ev := range s.events[start:] {
		if first && i == s.cutAfter {
			return status.Error(codes.Unavailable, "daemon stopping")
		}
		if err := stream.Send(&wapoolv1.WatchEventsResponse{Event: ev}); err != nil {
			return err
		}
	}
	<-stream.Context().Done()
	return nil
}

// runWatch runs wapoolctl with args until it has printed lines lines, then
// interrupts it as Ctrl-C does; a run that ends by itself is returned as is.
func runWatch(t *testing.T, svc *watchService, lines int, args ...string) ctlResult {
	t.Helper()
	addr := serve(t, svc)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	res := make(chan ctlResult, 1)
	go func() {
		res <- runWith(t, ctlOpts{ctx: ctx, stdout: out}, append([]string{"--addr", addr}, args...)...)
	}()
	var r ctlResult
	ended := false
	waitFor(t, func() bool {
		select {
		case r = <-res:
			ended = true
			return true
		default:
			return strings.Count(out.String(), "\n") >= lines
		}
	})
	if !ended {
		cancel()
		r = <-res
	}
	r.stdout = out.String()
	return r
}

func TestWatchPrintsOneLineEachAndResumesAfterACut(t *testing.T) {
	svc := newWatchService()
	r := runWatch(t, svc, 7, "watch", "shop")
	r.want(t, 0, nil, []string{"watching shop after cursor c0", "resuming after c3"})
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{
		"shop  session STARTING → READY  [c1]",
		"shop  message m1 QUEUED to …5678  [c2]",
		"shop  message m1 SENDING to …5678  [c3]",
		"shop  message m1 SENT to …5678  [c4]",
		"shop  message m1 FAILED to …5678 (attempt 3): gave up after 3 attempts  [c5]",
		"shop  session READY → UNLINKED: logged out on the phone  [c6]",
		"shop  session deleted (logged out)  [c7]",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d (each event once):\n%s\nstderr: %s", len(lines), len(want), r.stdout, r.stderr)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) || !strings.HasPrefix(lines[i], "2026-03-01 ") {
			t.Errorf("line %d = %q, want a time then %q", i, lines[i], w)
		}
	}
	if strings.Contains(r.stdout, "4915112345678") || strings.Contains(r.stdout, "true_") {
		t.Errorf("a phone number shows unmasked:\n%s", r.stdout)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.reqs) != 2 || svc.reqs[0].GetAfter() != "" || svc.reqs[1].GetAfter() != "c3" ||
		!slices.Equal(svc.reqs[1].GetTenantIds(), []string{"shop"}) {
		t.Errorf("requests %v: want from now, then after c3 for shop", svc.reqs)
	}
}

func TestWatchJSONLines(t *testing.T) {
	svc := newWatchService()
	svc.cutAfter = -1
	r := runWatch(t, svc, 5, "-o", "json", "watch", "--after", "c2")
	r.want(t, 0, nil, nil)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want the 5 events after c2:\n%s\nstderr: %s", len(lines), r.stdout, r.stderr)
	}
	for i, line := range lines {
		var ev wapoolv1.Event
		if err := protojson.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not an Event: %v\n%s", i, err, line)
		}
		if ev.GetCursor() != fmt.Sprintf("c%d", i+3) {
			t.Errorf("line %d has cursor %q", i, ev.GetCursor())
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr with -o json: %q", r.stderr)
	}
}

func TestWatchPurgedCursorSaysWhereToStart(t *testing.T) {
	r := runWatch(t, newWatchService(), 1, "watch", "--after", "gone")
	r.want(t, 1, nil, []string{"does not hold that cursor", "--after c4", "the oldest is c5"})
}
