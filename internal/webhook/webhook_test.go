package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m) // Run starts nothing that outlives it
}

// memSource is an in-memory Source. mu guards the fields that follow.
type memSource struct {
	mu     sync.Mutex
	events []Delivery
	pos    string        // the acknowledged position
	acks   chan string   // every Ack, in order (buffered)
	more   chan struct{} // closed and replaced when events are added
	dead   []memDead     // the dead-letter list, in the order parked
}

// memDead is an entry of memSource's dead-letter list.
type memDead struct {
	DeadLetter
	redeliver bool
}

func newMemSource(ids ...string) *memSource {
	s := &memSource{acks: make(chan string, 100), more: make(chan struct{})}
	s.add(ids...)
	return s
}

func (s *memSource) add(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.events = append(s.events, Delivery{ID: id, Body: []byte(`{"cursor":"` + id + `"}`)})
	}
	close(s.more)
	s.more = make(chan struct{})
}

func (s *memSource) Position(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos, nil
}

// Next returns the events after `after`, or waits for a change and returns
// none (new events, or a redelivery asked for: the sender looks again).
func (s *memSource) Next(ctx context.Context, after string, max int) ([]Delivery, error) {
	s.mu.Lock()
	i := 0
	if after != "" {
		i = slices.IndexFunc(s.events, func(d Delivery) bool { return d.ID == after }) + 1
	}
	out := slices.Clone(s.events[i:min(len(s.events), i+max)])
	more := s.more
	s.mu.Unlock()
	if len(out) > 0 {
		return out, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-more:
		return nil, nil
	}
}

func (s *memSource) Ack(id string) error {
	s.mu.Lock()
	s.pos = id
	s.mu.Unlock()
	s.acks <- id
	return nil
}

func (s *memSource) Park(d DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = slices.DeleteFunc(s.dead, func(e memDead) bool { return e.ID == d.ID })
	s.dead = append(s.dead, memDead{DeadLetter: d})
	return nil
}

func (s *memSource) Redeliveries(_ context.Context, max int) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for _, e := range s.dead {
		if e.redeliver && len(out) < max {
			out = append(out, e.Delivery)
		}
	}
	return out, nil
}

func (s *memSource) Redelivered(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = slices.DeleteFunc(s.dead, func(e memDead) bool { return e.ID == id })
	return nil
}

// redeliverAll asks for the redelivery of the whole dead-letter list and
// wakes Next, as the RedeliverDeadEvents RPC does.
func (s *memSource) redeliverAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.dead {
		s.dead[i].redeliver = true
	}
	close(s.more)
	s.more = make(chan struct{})
}

// deadList returns the dead-letter list.
func (s *memSource) deadList() []memDead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dead)
}

// waitAck waits for the acknowledgement of id, failing on any other order.
func (s *memSource) waitAck(t *testing.T, id string) {
	t.Helper()
	select {
	case got := <-s.acks:
		if got != id {
			t.Fatalf("acknowledged %q, want %q", got, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no acknowledgement of %q", id)
	}
}

// receiver is an httptest endpoint that checks every request and answers
// with a scripted status per event id. mu guards the fields that follow.
type receiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	script map[string][]int // event id → statuses to answer, in turn; then 200
	posts  []string         // event ids in the order POSTed
	bad    []string         // problems seen in requests
	hits   chan string      // every POST's event id
}

func newReceiver(t *testing.T, secret string) (*receiver, *httptest.Server) {
	r := &receiver{t: t, secret: []byte(secret), script: map[string][]int{}, hits: make(chan string, 100)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get(EventIDHeader)
	r.mu.Lock()
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.bad = append(r.bad, fmt.Sprintf("%s %s", req.Method, req.Header.Get("Content-Type")))
	}
	if err := Verify(r.secret, req.Header, body, time.Now(), 0); err != nil {
		r.bad = append(r.bad, fmt.Sprintf("%s: %v", id, err))
	}
	if string(body) != `{"cursor":"`+id+`"}` {
		r.bad = append(r.bad, fmt.Sprintf("body %q under id %q", body, id))
	}
	r.posts = append(r.posts, id)
	code := http.StatusOK
	if s := r.script[id]; len(s) > 0 {
		code, r.script[id] = s[0], s[1:]
	}
	r.mu.Unlock()
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "0")
	}
	w.WriteHeader(code)
	select {
	case r.hits <- id:
	default: // nobody counts any more
	}
}

