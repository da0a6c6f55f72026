package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

func hookEvent(seq int) *wapoolv1.Event {
	return &wapoolv1.Event{Cursor: fmt.Sprintf("0a1b2c3d-%016x", seq), TenantId: "t1",
		Kind: &wapoolv1.Event_Message{Message: &wapoolv1.MessageEvent{Message: &wapoolv1.Message{Id: strconv.Itoa(seq)}}}}
}

// TestReceiverPhases: the cycle goes 500, 404, 200 and again; outside it
// every POST is answered 200, and a new cycle's phases are numbered after
// the last one's.
func TestReceiverPhases(t *testing.T) {
	r := &receiver{phases: [3]time.Duration{2 * time.Second, 3 * time.Second, 5 * time.Second}}
	if st, ph := r.answer(time.Now()); st != http.StatusOK || ph != 0 {
		t.Fatalf("before the cycle: %d, phase %d", st, ph)
	}
	r.cycleAt = time.Now()
	for _, tc := range []struct {
		at     time.Duration
		status int
		phase  int
	}{{0, 500, 1}, {1999 * time.Millisecond, 500, 1}, {2 * time.Second, 404, 2}, {4 * time.Second, 404, 2},
		{5 * time.Second, 200, 3}, {9 * time.Second, 200, 3}, {10 * time.Second, 500, 4}, {13 * time.Second, 404, 5}, {25 * time.Second, 200, 9}} {
		if st, ph := r.answer(r.cycleAt.Add(tc.at)); st != tc.status || ph != tc.phase {
			t.Errorf("at %v: %d, phase %d; want %d, phase %d", tc.at, st, ph, tc.status, tc.phase)
		}
	}
	r.cycleAt = time.Now().Add(-13 * time.Second) // in the second 404 phase
	r.cycle(false)
	r.cycle(true)
	if st, ph := r.answer(r.cycleAt); st != 500 || ph != 7 {
		t.Errorf("a second cycle starts at %d, phase %d; want 500, phase 7", st, ph)
	}
}

// TestReceiverServe: signed POSTs are recorded with the process their URL
// names; a bad signature gets 401 and a body that is not the named event
// 400, each counted.
func TestReceiverServe(t *testing.T) {
	secret := []byte("s3cret")
	r := &receiver{secret: secret, phases: [3]time.Duration{time.Second, time.Second, time.Second}}
	post := func(path, id string, ev *wapoolv1.Event, key []byte) int {
		body, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(webhook.TimestampHeader, ts)
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(key, ts, body))
		req.Header.Set(webhook.EventIDHeader, id)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	ev := hookEvent(7)
	if code := post("/hook/n2/3", ev.Cursor, ev, secret); code != 200 {
		t.Fatalf("a good POST: %d", code)
	}
	if code := post("/hook/n2/3", ev.Cursor, ev, []byte("other")); code != 401 {
		t.Errorf("a bad signature: %d", code)
	}
	if code := post("/hook/n2/3", hookEvent(8).Cursor, ev, secret); code != 400 {
		t.Errorf("another id than the body's: %d", code)
	}
	posts, bad, badPosts := r.results()
	if len(posts) != 1 || posts[0].sender != "n2#3" || posts[0].cursor != ev.Cursor || posts[0].status != 200 || bad != 1 || len(badPosts) != 1 {
		t.Errorf("recorded %+v, %d bad signatures, %v", posts, bad, badPosts)
	}
	if got := r.accepted(); !got[ev.Cursor] || len(got) != 1 {
		t.Errorf("accepted %v", got)
	}
}

