package main

// The soak's webhook receiver (issue 22): an HTTP server on 127.0.0.1 in
// the soak's process, given to every wapoold with --webhook-url and
// --webhook-secret-file. Each process gets a URL of its own,
// /hook/<daemon or node>/<start number>, so the receiver knows which
// process delivered each POST. During the chaos it answers in phases that
// repeat: 500 (a failing receiver: the sender retries, and parks an event
// in the dead-letter list after --webhook-max-attempts), 404 (a receiver
// not deployed: the sender pauses, spends no attempt and drops nothing),
// then 200. Before and after the chaos it answers 200. It checks every
// signature (webhook.Verify) and answers 401 to a bad one (a fault).
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
//
// Concurrency: the HTTP server's goroutines call ServeHTTP; mu guards the
// fields that follow it. The main goroutine starts and stops the cycle and
// reads the posts.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/wapool/wapool/internal/webhook"
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

const (
	// hookStartTimeout bounds the wait for the first sender to read its
	// position (a cluster elects the node that delivers first).
	hookStartTimeout = 30 * time.Second
	// hookSettleTimeout bounds the wait, after the drain, for the
	// receiver to have every event (or the dead-letter list to hold it),
	// and again for the redelivery of the parked ones.
	hookSettleTimeout = 2 * time.Minute
	// hookPath is the path of the receiver's URLs: /hook/<name>/<n>.
	hookPath = "/hook/"
)

// The phases of the receiver's cycle, in order.
var hookPhases = [3]int{http.StatusInternalServerError, http.StatusNotFound, http.StatusOK}

// hookPost is one POST the receiver answered.
type hookPost struct {
	sender string // the process that made it: "<name>#<start>"
	cursor string // X-Wapool-Event-Id
	status int    // what the receiver answered
	phase  int    // the number of the phase it fell in (0: not cycling)
	ev     *wapoolv1.Event
}

// receiver is the soak's webhook endpoint (see the file comment).
type receiver struct {
	secret []byte
	base   string           // http://127.0.0.1:<port>
	phases [3]time.Duration // of hookPhases
	close  func()

	mu       sync.Mutex
	cycleAt  time.Time // the cycle's start; zero: answering 200
	phaseOff int       // the phase number, less one, of the current cycle's first phase (a multiple of 3)
	posts    []hookPost
	badSigs  int      // POSTs whose signature or timestamp did not verify
	badPosts []string // POSTs that could not be read (no id, a body that is no event, another id than the body's)
}

// startReceiver serves a receiver on 127.0.0.1 at a free port that
// verifies with secret and cycles through phases (the durations of 500,
// 404 and 200) once cycle(true) is called.
func startReceiver(secret []byte, phases [3]time.Duration) (*receiver, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{secret: secret, phases: phases, base: "http://" + lis.Addr().String()}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(served) }()
	r.close = func() { srv.Close(); <-served }
	return r, nil
}

// startHooks starts the soak's receiver with a new secret, written to the
// file the daemons get as --webhook-secret-file, and returns both and the
// daemons' webhook flags (all but --webhook-url: see receiver.url).
func (s *soak) startHooks() (*receiver, []string, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, err
	}
	hexSecret := []byte(hex.EncodeToString(secret))
	file := filepath.Join(s.o.workDir, "webhook-secret")
	if err := os.WriteFile(file, append(hexSecret, '\n'), 0o600); err != nil {
		return nil, nil, err
	}
	rcv, err := startReceiver(hexSecret, s.o.hookPhases)
	if err != nil {
		return nil, nil, err
	}
	return rcv, []string{"--webhook-secret-file", file, "--webhook-max-attempts", strconv.Itoa(s.o.hookMaxAttempts)}, nil
}

// url is the --webhook-url of the n-th start of the daemon or node name.
func (r *receiver) url(name string, n int) string {
	return fmt.Sprintf("%s%s%s/%d", r.base, hookPath, name, n)
}

// cycle starts the phases (on) or ends them: from then on every POST is
// answered 200.
func (r *receiver) cycle(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on == !r.cycleAt.IsZero() {
		return
	}
	if !on {
		// The next cycle's numbers start after this one's, at a 500 phase.
		r.phaseOff += 3 * (r.phaseLocked(time.Now())/3 + 1)
		r.cycleAt = time.Time{}
		return
	}
	r.cycleAt = time.Now()
}

// phaseLocked is the number, from the current cycle's start, of the phase
// now falls in: 0 (500), 1 (404), 2 (200), 3 (500 again), …
func (r *receiver) phaseLocked(now time.Time) int {
	total := r.phases[0] + r.phases[1] + r.phases[2]
	el := now.Sub(r.cycleAt)
	n := int(el / total)
	rest := el % total
	p := 0
	for p < 2 && rest >= r.phases[p] {
		rest -= r.phases[p]
		p++
	}
	return 3*n + p
}

// answer is the status of a POST that verified, made now, and the number
// of its phase (0 outside the cycle).
func (r *receiver) answer(now time.Time) (status, phase int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cycleAt.IsZero() {
		return http.StatusOK, 0
	}
	p := r.phaseLocked(now)
	return hookPhases[p%3], r.phaseOff + p + 1
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sender, ok := strings.CutPrefix(req.URL.Path, hookPath)
	if !ok || req.Method != http.MethodPost {
		http.NotFound(w, req)
		return
	}
	sender = strings.Replace(sender, "/", "#", 1)
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(r.secret, req.Header, body, time.Now(), 0); err != nil {
		r.mu.Lock()
		r.badSigs++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	p := hookPost{sender: sender, cursor: req.Header.Get(webhook.EventIDHeader)}
	var ev wapoolv1.Event
	switch err := protojson.Unmarshal(body, &ev); {
	case p.cursor == "":
		r.bad(w, fmt.Sprintf("a POST from %s without %s", sender, webhook.EventIDHeader))
		return
	case err != nil:
		r.bad(w, fmt.Sprintf("event %s from %s: the body is no event: %v", p.cursor, sender, err))
		return
	case ev.Cursor != p.cursor:
		r.bad(w, fmt.Sprintf("event %s from %s: the body's cursor is %s", p.cursor, sender, ev.Cursor))
		return
	}
	p.ev = &ev
	p.status, p.phase = r.answer(time.Now())
	r.mu.Lock()
	r.posts = append(r.posts, p)
	r.mu.Unlock()
	w.WriteHeader(p.status)
}

// bad records a POST the receiver cannot take and answers it 400 (the
// sender retries it: the fault is the soak's verdict, not a lost event).
func (r *receiver) bad(w http.ResponseWriter, what string) {
	r.mu.Lock()
	r.badPosts = append(r.badPosts, what)
	r.mu.Unlock()
	http.Error(w, what, http.StatusBadRequest)
}

// accepted returns the set of the cursors answered 200 so far.
func (r *receiver) accepted() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for _, p := range r.posts {
		if p.status == http.StatusOK {
			out[p.cursor] = true
		}
	}
	return out
}

// count is how many POSTs the receiver answered so far.
func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.posts)
}

// results returns copies of what the receiver saw.
func (r *receiver) results() (posts []hookPost, badSigs int, badPosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts), r.badSigs, slices.Clone(r.badPosts)
}

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
