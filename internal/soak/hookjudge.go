package main

// The judge of the soak's webhook: the receiver's POSTs against the event
// log, by cursor, held to what is promised (see hooks.go).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Daemon log messages of the webhook sender (internal/webhook).
const (
	logHookRun         = "webhook: delivering"
	logHookParked      = "webhook: event parked in the dead-letter list; the next events go on (wapoolctl events dead lists it, wapoolctl events redeliver sends it again)"
	logHookAckFailed   = "webhook: storing the delivered position"
	logHookPosFailed   = "webhook: reading the delivered position"
	logHookRedelivered = "webhook: a dead letter was redelivered"
)

// senderFacts is what the daemons' logs say about each process's webhook
// sender, by process ("<name>#<start>", as the receiver's URL names it).
type senderFacts struct {
	runs      map[string]int  // sender runs started (a node's runs follow its duty)
	posFailed map[string]bool // processes that failed to store or read their position
	parked    map[string]bool // events parked, by cursor
	redeliv   int             // dead letters redelivered
}

// scanSenders reads the daemons' log files (name → path), each split into
// its processes by the soak's start markers.
func scanSenders(logs map[string]string) (senderFacts, error) {
	f := senderFacts{runs: map[string]int{}, posFailed: map[string]bool{}, parked: map[string]bool{}}
	var errs []error
	for name, path := range logs {
		errs = append(errs, f.scan(name, path))
	}
	return f, errors.Join(errs...)
}

// hookLogLine is what the soak reads of a daemon's log line.
type hookLogLine struct {
	Msg   string `json:"msg"`
	After string `json:"after"`
	Event string `json:"event"`
}

func (f *senderFacts) scan(name, path string) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	proc := name + "#0"
	for sc.Scan() {
		var rec hookLogLine
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(rec.Msg, startMarker, &n); err == nil {
			proc = fmt.Sprintf("%s#%d", name, n)
			continue
		}
		switch rec.Msg {
		case logHookRun:
			f.runs[proc]++
		case logHookAckFailed, logHookPosFailed:
			f.posFailed[proc] = true
		case logHookParked:
			f.parked[rec.Event] = true
		case logHookRedelivered:
			f.redeliv++
		}
	}
	return sc.Err()
}

// hookVerdict is the judge's finding on the webhook.
type hookVerdict struct {
	events      int            // events of the log in the judged range
	accepted    int            // of which the receiver answered 200 at least once
	posts       map[int]int    // POSTs by the status answered
	phases      map[int]int    // phases of the cycle that got a POST, by status
	missing     []string       // events neither accepted nor in the dead-letter list
	parkedLeft  []string       // events never accepted, still in the dead-letter list (accounted for)
	parked      int            // events parked during the soak (daemon logs)
	repeated    int            // events answered 200 more than once
	resent      int            // of which every repeat came from another process (within the promise)
	beyond      []string       // events answered 200 twice by one process that stored its position
	resentBy    map[string]int // per process, the events it had accepted that another process had had accepted before
	outOfOrder  []string       // events first accepted after a later one (never-parked events only)
	unknown     []string       // cursors accepted that the judged range of the log does not hold
	differs     []string       // events whose body differs from the log's
	badSigs     int
	badPosts    []string
	orderJudged bool // a single node: out-of-order is a fault
}

// judgeHooks compares the receiver's POSTs with the log's events in the
// judged range (evs, in log order), given the dead-letter list at the end
// and the daemons' log facts. The first mark posts were made before the
// log's head was read: an event they carry must be in evs.
func judgeHooks(evs []*wapoolv1.Event, posts []hookPost, mark int, deadList map[string]bool, sf senderFacts, single bool) hookVerdict {
	v := hookVerdict{events: len(evs), posts: map[int]int{}, phases: map[int]int{}, parked: len(sf.parked),
		resentBy: map[string]int{}, orderJudged: single}
	index := map[string]int{} // cursor → its place in the log (cursors are compared for equality only)
	for i, ev := range evs {
		index[ev.Cursor] = i
	}
	seenPhase := map[int]bool{}
	by := map[string][]string{} // cursor → the processes whose POST was answered 200, in order
	var firsts []string         // cursors in the order of their first 200
	for i, p := range posts {
		v.posts[p.status]++
		if p.phase > 0 && !seenPhase[p.phase] {
			seenPhase[p.phase] = true
			v.phases[hookPhases[(p.phase-1)%3]]++
		}
		if p.status != http.StatusOK {
			continue
		}
		at, ok := index[p.cursor]
		if !ok {
			if i < mark {
				v.unknown = append(v.unknown, p.cursor+" from "+p.sender)
			}
			continue // made after the head was read: maybe a later event (of the final stop)
		}
		want := evs[at]
		if len(by[p.cursor]) == 0 {
			firsts = append(firsts, p.cursor)
			if !proto.Equal(want, p.ev) {
				v.differs = append(v.differs, p.cursor)
			}
		}
		by[p.cursor] = append(by[p.cursor], p.sender)
	}
	for _, ev := range evs {
		senders := by[ev.Cursor]
		switch {
		case len(senders) == 0 && deadList[ev.Cursor]:
			v.parkedLeft = append(v.parkedLeft, ev.Cursor)
			continue
		case len(senders) == 0:
			v.missing = append(v.missing, ev.Cursor)
			continue
		}
		v.accepted++
		if len(senders) == 1 {
			continue
		}
		v.repeated++
		count := map[string]int{}
		for _, s := range senders {
			count[s]++
		}
		within := true
		for s, n := range count {
			if n > 1 && !sf.posFailed[s] {
				within = false
				v.beyond = append(v.beyond, fmt.Sprintf("%s accepted %d times from %s", ev.Cursor, n, s))
			}
		}
		if within {
			v.resent++
		}
		for _, s := range senders[1:] {
			if s != senders[0] {
				v.resentBy[s]++
			}
		}
	}
	highest := -1
	for _, c := range firsts {
		if sf.parked[c] || deadList[c] {
			continue
		}
		if index[c] < highest {
			v.outOfOrder = append(v.outOfOrder, c)
		}
		highest = max(highest, index[c])
	}
	return v
}

