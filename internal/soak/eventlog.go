package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// cursorHeader is the WatchEvents response header with the cursor the
// stream starts after (server.CursorHeader).
const cursorHeader = "wapool-cursor"

// eventsTimeout bounds the reading of the event log.
const eventsTimeout = 60 * time.Second

// headCursor returns the cursor of the newest event of the shared log: the
// header of a WatchEvents stream started "from now".
func headCursor(ctx context.Context, cl wapoolv1.SessionServiceClient) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	stream, err := cl.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{})
	if err != nil {
		return "", err
	}
	md, err := stream.Header()
	if err != nil {
		return "", err
	}
	if v := md.Get(cursorHeader); len(v) == 1 && v[0] != "" {
		return v[0], nil
	}
	return "", fmt.Errorf("WatchEvents sent no %s header: %v", cursorHeader, md)
}

// readEvents reads the event log after the cursor from up to the one to
// (included), as a client of WatchEvents that resumes from a cursor does.
func readEvents(ctx context.Context, cl wapoolv1.SessionServiceClient, from, to string) ([]*wapoolv1.Event, error) {
	if from == to {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, eventsTimeout)
	defer cancel()
	stream, err := cl.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{After: from})
	if err != nil {
		return nil, err
	}
	var out []*wapoolv1.Event
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, fmt.Errorf("the stream ended after %d events, before the cursor %s", len(out), to)
		}
		if err != nil {
			return out, fmt.Errorf("after %d events: %w", len(out), err)
		}
		out = append(out, resp.Event)
		if resp.Event.Cursor == to {
			return out, nil
		}
	}
}

// attribution is what the event log says of the WhatsApp ids of the
// soak's messages: every change of a message is an event, with the message
// as stored, so a message recorded SENT by two nodes with two bubbles, or a
// bubble recorded for two messages, shows there even when the final state
// looks right.
type attribution struct {
	events     int      // message events read
	sentEvents int      // of which SENT
	twoIDs     []string // messages recorded with two WhatsApp ids
	shared     []string // WhatsApp ids recorded for two messages
	sentTwice  int      // messages with more than one SENT event (same id)
	noSent     []string // accepted messages SENT in the end with no SENT event
}

// attribute reads evs against the producers' messages and their final
// states.
func attribute(evs []*wapoolv1.Event, producers []*producer, final map[string]*wapoolv1.Message) attribution {
	var a attribution
	type key struct{ tenant, id string }
	ids := map[key][]string{}    // message → WhatsApp ids recorded
	owners := map[key][]string{} // WhatsApp id → messages
	sent := map[key]int{}
	for _, ev := range evs {
		m := ev.GetMessage().GetMessage()
		if m == nil {
			continue
		}
		a.events++
		k := key{m.TenantId, m.Id}
		if m.State == wapoolv1.MessageState_MESSAGE_STATE_SENT {
			a.sentEvents++
			sent[k]++
		}
		if w := m.WaMessageId; w != "" {
			if !slices.Contains(ids[k], w) {
				ids[k] = append(ids[k], w)
			}
			wk := key{m.TenantId, w}
			if !slices.Contains(owners[wk], m.Id) {
				owners[wk] = append(owners[wk], m.Id)
			}
		}
	}
	for k, ws := range ids {
		if len(ws) > 1 {
			a.twoIDs = append(a.twoIDs, fmt.Sprintf("%s message %s: %v", k.tenant, k.id, ws))
		}
	}
	for k, ms := range owners {
		if len(ms) > 1 {
			a.shared = append(a.shared, fmt.Sprintf("%s bubble %s: messages %v", k.tenant, k.id, ms))
		}
	}
	for _, n := range sent {
		if n > 1 {
			a.sentTwice++
		}
	}
	for _, p := range producers {
		for _, m := range p.done {
			if f := final[m.id]; f != nil && f.State == wapoolv1.MessageState_MESSAGE_STATE_SENT && sent[key{p.tenant, m.id}] == 0 {
				a.noSent = append(a.noSent, fmt.Sprintf("%s message %s", p.tenant, m.id))
			}
		}
	}
	slices.Sort(a.twoIDs)
	slices.Sort(a.shared)
	return a
}

// faults names what the event log shows wrong.
func (a attribution) faults() []string {
	var out []string
	if len(a.twoIDs) > 0 {
		out = append(out, fmt.Sprintf("%d messages attributed to two WhatsApp ids in the event log: %s", len(a.twoIDs), first(a.twoIDs, 5)))
	}
	if len(a.shared) > 0 {
		out = append(out, fmt.Sprintf("%d WhatsApp ids attributed to two messages in the event log: %s", len(a.shared), first(a.shared, 5)))
	}
	if len(a.noSent) > 0 {
		out = append(out, fmt.Sprintf("%d messages SENT with no SENT event in the log: %s", len(a.noSent), first(a.noSent, 5)))
	}
	return out
}

// first renders the first n of xs, and how many more there are.
func first(xs []string, n int) string {
	if len(xs) <= n {
		return fmt.Sprint(xs)
	}
	return fmt.Sprintf("%v and %d more", xs[:n], len(xs)-n)
}
