package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/redact"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// cursorHeader is the WatchEvents response header holding the cursor the
// stream starts after.
const cursorHeader = "wapool-cursor"

// Reconnection after a daemon restart or a cut for slowness.
const (
	watchRetryMin = 500 * time.Millisecond
	watchRetryMax = 10 * time.Second
)

// cmdWatch prints the events of the given tenants (all when none) as they
// happen, one line each, or one protojson Event per line with -o json. It
// runs until interrupted (or --timeout, when given). A stream the daemon
// ends for a restart or for slowness is resumed after the last event shown,
// so nothing is missed and nothing shown twice.
func (c *cli) cmdWatch(args []string) error {
	fs := c.flagSet("watch")
	c.g.register(fs, true)
	after := fs.String("after", "", "")
	tenants, err := c.parseCommand("watch", fs, args, 0, -1)
	if err != nil {
		return err
	}
	if err := c.connect("watch"); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.ctx)
	if c.g.set["timeout"] && c.g.timeout > 0 {
		ctx, cancel = context.WithTimeout(c.ctx, c.g.timeout)
	}
	defer cancel()
	w := &watcher{c: c, tenants: tenants, cursor: *after}
	wait := watchRetryMin
	for {
		shown, err := w.stream(ctx)
		if ctx.Err() != nil {
			return nil // interrupted, or --timeout: not an error for a watch
		}
		if !resumable(err) {
			return c.fail(ctx, err, callFailure{op: "watch", tenant: strings.Join(tenants, " ")})
		}
		if shown {
			wait = watchRetryMin
		}
		fmt.Fprintf(c.stderr, "wapoolctl: %s; resuming after %s in %v\n", oneLine(status.Convert(err).Message(), 200), dash(w.cursor), wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, watchRetryMax)
	}
}

// resumable: the daemon stopped or restarts (UNAVAILABLE), or cut us off
// for reading too slowly (RESOURCE_EXHAUSTED): reconnecting with the cursor
// loses nothing.
func resumable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted:
		return true
	}
	return false
}

// watcher is one watch: the tenants, and the cursor of the last event shown
// (or of where the first stream started).
type watcher struct {
	c       *cli
	tenants []string
	cursor  string
	started bool // the first stream's header was seen
}

// stream runs one WatchEvents call until it fails; shown reports whether it
// printed an event.
func (w *watcher) stream(ctx context.Context) (shown bool, err error) {
	c := w.c
	stream, err := c.client.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{TenantIds: w.tenants, After: w.cursor})
	if err != nil {
		return false, err
	}
	if md, err := stream.Header(); err == nil {
		if v := md.Get(cursorHeader); len(v) == 1 {
			if w.cursor == "" {
				w.cursor = v[0]
			}
			if !w.started && c.g.output == outputText {
				scope := "every tenant"
				if len(w.tenants) > 0 {
					scope = strings.Join(w.tenants, ", ")
				}
				fmt.Fprintf(c.stderr, "watching %s after cursor %s (Ctrl-C to stop)\n", scope, v[0])
			}
			w.started = true
		}
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return shown, status.Error(codes.Unavailable, "the daemon ended the stream")
		}
		if err != nil {
			return shown, err
		}
		ev := resp.GetEvent()
		if c.g.output == outputJSON {
			if err := c.printProto(ev); err != nil {
				return shown, err
			}
		} else {
			fmt.Fprintln(c.stdout, c.eventLine(ev))
		}
		w.cursor, shown = ev.GetCursor(), true
	}
}

// eventLine is one event for people: time, tenant, what changed, cursor.
// Phone numbers are masked to their last 4 digits and WhatsApp ids (which
// hold the recipient's number) left out; the API never carries the text.
func (c *cli) eventLine(ev *wapoolv1.Event) string {
	at := "-"
	if ev.GetAt() != nil {
		at = ev.GetAt().AsTime().Local().Format("2006-01-02 15:04:05.000")
	}
	return fmt.Sprintf("%s  %s  %s  [%s]", at, ev.GetTenantId(), eventWhat(ev), ev.GetCursor())
}

// eventWhat says what changed in ev, as eventLine shows it.
func eventWhat(ev *wapoolv1.Event) string {
	var what string
	switch k := ev.GetKind().(type) {
	case *wapoolv1.Event_SessionState:
		s := k.SessionState
		if r := s.GetStaleRestore(); r != nil {
			what = fmt.Sprintf("profile restored from a snapshot %s behind the last activity (device state rolled back)", r.GetBehind().AsDuration().Round(time.Second))
		} else if s.GetDeleted() {
			what = "session deleted (logged out)"
		} else {
			what = fmt.Sprintf("session %s → %s", stateName(s.GetFrom()), stateName(s.GetTo()))
			if s.GetLastError() != "" && s.GetTo() != wapoolv1.SessionState_SESSION_STATE_READY {
				what += ": " + oneLine(s.GetLastError(), 120)
			}
		}
	case *wapoolv1.Event_Message:
		m := k.Message.GetMessage()
		what = fmt.Sprintf("message %s %s to %s", m.GetId(), messageStateName(m.GetState()), maskPhone(m.GetTo()))
		if md := m.GetMedia(); md != nil {
			what += fmt.Sprintf(" with file %q (%s)", md.GetFilename(), fileSize(md.GetSize()))
		}
		if m.GetAttempts() > 1 {
			what += fmt.Sprintf(" (attempt %d)", m.GetAttempts())
		}
		if m.GetState() == wapoolv1.MessageState_MESSAGE_STATE_FAILED && m.GetError() != "" {
			what += ": " + oneLine(m.GetError(), 120)
		}
	default:
		what = "unknown event (a newer daemon?)"
	}
	return what
}

// maskPhone keeps the last 4 digits, as the daemon's logs do: "…2222";
// "-" when empty.
func maskPhone(digits string) string {
	if digits == "" {
		return "-"
	}
	return redact.Phone(digits)
}

// cursorInfo returns the ErrorInfo metadata of a WatchEvents error.
func cursorInfo(st *status.Status) map[string]string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()
		}
	}
	return nil
}