// TestJudgeHooks: the judge holds the receiver's log to the promise.
func TestJudgeHooks(t *testing.T) {
	evs := []*wapoolv1.Event{hookEvent(1), hookEvent(2), hookEvent(3), hookEvent(4)}
	ok := func(seq int, sender string) hookPost {
		return hookPost{sender: sender, cursor: evs[seq-1].Cursor, status: 200, ev: evs[seq-1]}
	}
	failing := []hookPost{{sender: "d#1", cursor: evs[0].Cursor, status: 500, phase: 1}, {sender: "d#1", cursor: evs[0].Cursor, status: 404, phase: 2}}
	clean := append(failing[:2:2], ok(1, "d#1"), ok(2, "d#1"), ok(3, "d#1"), ok(4, "d#1"))
	none := senderFacts{parked: map[string]bool{}, posFailed: map[string]bool{}}
	faultsOf := func(v hookVerdict) string { return strings.Join(v.faults(), "|") }

	v := judgeHooks(evs, clean, len(clean), nil, none, true)
	if f := v.faults(); len(f) > 0 || v.accepted != 4 || v.repeated != 0 || v.phases[500] != 1 || v.phases[404] != 1 {
		t.Fatalf("clean: %+v %v", v, f)
	}
	if f := faultsOf(judgeHooks(evs, clean[2:], len(clean[2:]), nil, none, true)); !strings.Contains(f, "no POST fell in a 500 phase") {
		t.Errorf("no failing phase: %s", f)
	}
	noThird := append(failing[:2:2], ok(1, "d#1"), ok(2, "d#1"), ok(4, "d#1"))
	if v := judgeHooks(evs, noThird, len(noThird), nil, none, false); len(v.missing) != 1 || !strings.Contains(faultsOf(v), "1 events missing") {
		t.Errorf("one missing: %+v", v)
	}
	// Parked: accounted for, and its late redelivery is not disorder.
	parked := senderFacts{parked: map[string]bool{evs[2].Cursor: true}, posFailed: map[string]bool{}}
	if v := judgeHooks(evs, noThird, len(noThird), map[string]bool{evs[2].Cursor: true}, parked, true); len(v.faults()) > 0 || len(v.parkedLeft) != 1 {
		t.Errorf("one parked: %+v %v", v, v.faults())
	}
	if v := judgeHooks(evs, append(noThird, ok(3, "d#2")), len(noThird)+1, nil, parked, true); len(v.faults()) > 0 || v.accepted != 4 {
		t.Errorf("one redelivered at the end: %+v %v", v, v.faults())
	}
	// Resent by the next process after a SIGKILL: within the promise.
	resent := append(clean[:5:5], ok(2, "d#2"), ok(3, "d#2"), ok(4, "d#2"))
	if v := judgeHooks(evs, resent, len(resent), nil, none, true); len(v.faults()) > 0 || v.repeated != 2 || v.resent != 2 || v.resentBy["d#2"] != 2 {
		t.Errorf("resent after a restart: %+v %v", v, v.faults())
	}
	// Twice by one process: beyond it, unless that process could not store
	// its position.
	twice := append(clean[:6:6], ok(2, "d#1"), ok(3, "d#1"), ok(4, "d#1"))
	if v := judgeHooks(evs, twice, len(twice), nil, none, false); len(v.beyond) != 3 || !strings.Contains(faultsOf(v), "repeated beyond the promise") {
		t.Errorf("twice from one process: %+v", v)
	}
	failed := senderFacts{parked: map[string]bool{}, posFailed: map[string]bool{"d#1": true}}
	if v := judgeHooks(evs, twice, len(twice), nil, failed, false); len(v.faults()) > 0 || v.resent != 3 {
		t.Errorf("twice from a process that failed to store its position: %+v %v", v, v.faults())
	}
	// Out of order: a fault on one node, reported in a cluster.
	swapped := append(failing[:2:2], ok(1, "d#1"), ok(3, "d#1"), ok(2, "d#1"), ok(4, "d#1"))
	if v := judgeHooks(evs, swapped, len(swapped), nil, none, true); len(v.outOfOrder) != 1 || !strings.Contains(faultsOf(v), "first accepted after a later one") {
		t.Errorf("out of order on one node: %+v", v)
	}
	if v := judgeHooks(evs, swapped, len(swapped), nil, none, false); len(v.outOfOrder) != 1 || len(v.faults()) > 0 {
		t.Errorf("out of order in a cluster: %+v %v", v, v.faults())
	}
	// An event the log's range does not hold, accepted before its head
	// was read; one accepted after (maybe of the final stop) is not judged.
	stray := hookEvent(3)
	stray.Cursor = "0a1b2c3d-0000000000000000"
	later := hookEvent(9)
	extra := append(clean[:6:6], hookPost{sender: "d#1", cursor: stray.Cursor, status: 200, ev: stray}, hookPost{sender: "d#1", cursor: later.Cursor, status: 200, ev: later})
	if v := judgeHooks(evs, extra, len(extra)-1, nil, none, true); len(v.unknown) != 1 || len(v.faults()) != 1 {
		t.Errorf("a stray event: %+v %v", v, v.faults())
	}
	// A body that differs from the log's event.
	changed := hookEvent(4)
	changed.TenantId = "t2"
	diff := append(clean[:5:5], hookPost{sender: "d#1", cursor: changed.Cursor, status: 200, ev: changed})
	if v := judgeHooks(evs, diff, len(diff), nil, none, true); len(v.differs) != 1 {
		t.Errorf("a changed body: %+v", v)
	}
}

// TestScanSenders: the daemon log is split into processes by the soak's
// start markers; runs, parked events and failures to store the position
// are found.
func TestScanSenders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node-n1.log")
	log := fmt.Sprintf(`{"msg":%q}
{"level":"info","msg":"webhook: delivering","after":"x-0000000000000000"}
{"level":"error","msg":%q,"event":"x-0000000000000004"}
{"msg":%q}
{"level":"info","msg":"webhook: delivering","after":"x-0000000000000003"}
{"level":"error","msg":"webhook: storing the delivered position","error":"conn closed"}
`, fmt.Sprintf(startMarker, 1), logHookParked, fmt.Sprintf(startMarker, 2))
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	sf, err := scanSenders(map[string]string{"n1": path})
	if err != nil {
		t.Fatal(err)
	}
	if sf.runs["n1#1"] != 1 || sf.runs["n1#2"] != 1 || !sf.parked["x-0000000000000004"] || sf.posFailed["n1#1"] || !sf.posFailed["n1#2"] {
		t.Errorf("%+v", sf)
	}
	if after, err := waitHookStart(t.Context(), func() []string { return []string{"noise\n", log} }); err != nil || after != "x-0000000000000000" {
		t.Errorf("waitHookStart: %q, %v", after, err)
	}
}
