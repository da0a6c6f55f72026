package server

// Server-Sent Events: GET /v1/events on --http-addr, WatchEvents for a
// browser's EventSource (or curl -N).
//
// The handler calls WatchEvents through the gateway's in-memory gRPC
// connection, with the request's credentials and relayed peer, so the
// authentication, the scopes, the filters and the slow-consumer rule are
// WatchEvents' own. It only writes what the stream gives as SSE:
//
//	retry: 2000
//	id: <cursor the stream starts after>          (sets the last event id, dispatches nothing)
//
//	id: <cursor>
//	data: <the Event as proto3 JSON, one line>
//
//	: keep-alive                                  (a comment while idle)
//
//	event: error
//	data: <google.rpc.Status as JSON>             (last, when the stream fails)
//
// The SSE id is the event's cursor, so a reconnecting EventSource sends the
// last one as Last-Event-ID and resumes after it with nothing missed; the
// first block gives it a cursor before any event. Query: tenant_ids
// (repeated, or comma-separated; empty: every tenant the caller may see)
// and after (a cursor; Last-Event-ID wins over it). An error before the
// stream starts (credentials, scope, a bad tenant id or cursor) is answered
// as on the other routes: its status as JSON under its HTTP status.
//
// Ownership: ServeHTTP starts one goroutine that reads the stream and waits
// for it before returning.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// sseRetry is the reconnection delay the stream asks of EventSource.
const sseRetry = 2 * time.Second

type sseHandler struct {
	client    wapoolv1.SessionServiceClient // over the gateway's connection
	mux       *runtime.ServeMux             // for the metadata and the errors
	heartbeat time.Duration
	log       *zap.Logger
}

// sseRequest reads the WatchEvents request of r.
func sseRequest(r *http.Request) *wapoolv1.WatchEventsRequest {
	q := r.URL.Query()
	req := &wapoolv1.WatchEventsRequest{After: q.Get("after")}
	for _, key := range []string{"tenant_ids", "tenantIds"} {
		for _, v := range q[key] {
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" {
					req.TenantIds = append(req.TenantIds, id)
				}
			}
		}
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		req.After = id
	}
	return req
}

// received is one result of the stream's Recv.
type received struct {
	ev  *wapoolv1.WatchEventsResponse
	err error
}

func (h *sseHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, marshaler := runtime.MarshalerForRequest(h.mux, r)
	ctx, err := runtime.AnnotateContext(r.Context(), h.mux, r, wapoolv1.SessionService_WatchEvents_FullMethodName)
	if err != nil {
		httpError(r.Context(), h.mux, marshaler, w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := h.client.WatchEvents(ctx, sseRequest(r))
	if err != nil {
		httpError(ctx, h.mux, marshaler, w, r, err)
		return
	}
	// The server sends the headers, with the start cursor, once the stream
	// is in place; without them the call failed.
	md, _ := stream.Header()
	start := md.Get(CursorHeader)
	if len(start) != 1 {
		_, err := stream.Recv()
		if err == nil || errors.Is(err, io.EOF) {
			err = status.Error(status.Code(err), "the event stream ended before it started")
		}
		httpError(ctx, h.mux, marshaler, w, r, err)
		return
	}

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not hold the events back
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\nid: %s\n\n", sseRetry.Milliseconds(), start[0]); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}

	recv := make(chan received)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			ev, err := stream.Recv()
			select {
			case recv <- received{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); <-readerDone }()

	tick := time.NewTicker(h.heartbeat)
	defer tick.Stop()
	for {
		var werr error
		select {
		case got := <-recv:
			if errors.Is(got.err, io.EOF) {
				return
			}
			if got.err != nil {
				werr = writeSSEError(w, got.err)
				if werr == nil {
					_ = rc.Flush()
				}
				return
			}
			werr = writeSSEEvent(w, got.ev.GetEvent())
		case <-tick.C:
			_, werr = io.WriteString(w, ": keep-alive\n\n")
		case <-ctx.Done():
			return
		}
		if werr == nil {
			werr = rc.Flush()
		}
		if werr != nil {
			h.log.Debug("/v1/events: the client went away", zap.Error(werr))
			return
		}
	}
}

// sseJSON writes events as the webhooks do (EventJSON): proto3 JSON with
// zero values, on one line.
var sseJSON = protojson.MarshalOptions{EmitDefaultValues: true}

func writeSSEEvent(w io.Writer, ev *wapoolv1.Event) error {
	b, err := sseJSON.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %s\ndata: %s\n\n", ev.GetCursor(), b)
	return err
}

// writeSSEError ends the stream with its status as an `error` event.
func writeSSEError(w io.Writer, err error) error {
	b, merr := protojson.Marshal(status.Convert(err).Proto())
	if merr != nil {
		return merr
	}
	_, werr := fmt.Fprintf(w, "event: error\ndata: %s\n\n", b)
	return werr
}
