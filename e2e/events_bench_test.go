package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/percentile"
	"github.com/wapool/wapool/internal/wapooldtest"
	"github.com/wapool/wapool/internal/webhook"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
)

// BenchmarkEvents measures events out on a real daemon (built without -race
// for the measure), a real browser on fakewa (fast timings), gRPC on
// loopback and a webhook receiver on 127.0.0.1, all in one run so that the
// numbers compare:
//
//   - the latency of a Send (WAIT_SENT, chat already open) with no
//     WatchEvents stream open and with one open, alternating, and how long
//     after its time (`at`, set in the transaction) the SENT event reaches
//     the stream;
//   - events per second through a stream and to the webhook, each reading
//     the same backlog of events from the log.
//
// Run it once: go test -run '^$' -bench Events -benchtime 1x ./e2e/
func BenchmarkEvents(b *testing.B) {
	const (
		sends   = 25   // per arm
		backlog = 5000 // events for the throughput
		tenant  = "bench"
	)
	bin := wapooldtest.Build(b, b.TempDir()) // without -race, which TestMain's build has: it would measure the race detector
	chrome := chromiumtest.Path(b)
	f := fakewa.New(fakewa.FastOptions())
	fs := httptest.NewServer(f)
	defer func() { f.Close(); fs.Close() }()
	hook := newBenchHook()
	hs := httptest.NewServer(hook)
	defer hs.Close()
	dir := b.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("bench-secret"), 0o600); err != nil {
		b.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	args := []string{"--data-dir", data, "--target-url", fs.URL, "--chromium", chrome, "--send-interval", "0", "--send-jitter", "0",
		"--metrics-addr", "", "--webhook-url", hs.URL, "--webhook-secret-file", secret}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := func() *wapooldtest.Daemon {
		d, err := wapooldtest.Start(ctx, wapooldtest.Options{Bin: bin, Args: args})
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	stop := func(d *wapooldtest.Daemon) {
		if _, err := d.Stop(30 * time.Second); err != nil {
			b.Fatal(err)
		}
		d.Close()
		wapooldtest.WaitNoBrowsers(data, 10*time.Second)
	}

	d := start()
	if _, err := d.Link(ctx, tenant, func(code string) error { return f.Scan(code, accountA) }); err != nil {
		b.Fatal(err)
	}
	c := d.Client()
	send := func(i int) (time.Duration, *wapoolv1.Message) {
		t0 := time.Now()
		resp, err := c.Send(ctx, &wapoolv1.SendRequest{TenantId: tenant, To: contact1, Text: fmt.Sprintf("bench %d", i)})
		took := time.Since(t0)
		if err != nil || resp.GetMessage().GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT {
			b.Fatalf("send %d: %v %v", i, resp, err)
		}
		return took, resp.GetMessage()
	}
	send(-1) // opens the chat: every measured send goes through it

	// Sends, alternating: no stream open, then one stream open.
	var without, with, lag []time.Duration
	for i := range 2 * sends {
		if i%2 == 0 {
			took, _ := send(i)
			without = append(without, took)
			continue
		}
		sctx, scancel := context.WithCancel(ctx)
		stream, err := c.WatchEvents(sctx, &wapoolv1.WatchEventsRequest{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := stream.Header(); err != nil { // in place
			b.Fatal(err)
		}
		took, m := send(i)
		with = append(with, took)
		for {
			resp, err := stream.Recv()
			if err != nil {
				b.Fatal(err)
			}
			if got := resp.GetEvent().GetMessage().GetMessage(); got.GetId() == m.GetId() && got.GetState() == wapoolv1.MessageState_MESSAGE_STATE_SENT {
				lag = append(lag, time.Since(resp.GetEvent().GetAt().AsTime()))
				break
			}
		}
		scancel()
	}

	// The backlog: the daemon stops; events are appended to its log; it
	// starts again, and its webhook delivers them; then a stream reads
	// them from the same place.
	stream, err := c.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{})
	if err != nil {
		b.Fatal(err)
	}
	md, err := stream.Header()
	if err != nil {
		b.Fatal(err)
	}
	from := md.Get("wapool-cursor")[0]
	hook.waitFor(b, from) // the webhook caught up: the backlog is all it sends next
	stop(d)
	store, err := sessionstore.Open(sessionstore.Options{DataDir: data})
	if err != nil {
		b.Fatal(err)
	}
	var last string
	for range backlog {
		ev, err := store.AppendSessionEvent("backlog", sessionstore.SessionEvent{From: "READY", To: "HIBERNATED"})
		if err != nil {
			b.Fatal(err)
		}
		last = store.Cursor(ev.Seq)
	}
	store.Close()
	d = start()
	defer stop(d)
	hookStart, hookEnd := hook.waitFor(b, last)
	c = d.Client()
	t0 := time.Now()
	stream, err = c.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{After: from})
	if err != nil {
		b.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if resp.GetEvent().GetCursor() == last {
			break
		}
	}
	streamTook := time.Since(t0)

	streamRate := backlog / streamTook.Seconds()
	hookRate := backlog / hookEnd.Sub(hookStart).Seconds()
	p50w, p95w := percentile.Of(without, 50), percentile.Of(without, 95)
	p50s, p95s := percentile.Of(with, 50), percentile.Of(with, 95)
	b.ReportMetric(streamRate, "stream-events/s")
	b.ReportMetric(hookRate, "webhook-events/s")
	b.ReportMetric(ms(p50w), "send-p50-ms")
	b.ReportMetric(ms(p50s), "send-p50-stream-ms")
	b.ReportMetric(ms(percentile.Of(lag, 50)), "event-lag-p50-ms")
	var t strings.Builder
	fmt.Fprintf(&t, "\n| measure | value |\n|---|---:|\n")
	fmt.Fprintf(&t, "| Send p50 / p95, no stream open (%d sends) | %.1f / %.1f ms |\n", sends, ms(p50w), ms(p95w))
	fmt.Fprintf(&t, "| Send p50 / p95, one WatchEvents stream open (%d sends) | %.1f / %.1f ms |\n", sends, ms(p50s), ms(p95s))
	fmt.Fprintf(&t, "| added by the stream, p50 / p95 | %+.1f / %+.1f ms (%.3f× / %.3f×) |\n", ms(p50s-p50w), ms(p95s-p95w), ratio(p50s, p50w), ratio(p95s, p95w))
	fmt.Fprintf(&t, "| a SENT event reaches the stream, after its `at` (set in the transaction, before its fsync), p50 / p95 | %.2f / %.2f ms |\n", ms(percentile.Of(lag, 50)), ms(percentile.Of(lag, 95)))
	fmt.Fprintf(&t, "| stream, %d backlog events | %.0f events/s |\n", backlog, streamRate)
	fmt.Fprintf(&t, "| webhook, the same %d events (signed POST each, local receiver) | %.0f events/s |\n", backlog, hookRate)
	fmt.Fprintf(&t, "| stream ÷ webhook | %.1f× |\n", streamRate/hookRate)
	b.Log(t.String())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// benchHook is a webhook receiver that verifies each signature and records
// when each event id was first accepted. mu guards the fields that follow.
type benchHook struct {
	mu    sync.Mutex
	first map[string]time.Time
	bad   int
	added chan struct{} // closed and replaced on each new event
	since time.Time     // the acceptance waitFor returned last
}

func newBenchHook() *benchHook {
	return &benchHook{first: map[string]time.Time{}, added: make(chan struct{})}
}

func (h *benchHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ok := webhook.Verify([]byte("bench-secret"), r.Header, body, time.Now(), 0) == nil
	h.mu.Lock()
	defer h.mu.Unlock()
	if !ok {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := r.Header.Get(webhook.EventIDHeader)
	if _, seen := h.first[id]; !seen {
		h.first[id] = time.Now()
		close(h.added)
		h.added = make(chan struct{})
	}
	w.WriteHeader(http.StatusNoContent)
}

// waitFor waits until id was accepted and returns when the first event
// after the previous waitFor was accepted, and when id was.
func (h *benchHook) waitFor(b *testing.B, id string) (first, at time.Time) {
	b.Helper()
	timeout := time.After(5 * time.Minute)
	for {
		h.mu.Lock()
		at, ok := h.first[id]
		added, bad := h.added, h.bad
		h.mu.Unlock()
		if bad > 0 {
			b.Fatalf("%d webhook POSTs with a bad signature", bad)
		}
		if ok {
			h.mu.Lock()
			defer h.mu.Unlock()
			first = at
			for _, t := range h.first {
				if t.After(h.since) && t.Before(first) {
					first = t
				}
			}
			h.since = at
			return first, at
		}
		select {
		case <-added:
		case <-timeout:
			b.Fatalf("the webhook never received %s", id)
		}
	}
}