// judgeReceiver judges what rcv saw (see judgeHooks).
func judgeReceiver(evs []*wapoolv1.Event, rcv *receiver, mark int, deadList map[string]bool, sf senderFacts, single bool) hookVerdict {
	posts, badSigs, badPosts := rcv.results()
	v := judgeHooks(evs, posts, mark, deadList, sf, single)
	v.badSigs, v.badPosts = badSigs, badPosts
	return v
}

// faults names what the webhook's verdict shows beyond the promise, and a
// soak that did not exercise the receiver's failing phases.
func (v hookVerdict) faults() []string {
	var out []string
	if len(v.missing) > 0 {
		out = append(out, fmt.Sprintf("webhook: %d events missing at the receiver (never answered 200, not in the dead-letter list): %s", len(v.missing), first(v.missing, 5)))
	}
	if len(v.beyond) > 0 {
		out = append(out, fmt.Sprintf("webhook: %d events repeated beyond the promise (accepted twice from one process that stored its position): %s", len(v.beyond), first(v.beyond, 5)))
	}
	if len(v.unknown) > 0 {
		out = append(out, fmt.Sprintf("webhook: %d events accepted that the log does not hold: %s", len(v.unknown), first(v.unknown, 5)))
	}
	if len(v.differs) > 0 {
		out = append(out, fmt.Sprintf("webhook: %d events whose body differs from the log's: %s", len(v.differs), first(v.differs, 5)))
	}
	if v.orderJudged && len(v.outOfOrder) > 0 {
		out = append(out, fmt.Sprintf("webhook: %d events first accepted after a later one: %s", len(v.outOfOrder), first(v.outOfOrder, 5)))
	}
	if v.badSigs > 0 {
		out = append(out, fmt.Sprintf("webhook: %d POSTs whose signature did not verify", v.badSigs))
	}
	if len(v.badPosts) > 0 {
		out = append(out, fmt.Sprintf("webhook: %d POSTs the receiver could not read: %s", len(v.badPosts), first(v.badPosts, 3)))
	}
	for _, status := range hookPhases[:2] {
		if v.posts[status] == 0 {
			out = append(out, fmt.Sprintf("webhook: no POST fell in a %d phase of the receiver: the soak did not exercise it", status))
		}
	}
	if v.events == 0 {
		out = append(out, "webhook: the judged range of the event log is empty")
	}
	return out
}

// line is the report's summary of the verdict.
func (v hookVerdict) line() string {
	most := 0
	for _, n := range v.resentBy {
		most = max(most, n)
	}
	return fmt.Sprintf("webhook: %d events in the log, %d accepted (200); events missing %d, events repeated %d (%d accepted again from another process, which resent from its stored position after a restart or a change of the delivering node: within the at-least-once promise, at most %d by one process; %d beyond it); %d parked in the dead-letter list (%d left there unaccepted); out of order %d; POSTs answered %s; receiver phases with POSTs: %s",
		v.events, v.accepted, len(v.missing), v.repeated, v.resent, most, len(v.beyond), v.parked, len(v.parkedLeft), len(v.outOfOrder),
		statusList(v.posts), statusList(v.phases))
}

// statusList renders counts by HTTP status as "200 12, 404 3, 500 4".
func statusList(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d ×%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// hookSenders counts the processes that ran a webhook sender, by node
// (runs started: a node runs one while it leads the duty).
func hookSenders(sf senderFacts) map[string]int {
	out := map[string]int{}
	for proc, n := range sf.runs {
		name, _, _ := strings.Cut(proc, "#")
		out[name] += n
	}
	return out
}
