package webhook

// Tests of issue 22, items 9, 10, 11 and 15: a failing event does not stop
// the others, a refusal drops nothing, the signature covers a timestamp,
// and no log line holds the URL's query.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// waitAcked reads src's acknowledgements until id, failing after 10 s.
func waitAcked(t *testing.T, src *memSource, id string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-src.acks:
			if got == id {
				return
			}
		case <-deadline:
			t.Fatalf("%q was never acknowledged", id)
		}
	}
}

// Item 9: an event that fails every time is tried up to the limit, then
// parked; the events behind it are delivered.
func TestAFailingEventIsParkedAndTheOthersGoOn(t *testing.T) {
	r, srv := newReceiver(t, "s3cret")
	r.script["e1"] = slices.Repeat([]int{500}, 1000)
	src := newMemSource("e1", "e2", "e3")
	var c counts
	s, err := New(fastConfig(srv.URL, &c), src)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	waitAcked(t, src, "e3")
	stop()
	posts := r.check()
	if n := strings.Count(strings.Join(posts, " "), "e1"); n != 10 {
		t.Errorf("e1 POSTed %d times, want the default limit of 10", n)
	}
	if !slices.Equal(posts[len(posts)-2:], []string{"e2", "e3"}) {
		t.Errorf("POSTs end with %q: want e2 and e3 after e1's attempts", posts[max(0, len(posts)-4):])
	}
	dead := src.deadList()
	if len(dead) != 1 || dead[0].ID != "e1" || dead[0].Attempts != 10 || dead[0].LastError != "HTTP 500" ||
		string(dead[0].Body) != `{"cursor":"e1"}` {
		t.Errorf("dead-letter list %+v, want e1 after 10 attempts, HTTP 500", dead)
	}
	if got := c.get(); got != [3]int{2, 9, 1} {
		t.Errorf("delivered, retried, parked = %v, want [2 9 1]", got)
	}
}