func (r *receiver) check() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Errorf("bad requests: %q", r.bad)
	}
	return slices.Clone(r.posts)
}

// counts is an Observer. mu guards the fields that follow.
type counts struct {
	mu                         sync.Mutex
	delivered, retried, parked int
	pauses                     []bool // every Paused call, in order
}

func (c *counts) Delivered() { c.mu.Lock(); c.delivered++; c.mu.Unlock() }
func (c *counts) Retried()   { c.mu.Lock(); c.retried++; c.mu.Unlock() }
func (c *counts) Parked()    { c.mu.Lock(); c.parked++; c.mu.Unlock() }
func (c *counts) Paused(p bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pauses = append(c.pauses, p)
}

// get returns delivered, retried and parked.
func (c *counts) get() [3]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return [3]int{c.delivered, c.retried, c.parked}
}

// run starts s.Run and returns a func that stops it and waits.
func run(t *testing.T, s *Sender) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = s.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func fastConfig(url string, obs Observer) Config {
	return Config{URL: url, Secrets: [][]byte{[]byte("s3cret")}, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Observer: obs}
}

// TestSignMatchesHMACSHA256: a signature is the HMAC-SHA256 of timestamp
// "." body, as any implementation computes it (printf '%s'
// '1700000000.The quick…' | openssl dgst -sha256 -hmac key).
func TestSignMatchesHMACSHA256(t *testing.T) {
	const body = "The quick brown fox jumps over the lazy dog"
	got := Sign([]byte("key"), "1700000000", []byte(body))
	const want = "sha256=2f658d6aef4f246e91cd741bbcded7479e9605f9d41c9e248122a117e0e1765b"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if got := signatures([][]byte{[]byte("key"), []byte("next")}, "1700000000", []byte(body)); got != want+",sha256=0070040c8b8d2e2882791ef75b5c00fe9186d654c64a55f154cc1d9d1f5a47da" {
		t.Errorf("two secrets sign as %s", got)
	}
}

