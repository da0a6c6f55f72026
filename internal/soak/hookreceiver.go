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
// Concurrency: the HTTP server's goroutines call ServeHTTP; mu guards the
// fields that follow it. The main goroutine starts and stops the cycle and
// reads the posts.

import (
	"crypto/rand"
	"encoding/hex"
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

	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// hookPath is the path of the receiver's URLs: /hook/<name>/<n>.
const hookPath = "/hook/"

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

// writeLog writes the POSTs answered, one a line ("status phase sender
// cursor", in the order they came), to path: the work directory's record
// for a run that failed.
func (r *receiver) writeLog(path string) error {
	posts, _, bad := r.results()
	var b strings.Builder
	for _, p := range posts {
		fmt.Fprintf(&b, "%d %d %s %s\n", p.status, p.phase, p.sender, p.cursor)
	}
	for _, what := range bad {
		fmt.Fprintf(&b, "400 - %s\n", what)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// results returns copies of what the receiver saw.
func (r *receiver) results() (posts []hookPost, badSigs int, badPosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts), r.badSigs, slices.Clone(r.badPosts)
}
