package main

// The soak's webhook (issue 22): the receiver (hookreceiver.go), the wait
// for it to hold every event at the end (here), and the judge
// (hookjudge.go).
//
// What is promised (internal/webhook, docs/operations.md), and so what the
// judge holds the receiver's log to, by the event's cursor
// (X-Wapool-Event-Id):
//   - every event of the log is acknowledged (2xx) once, or parked in the
//     dead-letter list and kept there until redelivered: an event neither
//     accepted nor listed is missing;
//   - at least once, not exactly once: the delivered position is stored
//     after each batch and before each retry wait, so a sender that dies
//     (SIGKILL) or hands the duty to another node resends from the last
//     position stored, and in cluster mode two nodes may deliver for a
//     moment when the node set changes. An event accepted again by another
//     process is within the promise (the receiver de-duplicates by cursor);
//     one accepted twice by one process is not, unless that process failed
//     to store its position (it logged so: PostgreSQL was down);
//   - in order: on one node, the events' first acceptances follow the log,
//     but for parked events (their redelivery comes out of order, as
//     RedeliverDeadEvents says). In a cluster two deliverers may overlap:
//     the order is reported, not judged.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	// hookStartTimeout bounds the wait for the first sender to read its
	// position (a cluster elects the node that delivers first).
	hookStartTimeout = 30 * time.Second
	// hookSettleTimeout bounds the wait, after the drain, for the
	// receiver to have every event (or the dead-letter list to hold it),
	// and again for the redelivery of the parked ones.
	hookSettleTimeout = 2 * time.Minute
)

// waitHookStart waits until some process of the daemons has started its
// webhook sender, and returns the position it started after: the events
// after it are the judged range. logOf returns the current processes'
// logs.
func waitHookStart(ctx context.Context, logOf func() []string) (string, error) {
	var after string
	err := waitCond(ctx, hookStartTimeout, func() bool {
		for _, l := range logOf() {
			for line := range strings.Lines(l) {
				var rec hookLogLine
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == logHookRun {
					after = rec.After
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		return "", fmt.Errorf("no webhook sender started: %w", err)
	}
	return after, nil
}

// deadLetters lists the cursors of the webhook's dead-letter list.
func deadLetters(ctx context.Context, cl wapoolv1.SessionServiceClient) (map[string]bool, error) {
	out := map[string]bool{}
	after := ""
	for {
		rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		resp, err := cl.ListDeadEvents(rctx, &wapoolv1.ListDeadEventsRequest{After: after, Limit: 1000})
		cancel()
		if err != nil {
			return nil, err
		}
		for _, d := range resp.DeadEvents {
			out[d.Cursor] = true
		}
		if after = resp.NextAfter; after == "" {
			return out, nil
		}
	}
}

// settleHooks waits, once every accepted message has finished, until the
// receiver (now answering 200) has every event of the judged range
// (after from, up to the log's head now) or the dead-letter list holds it;
// then it asks the redelivery of the parked events the receiver never
// accepted and waits for them too. It returns the judged range's events
// and the dead-letter list at the end. client gives a daemon to ask.
func (s *soak) settleHooks(ctx context.Context, rcv *receiver, client func() wapoolv1.SessionServiceClient, from string) (hookRange, error) {
	rcv.cycle(false)
	var r hookRange
	cl := client()
	if cl == nil {
		return r, errors.New("no daemon serves")
	}
	r.mark = rcv.count()
	to, err := headCursor(ctx, cl)
	if err != nil {
		return r, fmt.Errorf("the event log's head: %w", err)
	}
	if r.evs, err = readEvents(ctx, cl, from, to); err != nil {
		return r, fmt.Errorf("reading the event log back: %w", err)
	}
	evs := r.evs
	dead := map[string]bool{}
	listed := false
	waiting := func(redelivered bool) []string {
		got := rcv.accepted()
		var out []string
		for _, ev := range evs {
			if !got[ev.Cursor] && (redelivered || !dead[ev.Cursor]) {
				out = append(out, ev.Cursor)
			}
		}
		return out
	}
	var left []string
	var listErr error
	err = waitCond(ctx, hookSettleTimeout, func() bool {
		if cl := client(); cl != nil {
			if d, err := deadLetters(ctx, cl); err == nil {
				dead, listed, listErr = d, true, nil
			} else {
				listErr = err
			}
		}
		left = waiting(false)
		return len(left) == 0 && listed
	})
	r.dead = dead
	if err != nil {
		return r, fmt.Errorf("webhook: %d events of the log neither at the receiver nor parked (%v; dead-letter list: %v): %s", len(left), err, listErr, first(left, 5))
	}
	if parked := waiting(true); len(parked) > 0 {
		s.printf("webhook: asking the redelivery of the %d parked events the receiver never accepted", len(parked))
		cl := client()
		if cl == nil {
			return r, errors.New("webhook: no daemon serves to redeliver the parked events")
		}
		rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		_, err := cl.RedeliverDeadEvents(rctx, &wapoolv1.RedeliverDeadEventsRequest{Cursors: parked})
		cancel()
		if err != nil {
			return r, fmt.Errorf("webhook: RedeliverDeadEvents: %w", err)
		}
		if err := waitCond(ctx, hookSettleTimeout, func() bool { left = waiting(true); return len(left) == 0 }); err != nil {
			s.printf("webhook: %d redelivered events not at the receiver: %v", len(left), err)
		}
		if cl := client(); cl != nil {
			if d, err := deadLetters(ctx, cl); err == nil {
				r.dead = d
			}
		}
	}
	s.printf("webhook: the receiver has every event of the log up to %s, or the dead-letter list does", to)
	return r, nil
}

// hookRange is what the judge needs of the event log: its events in the
// judged range, how many POSTs the receiver had before the head was read,
// and the dead-letter list at the end.
type hookRange struct {
	evs  []*wapoolv1.Event
	mark int
	dead map[string]bool
}