// TestVerify: what a receiver accepts: its secret's signature among those
// sent, over this timestamp and body, the timestamp within the tolerance.
func TestVerify(t *testing.T) {
	const body = "The quick brown fox jumps over the lazy dog"
	now := time.Unix(1700000000, 0)
	good := Sign([]byte("key"), "1700000000", []byte(body))
	other := Sign([]byte("other"), "1700000000", []byte(body))
	h := func(ts, sig string) http.Header {
		return http.Header{TimestampHeader: {ts}, SignatureHeader: {sig}}
	}
	for _, c := range []struct {
		name   string
		h      http.Header
		body   string
		now    time.Time
		secret string
		want   error
	}{
		{"good", h("1700000000", good), body, now, "key", nil},
		{"one of two, first", h("1700000000", good+","+other), body, now, "key", nil},
		{"one of two, second", h("1700000000", other+", "+good), body, now, "key", nil},
		{"4m59s old", h("1700000000", good), body, now.Add(299 * time.Second), "key", nil},
		{"5m01s old: a replay", h("1700000000", good), body, now.Add(301 * time.Second), "key", ErrTimestamp},
		{"from 10 minutes ahead", h("1700000000", good), body, now.Add(-10 * time.Minute), "key", ErrTimestamp},
		{"no timestamp", h("", good), body, now, "key", ErrTimestamp},
		{"another timestamp", h("1700000001", good), body, now, "key", ErrSignature},
		{"another body", h("1700000000", good), body + ".", now, "key", ErrSignature},
		{"another secret", h("1700000000", good), body, now, "other2", ErrSignature},
		{"no signature", h("1700000000", ""), body, now, "key", ErrSignature},
		{"truncated", h("1700000000", good[:len(good)-1]), body, now, "key", ErrSignature},
		{"another scheme", h("1700000000", "sha1="+good[7:]), body, now, "key", ErrSignature},
	} {
		err := Verify([]byte(c.secret), c.h, []byte(c.body), c.now, 0)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
	if err := Verify([]byte("key"), h("1700000000", good), []byte(body), now.Add(time.Hour), 2*time.Hour); err != nil {
		t.Errorf("a tolerance of 2h refused an hour: %v", err)
	}
}

// TestRetryClasses: 5xx, 408, 429, 3xx, other 4xx and a dropped connection
// are retried until a 2xx; 401, 403, 404 and 410 pause, and are retried
// too. Events go out in order, each one's retries before the next.
func TestRetryClasses(t *testing.T) {
	r, srv := newReceiver(t, "s3cret")
	r.script = map[string][]int{
		"e1": {500, 500},      // twice 500, then 200
		"e2": {404},           // paused
		"e3": {408, 429, 503}, // all retried
		"e4": {400, 422},      // retried
		"e5": {301, 502},      // a redirect is not followed: retried
	}
	src := newMemSource("e1", "e2", "e3", "e4", "e5", "e6")
	var c counts
	s, err := New(fastConfig(srv.URL, &c), src)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	waitAcked(t, src, "e6")
	stop()
	want := []string{"e1", "e1", "e1", "e2", "e2", "e3", "e3", "e3", "e3", "e4", "e4", "e4", "e5", "e5", "e5", "e6"}
	if got := r.check(); !slices.Equal(got, want) {
		t.Errorf("POSTs %q, want %q", got, want)
	}
	if got := c.get(); got != [3]int{6, 10, 0} {
		t.Errorf("delivered, retried, parked = %v, want [6 10 0]", got)
	}
	c.mu.Lock()
	if !slices.Equal(c.pauses, []bool{true, false}) {
		t.Errorf("Paused calls %v, want [true false]", c.pauses)
	}
	c.mu.Unlock()
	if pos, _ := src.Position(context.Background()); pos != "e6" {
		t.Errorf("position %q, want e6", pos)
	}
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 { // cut the connection without an answer
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
	}))
	defer srv.Close()
	src := newMemSource("e1")
	var c counts
	s, _ := New(fastConfig(srv.URL, &c), src)
	stop := run(t, s)
	src.waitAck(t, "e1")
	stop()
	if got := c.get(); got != [3]int{1, 1, 0} {
		t.Errorf("delivered, retried, parked = %v, want [1 1 0]", got)
	}
}

// TestProgressIsAckedBeforeWaiting: while an event is retried, the ones
// before it are already acknowledged; a stop in the middle resumes with the
// failing event, not before it.
func TestProgressIsAckedBeforeWaitingAndResumes(t *testing.T) {
	r, srv := newReceiver(t, "s3cret")
	r.script["e2"] = slices.Repeat([]int{500}, 1000)
	src := newMemSource("e1", "e2")
	s, _ := New(fastConfig(srv.URL, nil), src)
	stop := run(t, s)
	src.waitAck(t, "e1")           // acked while e2 fails
	for failed := 0; failed < 2; { // e2 failed twice at least
		if <-r.hits == "e2" {
			failed++
		}
	}
	stop() // as a daemon stop (or a crash) would
	if pos, _ := src.Position(context.Background()); pos != "e1" {
		t.Fatalf("position after the stop %q, want e1", pos)
	}
	r.mu.Lock()
	r.script["e2"] = nil // the endpoint is back
	r.mu.Unlock()
	src.add("e3")
	s2, _ := New(fastConfig(srv.URL, nil), src)
	stop = run(t, s2)
	src.waitAck(t, "e3")
	stop()
	posts := r.check()
	if posts[0] != "e1" || slices.Contains(posts[1:], "e1") {
		t.Errorf("e1 POSTed again after its acknowledgement: %q", posts)
	}
	if n := len(posts); posts[n-2] != "e2" || posts[n-1] != "e3" {
		t.Errorf("after the restart: %q, want e2 then e3 last", posts)
	}
}

