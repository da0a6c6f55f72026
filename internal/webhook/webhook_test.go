package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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

func (s *memSource) Next(ctx context.Context, after string, max int) ([]Delivery, error) {
	for {
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
		}
	}
}

func (s *memSource) Ack(id string) error {
	s.mu.Lock()
	s.pos = id
	s.mu.Unlock()
	s.acks <- id
	return nil
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
	if !Verify(r.secret, body, req.Header.Get(SignatureHeader)) {
		r.bad = append(r.bad, "bad signature on "+id)
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

// counts is an Observer.
type counts struct {
	mu                          sync.Mutex
	delivered, retried, dropped int
}

func (c *counts) Delivered() { c.mu.Lock(); c.delivered++; c.mu.Unlock() }
func (c *counts) Retried()   { c.mu.Lock(); c.retried++; c.mu.Unlock() }
func (c *counts) Dropped()   { c.mu.Lock(); c.dropped++; c.mu.Unlock() }
func (c *counts) get() [3]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return [3]int{c.delivered, c.retried, c.dropped}
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
	return Config{URL: url, Secret: []byte("s3cret"), MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Observer: obs}
}

func TestSignMatchesHMACSHA256(t *testing.T) {
	// RFC 4231-style vector computed by any HMAC-SHA256 implementation
	// (openssl dgst -sha256 -hmac key).
	got := Sign([]byte("key"), []byte("The quick brown fox jumps over the lazy dog"))
	const want = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !Verify([]byte("key"), []byte("The quick brown fox jumps over the lazy dog"), want) {
		t.Error("Verify refused a good signature")
	}
	for _, bad := range []string{"", "sha256=", want[:len(want)-1] + "9", "sha1=" + want[7:]} {
		if Verify([]byte("key"), []byte("The quick brown fox jumps over the lazy dog"), bad) {
			t.Errorf("Verify accepted %q", bad)
		}
	}
	if Verify([]byte("other"), []byte("The quick brown fox jumps over the lazy dog"), want) {
		t.Error("Verify accepted a signature under another secret")
	}
}

// TestRetryClasses: 5xx, 408, 429, 3xx and a dropped connection are retried
// until a 2xx; other 4xx are final. Events go out in order, each one's
// retries before the next.
func TestRetryClasses(t *testing.T) {
	r, srv := newReceiver(t, "s3cret")
	r.script = map[string][]int{
		"e1": {500, 500},      // twice 500, then 200
		"e2": {404},           // final
		"e3": {408, 429, 503}, // all retried
		"e4": {400},           // final
		"e5": {301, 502},      // a redirect is not followed: retried
	}
	src := newMemSource("e1", "e2", "e3", "e4", "e5", "e6")
	var c counts
	s, err := New(fastConfig(srv.URL, &c), src)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	for {
		if id := <-src.acks; id == "e6" {
			break
		}
	}
	stop()
	want := []string{"e1", "e1", "e1", "e2", "e3", "e3", "e3", "e3", "e4", "e5", "e5", "e5", "e6"}
	if got := r.check(); !slices.Equal(got, want) {
		t.Errorf("POSTs %q, want %q", got, want)
	}
	if got := c.get(); got != [3]int{4, 7, 2} {
		t.Errorf("delivered, retried, dropped = %v, want [4 7 2]", got)
	}
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
		t.Errorf("delivered, retried, dropped = %v, want [1 1 0]", got)
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

func TestSetSecretSignsWithTheNewKey(t *testing.T) {
	r, srv := newReceiver(t, "new-secret")
	src := newMemSource("e1")
	s, _ := New(fastConfig(srv.URL, nil), src) // "s3cret"
	s.SetSecret([]byte("new-secret"))
	s.SetSecret(nil) // ignored
	stop := run(t, s)
	src.waitAck(t, "e1")
	stop()
	r.check()
}

func TestBackoffBounds(t *testing.T) {
	for _, jitter := range []float64{0, 0.5, 0.999999} {
		s, _ := New(Config{URL: "http://127.0.0.1:1/", Secret: []byte("x"), MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second,
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
	s, _ := New(Config{URL: "http://x/", Secret: []byte("x"), Rand: func() float64 { return 0.9999999 }}, newMemSource())
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
		400: drop, 401: drop, 403: drop, 404: drop, 410: drop, 413: drop, 422: drop,
	} {
		if got := classify(code); got != want {
			t.Errorf("classify(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	src := newMemSource()
	for _, cfg := range []Config{
		{URL: "", Secret: []byte("x")},
		{URL: "ftp://host/x", Secret: []byte("x")},
		{URL: "http:///path", Secret: []byte("x")},
		{URL: "https://host/hook", Secret: nil},
	} {
		if _, err := New(cfg, src); err == nil {
			t.Errorf("New(%q, secret %d bytes) accepted", cfg.URL, len(cfg.Secret))
		}
	}
	if _, err := New(Config{URL: "https://host/hook", Secret: []byte("x")}, nil); err == nil {
		t.Error("New without a source accepted")
	}
	if got := redact("https://user:pw@host/hook?token=1"); got != "https://host/hook" {
		t.Errorf("redact = %q", got)
	}
}