// Item 9: a redelivery asked for POSTs the parked events again; one that
// fails again is parked again; the list keeps what was not delivered.
func TestRedeliverSendsTheParkedEventsAgain(t *testing.T) {
	r, srv := newReceiver(t, "s3cret")
	r.script["e1"] = slices.Repeat([]int{503}, 3)
	r.script["e2"] = slices.Repeat([]int{500}, 5)
	src := newMemSource("e1", "e2", "e3")
	var c counts
	cfg := fastConfig(srv.URL, &c)
	cfg.MaxAttempts = 2
	s, _ := New(cfg, src)
	stop := run(t, s)
	waitAcked(t, src, "e3")
	if dead := src.deadList(); len(dead) != 2 || dead[0].ID != "e1" || dead[1].ID != "e2" || dead[0].Attempts != 2 {
		t.Fatalf("dead-letter list %+v, want e1 and e2 after 2 attempts each", dead)
	}
	// e1 fails once more (its third 503), then is delivered; e2 fails its
	// two attempts again and stays, with the request cleared.
	src.redeliverAll()
	deadline := time.Now().Add(10 * time.Second)
	for {
		dead := src.deadList()
		if len(dead) == 1 && dead[0].ID == "e2" && !dead[0].redeliver {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead-letter list after a redelivery: %+v, want e2 alone, parked again", dead)
		}
		time.Sleep(5 * time.Millisecond)
	}
	src.redeliverAll() // e2's fifth 500, then a 200
	for len(src.deadList()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("dead-letter list after a second redelivery: %+v, want it empty", src.deadList())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	want := []string{"e1", "e1", "e2", "e2", "e3", "e1", "e1", "e2", "e2", "e2", "e2"}
	if got := r.check(); !slices.Equal(got, want) {
		t.Errorf("POSTs %q, want %q", got, want)
	}
	if got := c.get(); got != [3]int{3, 5, 3} {
		t.Errorf("delivered, retried, parked = %v, want [3 5 3]", got)
	}
}

// timedReceiver answers by the time since its first POST: 404 first, then
// 500, then 200, as a receiver being deployed does. It records the events
// it accepted. mu guards the fields that follow.
type timedReceiver struct {
	notFound, failing time.Duration // the phases, from the first POST
	mu                sync.Mutex
	first             time.Time
	accepted          []string
	statuses          map[int]int // answers by status
}

func (r *timedReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	io.Copy(io.Discard, req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() {
		r.first = time.Now()
	}
	code := http.StatusOK
	switch since := time.Since(r.first); {
	case since < r.notFound:
		code = http.StatusNotFound
	case since < r.notFound+r.failing:
		code = http.StatusInternalServerError
	default:
		if id := req.Header.Get(EventIDHeader); !slices.Contains(r.accepted, id) {
			r.accepted = append(r.accepted, id)
		}
	}
	r.statuses[code]++
	w.WriteHeader(code)
}

// Item 10, as measured: a receiver that answers 404 for its first 6 s, then
// 500 for 4 s, then 200 gets every event. Here with a hundredth of the
// default backoff, 404 for 60 ms, then 500 for 200 ms (long enough that the
// pause's backoff cannot skip it).
func TestAReceiverBeingDeployedGetsEveryEvent(t *testing.T) {
	r := &timedReceiver{notFound: 60 * time.Millisecond, failing: 200 * time.Millisecond, statuses: map[int]int{}}
	srv := httptest.NewServer(r)
	defer srv.Close()
	var ids []string
	for i := range 18 {
		ids = append(ids, fmt.Sprintf("e%02d", i))
	}
	src := newMemSource(ids...)
	cfg := fastConfig(srv.URL, nil)
	cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 600*time.Millisecond
	s, _ := New(cfg, src)
	stop := run(t, s)
	waitAcked(t, src, ids[len(ids)-1])
	stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.accepted, ids) {
		t.Errorf("accepted %q, want all 18 in order", r.accepted)
	}
	if r.statuses[404] == 0 || r.statuses[500] == 0 {
		t.Errorf("answers %v: the phases did not happen", r.statuses)
	}
}

// Item 10: 401, 403, 404 and 410 pause delivery; the event comes again.
func TestRefusalsPauseAndDropNothing(t *testing.T) {
	r, srv := newReceiver(t, "s3cret")
	r.script = map[string][]int{"e1": {401, 401}, "e2": {403}, "e3": {404, 404, 404}, "e4": {410}}
	src := newMemSource("e1", "e2", "e3", "e4", "e5")
	s, _ := New(fastConfig(srv.URL, nil), src)
	stop := run(t, s)
	waitAcked(t, src, "e5")
	stop()
	want := []string{"e1", "e1", "e1", "e2", "e2", "e3", "e3", "e3", "e3", "e4", "e4", "e5"}
	if got := r.check(); !slices.Equal(got, want) {
		t.Errorf("POSTs %q, want %q", got, want)
	}
}

// Item 10: a pause spends no attempt, however long, and is reported.
func TestAPauseSpendsNoAttempt(t *testing.T) {
	r, srv := newReceiver(t, "s3cret")
	r.script["e1"] = append(slices.Repeat([]int{401}, 30), 500, 410, 500)
	src := newMemSource("e1")
	var c counts
	cfg := fastConfig(srv.URL, &c)
	cfg.MaxAttempts = 3
	s, _ := New(cfg, src)
	stop := run(t, s)
	waitAcked(t, src, "e1")
	stop()
	if got := c.get(); got != [3]int{1, 33, 0} {
		t.Errorf("delivered, retried, parked = %v, want [1 33 0]", got)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if want := []bool{true, false, true, false}; !slices.Equal(c.pauses, want) {
		t.Errorf("Paused calls %v, want %v", c.pauses, want)
	}
}

// Item 10: with two secrets (a rotation), each signs, and a receiver that
// knows either one accepts every POST.
func TestTwoSecretsBothSign(t *testing.T) {
	rOld, srvOld := newReceiver(t, "old-secret")
	rNew, srvNew := newReceiver(t, "new-secret")
	for _, srv := range []*httptest.Server{srvOld, srvNew} {
		src := newMemSource("e1")
		cfg := fastConfig(srv.URL, nil)
		cfg.Secrets = [][]byte{[]byte("old-secret"), []byte("new-secret")}
		s, err := New(cfg, src)
		if err != nil {
			t.Fatal(err)
		}
		stop := run(t, s)
		src.waitAck(t, "e1")
		stop()
	}
	for _, r := range []*receiver{rOld, rNew} {
		if posts := r.check(); !slices.Equal(posts, []string{"e1"}) {
			t.Errorf("POSTs %q, want e1 once", posts)
		}
	}
}

// Item 11: every POST carries X-Wapool-Timestamp (Unix seconds, now), and
// the signature is the HMAC-SHA256 of timestamp "." body.
func TestSignatureCoversTheTimestamp(t *testing.T) {
	var mu sync.Mutex
	var bad []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		ts := req.Header.Get("X-Wapool-Timestamp")
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write([]byte(ts + "." + string(body)))
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		mu.Lock()
		defer mu.Unlock()
		if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
			bad = append(bad, fmt.Sprintf("timestamp %q", ts))
		}
		if got := req.Header.Get(SignatureHeader); got != want {
			bad = append(bad, fmt.Sprintf("signature %q, want %q", got, want))
		}
	}))
	defer srv.Close()
	src := newMemSource("e1")
	s, _ := New(fastConfig(srv.URL, nil), src)
	stop := run(t, s)
	waitAcked(t, src, "e1")
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("bad requests: %q", bad)
	}
}

// Item 15: the URL's query and user info (credentials) appear in no log
// line, network errors included.
func TestLogsNeverHoldTheURLsCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	u := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/hook?token=tok-SECRET"
	srv.Close() // every POST fails: connection refused
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := fastConfig(u, nil)
	cfg.Log = zap.New(core)
	cfg.MaxAttempts = 3
	src := newMemSource("e1")
	s, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	deadline := time.Now().Add(10 * time.Second)
	for len(src.deadList()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if logs.FilterMessageSnippet("retrying").Len() != 2 || logs.FilterMessageSnippet("parked").Len() != 1 {
		t.Fatalf("%d retries and %d parks logged, want 2 and 1", logs.FilterMessageSnippet("retrying").Len(), logs.FilterMessageSnippet("parked").Len())
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		if strings.Contains(line, "SECRET") || strings.Contains(line, "hunter2") {
			t.Errorf("a log line holds a credential: %s", line)
		}
	}
	dead := src.deadList()
	if len(dead) != 1 || !strings.Contains(dead[0].LastError, "connection refused") ||
		strings.Contains(dead[0].LastError, "SECRET") || strings.Contains(dead[0].LastError, "hunter2") {
		t.Errorf("dead-letter list %+v: want e1 with the error, no credential", dead)
	}
}