func TestSetSecretsSignsWithTheNewKeys(t *testing.T) {
	r, srv := newReceiver(t, "new-secret")
	src := newMemSource("e1")
	s, _ := New(fastConfig(srv.URL, nil), src) // "s3cret"
	if err := s.SetSecrets([][]byte{[]byte("new-secret")}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][][]byte{nil, {[]byte("a"), nil}, {[]byte("a"), []byte("b"), []byte("c")}} {
		if err := s.SetSecrets(bad); err == nil {
			t.Errorf("SetSecrets(%q) accepted", bad)
		}
	}
	stop := run(t, s)
	src.waitAck(t, "e1")
	stop()
	r.check()
}

func TestBackoffBounds(t *testing.T) {
	for _, jitter := range []float64{0, 0.5, 0.999999} {
		s, _ := New(Config{URL: "http://127.0.0.1:1/", Secrets: [][]byte{[]byte("x")}, MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second,
			Rand: func() float64 { return jitter }}, newMemSource())
		for attempt := 1; attempt <= 70; attempt++ {
			d := min(100*time.Millisecond<<min(attempt-1, 30), 5*time.Second)
			got := s.backoff(attempt, 0)
			if got < d/2 || got > d {
				t.Errorf("jitter %v attempt %d: wait %v outside [%v, %v]", jitter, attempt, got, d/2, d)
			}
		}
		if got := s.backoff(1, 3*time.Second); got != 3*time.Second {
			t.Errorf("Retry-After 3s: wait %v", got)
		}
		if got := s.backoff(1, time.Hour); got != 5*time.Second {
			t.Errorf("Retry-After 1h: wait %v, want the 5s bound", got)
		}
	}
	// The doubling: the upper bounds of the first waits.
	s, _ := New(Config{URL: "http://x/", Secrets: [][]byte{[]byte("x")}, Rand: func() float64 { return 0.9999999 }}, newMemSource())
	var got []time.Duration
	for attempt := 1; attempt <= 9; attempt++ {
		got = append(got, s.backoff(attempt, 0).Round(10*time.Millisecond))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("default waits %v, want %v", got, want)
	}
}

func TestRetryAfterParses(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":     0,
		"7":    7 * time.Second,
		"-1":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	for code, want := range map[int]outcome{
		200: delivered, 201: delivered, 204: delivered, 299: delivered,
		301: retry, 304: retry, 408: retry, 429: retry, 500: retry, 502: retry, 503: retry, 0: retry,
		400: retry, 413: retry, 422: retry,
		401: pause, 403: pause, 404: pause, 410: pause,
	} {
		if got := classify(code); got != want {
			t.Errorf("classify(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	src := newMemSource()
	x := [][]byte{[]byte("x")}
	for _, cfg := range []Config{
		{URL: "", Secrets: x},
		{URL: "ftp://host/x", Secrets: x},
		{URL: "http:///path", Secrets: x},
		{URL: "https://host/hook", Secrets: nil},
		{URL: "https://host/hook", Secrets: [][]byte{nil}},
		{URL: "https://host/hook", Secrets: [][]byte{[]byte("a"), []byte("b"), []byte("c")}},
	} {
		if _, err := New(cfg, src); err == nil {
			t.Errorf("New(%q, %d secrets) accepted", cfg.URL, len(cfg.Secrets))
		}
	}
	if _, err := New(Config{URL: "https://host/hook", Secrets: x}, nil); err == nil {
		t.Error("New without a source accepted")
	}
	if _, err := New(Config{URL: "ftp://user:pw@host/hook?token=1", Secrets: x}, src); err == nil || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "token") {
		t.Errorf("New of a bad URL with credentials: %v", err)
	}
	if got := redact("https://user:pw@host/hook?token=1#frag"); got != "https://host/hook" {
		t.Errorf("redact = %q", got)
	}
}
