package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// deadService answers ListDeadEvents from a list, a page of `page` at a
// time, and records RedeliverDeadEvents. mu guards the fields that follow.
type deadService struct {
	wapoolv1.UnimplementedSessionServiceServer
	page int

	mu         sync.Mutex
	dead       []*wapoolv1.DeadEvent
	lists      []*wapoolv1.ListDeadEventsRequest
	redelivers []*wapoolv1.RedeliverDeadEventsRequest
}

func newDeadService(n, page int) *deadService {
	d := &deadService{page: page}
	at := time.Now().Add(-time.Hour)
	for i := range n {
		cur := fmt.Sprintf("3f9a0c21-%016x", i+1)
		ev := &wapoolv1.Event{Cursor: cur, At: timestamppb.New(at), TenantId: "shop1"}
		if i%2 == 0 {
			ev.Kind = &wapoolv1.Event_Message{Message: &wapoolv1.MessageEvent{Message: &wapoolv1.Message{
				Id: fmt.Sprintf("msg%d", i), To: "4915112345678", State: wapoolv1.MessageState_MESSAGE_STATE_SENT}}}
		} else {
			ev.Kind = &wapoolv1.Event_SessionState{SessionState: &wapoolv1.SessionStateEvent{
				From: wapoolv1.SessionState_SESSION_STATE_READY, To: wapoolv1.SessionState_SESSION_STATE_HIBERNATED}}
		}
		d.dead = append(d.dead, &wapoolv1.DeadEvent{Cursor: cur, Event: ev, Attempts: 10, LastError: "HTTP 500",
			ParkedAt: timestamppb.New(at.Add(3 * time.Minute)), RedeliveryPending: i == 1})
	}
	return d
}

func (d *deadService) ListDeadEvents(_ context.Context, req *wapoolv1.ListDeadEventsRequest) (*wapoolv1.ListDeadEventsResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lists = append(d.lists, req)
	i := 0
	if req.GetAfter() != "" {
		i = slices.IndexFunc(d.dead, func(e *wapoolv1.DeadEvent) bool { return e.GetCursor() == req.GetAfter() }) + 1
	}
	end := min(len(d.dead), i+d.page)
	resp := &wapoolv1.ListDeadEventsResponse{DeadEvents: d.dead[i:end]}
	if end < len(d.dead) {
		resp.NextAfter = d.dead[end-1].GetCursor()
	}
	return resp, nil
}

func (d *deadService) RedeliverDeadEvents(_ context.Context, req *wapoolv1.RedeliverDeadEventsRequest) (*wapoolv1.RedeliverDeadEventsResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.redelivers = append(d.redelivers, req)
	for _, c := range req.GetCursors() {
		if !slices.ContainsFunc(d.dead, func(e *wapoolv1.DeadEvent) bool { return e.GetCursor() == c }) {
			return nil, status.Errorf(codes.NotFound, "dead event %q: not found", c)
		}
	}
	n := len(req.GetCursors())
	if n == 0 {
		n = len(d.dead)
	}
	return &wapoolv1.RedeliverDeadEventsResponse{Count: int32(n)}, nil
}

// `events dead` lists the whole dead-letter list, page after page: one line
// per event (phone numbers masked), or one protojson DeadEvent per line.
func TestEventsDeadListsEveryPage(t *testing.T) {
	svc := newDeadService(5, 2)
	addr := serve(t, svc)
	r := runCtl(t, addr, "events", "dead")
	r.want(t, 0, []string{"3f9a0c21-0000000000000001", "3f9a0c21-0000000000000005", "message msg0 SENT to …5678",
		"session READY → HIBERNATED", "HTTP 500", "redelivery pending", "5 event(s) in the dead-letter list"}, nil)
	if strings.Contains(r.stdout, "4915112345678") {
		t.Errorf("a phone number in full:\n%s", r.stdout)
	}
	svc.mu.Lock()
	if len(svc.lists) != 3 || svc.lists[1].GetAfter() != "3f9a0c21-0000000000000002" || svc.lists[2].GetAfter() != "3f9a0c21-0000000000000004" {
		t.Errorf("ListDeadEvents requests: %v", svc.lists)
	}
	svc.mu.Unlock()

	js := runCtl(t, addr, "-o", "json", "events", "dead")
	js.want(t, 0, []string{`"cursor":"3f9a0c21-0000000000000005"`, `"attempts":10`, `"redeliveryPending":true`}, nil)
	if n := strings.Count(js.stdout, "\n"); n != 5 {
		t.Errorf("-o json: %d lines, want 5:\n%s", n, js.stdout)
	}

	runCtl(t, serve(t, newDeadService(0, 2)), "events", "dead").want(t, 0, []string{"the dead-letter list is empty"}, nil)
	runCtl(t, addr, "events").want(t, 2, nil, []string{"dead", "redeliver"})
	runCtl(t, addr, "events", "bogus").want(t, 2, nil, []string{`unknown events command "bogus"`})
}

// `events redeliver` asks for all (--all) or the cursors named, never for
// all by default.
func TestEventsRedeliver(t *testing.T) {
	svc := newDeadService(3, 10)
	addr := serve(t, svc)
	runCtl(t, addr, "events", "redeliver").want(t, 2, nil, []string{"--all"})
	runCtl(t, addr, "events", "redeliver", "--all", "3f9a0c21-0000000000000001").want(t, 2, nil, []string{"--all"})
	runCtl(t, addr, "events", "redeliver", "--all").want(t, 0, []string{"3 event(s) will be POSTed again"}, nil)
	runCtl(t, addr, "events", "redeliver", "3f9a0c21-0000000000000001", "3f9a0c21-0000000000000003").
		want(t, 0, []string{"2 event(s) will be POSTed again"}, nil)
	runCtl(t, addr, "-o", "json", "events", "redeliver", "3f9a0c21-0000000000000002").want(t, 0, []string{`{"count":1}`}, nil)
	runCtl(t, addr, "events", "redeliver", "3f9a0c21-00000000000000ff").want(t, 1, nil, []string{"not in the dead-letter list", "none was marked"})
	off := serve(t, offService{})
	runCtl(t, off, "events", "redeliver", "--all").want(t, 1, nil, []string{"no webhook", "--webhook-url"})
	svc.mu.Lock()
	defer svc.mu.Unlock()
	var got [][]string
	for _, r := range svc.redelivers {
		got = append(got, r.GetCursors())
	}
	want := [][]string{nil, {"3f9a0c21-0000000000000001", "3f9a0c21-0000000000000003"}, {"3f9a0c21-0000000000000002"}, {"3f9a0c21-00000000000000ff"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("RedeliverDeadEvents requests %q, want %q", got, want)
	}
}

// offService is a daemon without a webhook.
type offService struct {
	wapoolv1.UnimplementedSessionServiceServer
}

func (offService) RedeliverDeadEvents(context.Context, *wapoolv1.RedeliverDeadEventsRequest) (*wapoolv1.RedeliverDeadEventsResponse, error) {
	return nil, withReason(codes.FailedPrecondition, "no webhook is configured", "WEBHOOK_OFF")
}
