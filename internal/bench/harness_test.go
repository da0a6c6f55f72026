package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/freeport"
	"github.com/wapool/wapool/internal/percentile"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Sample counts; pass them after -args.
var (
	sendsFlag   = flag.Int("sends", 20, "measured messages per route (BenchmarkSend, BenchmarkSendLate)")
	killsFlag   = flag.Int("kills", 10, "browser SIGKILLs, one per linked tenant (BenchmarkRestart)")
	coldsFlag   = flag.Int("colds", 3, "cold starts of wapoold (BenchmarkRestart)")
	tenantsFlag = flag.Int("tenants", 10, "warm tenants measured (BenchmarkMemory); tenants sending a file at once (BenchmarkMediaMemory)")
	settleFlag  = flag.Duration("settle", 15*time.Second, "rest before memory is read (BenchmarkMemory)")
	wakesFlag   = flag.Int("wakes", 10, "sends to a hibernated tenant, each beside a warm one (BenchmarkHibernate)")
	cyclesFlag  = flag.Int("cycles", 100, "browser SIGKILLs on one daemon, two tenants in turn (BenchmarkCycles)")
	roundsFlag  = flag.Int("rounds", 3, "rounds of files sent at once, each on a fresh daemon (BenchmarkMediaMemory)")
)

const ready = wapoolv1.SessionState_SESSION_STATE_READY

// env is one benchmark's world: wapoold built from this tree, an
// in-process fakewa, and a directory below which every Chrome profile of
// the benchmark lives. Its clean-up, which runs after every daemon's and
// browser's (clean-ups run last in, first out), fails the benchmark when a
// Chrome is left under that directory.
//
// The benchmarks are sequential and start no goroutine of their own but
// BenchmarkMediaMemory's callers, which sendAtOnce waits for: a daemon's
// output is copied by wapooldtest (its exit ends it), the bare browsers' by
// chromedp. Every process started is stopped by a b.Cleanup
// of the step that started it; wapoold and the browsers also get
// Pdeathsig.
type env struct {
	root, bin, chromium string
	fake                *fakewa.Server
	url                 string
}

func setup(b *testing.B, o fakewa.Options) *env {
	chromium := chromiumtest.Path(b)
	root := b.TempDir()
	bin := wapooldtest.Build(b, root)
	fake, url := wapooldtest.Fake(b, o, root)
	return &env{root: root, bin: bin, chromium: chromium, fake: fake, url: url}
}

// once fails a measurement asked to run more than once: its sample count
// comes from a flag, not from b.N.
func once(b *testing.B) {
	if b.N > 1 {
		b.Fatal("one measurement per run: use -benchtime 1x")
	}
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// arrived reports whether account sent text to the number to and fakewa's
// server acknowledged it.
func (e *env) arrived(account, to, text string) bool {
	return slices.ContainsFunc(e.fake.Messages(account), func(m fakewa.Message) bool {
		return strings.TrimPrefix(m.To, "+") == to && m.Text == text && m.Ack >= 1
	})
}

// recipient is the number i of a block: 1555 2bb nnnn, never ending in
// 0000 (fakewa's numbers that are not on WhatsApp).
func recipient(block, i int) string { return fmt.Sprintf("15552%02d%04d", block, i+1) }

// text is about 70 characters, unique per tag and i.
func text(tag string, i int) string {
	return fmt.Sprintf("Order %s-%d has shipped and will arrive on Friday. Thank you!", tag, i)
}

// formattedText is text's length with WhatsApp's formatting, an emoji and
// a link, which the page draws as elements (fact 18).
func formattedText(tag string, i int) string {
	return fmt.Sprintf("Order *%s-%d* has _shipped_ 📦 track: https://shop.example/t/%d", tag, i, i)
}

// daemon is a wapoold (internal/wapooldtest) with pacing off and its
// metrics on a port of its own.
type daemon struct {
	*wapooldtest.Daemon
	metrics string // host:port of /metrics
}

// start runs wapoold on dataDir; extra flags come last and win. The
// daemon is stopped when b ends.
func (e *env) start(b testing.TB, dataDir string, extra ...string) *daemon {
	addr, err := freeport.Addr() // for the daemon's metrics
	if err != nil {
		b.Fatal(err)
	}
	h, err := wapooldtest.Start(context.Background(), wapooldtest.Options{
		Bin: e.bin,
		Args: append([]string{
			"--data-dir", dataDir, "--target-url", e.url, "--chromium", e.chromium,
			"--send-interval", "0", "--send-jitter", "0", "--metrics-addr", addr, "--log-format", "json",
		}, extra...),
	})
	if err != nil {
		b.Fatal(err)
	}
	d := &daemon{Daemon: h, metrics: addr}
	b.Cleanup(func() { _, _ = d.stop() })
	return d
}

// stop sends SIGTERM and waits up to 30 s (the daemon's own bound is 20 s),
// then SIGKILL. It returns the time to the exit, and an error unless the
// exit code is 0. It may be called more than once.
func (d *daemon) stop() (time.Duration, error) {
	t := time.Now()
	_ = d.Close()
	code, err := d.Stop(30 * time.Second)
	if err == nil && code != 0 {
		err = fmt.Errorf("wapoold exited with %d: %v", code, d.ExitErr())
	}
	return time.Since(t), err
}

// link links tenant, scanning its QR code with phone through fakewa.
func (e *env) link(b testing.TB, d *daemon, tenant, phone string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := d.Link(ctx, tenant, func(code string) error { return e.fake.Scan(code, phone) }); err != nil {
		b.Fatalf("link %s: %v", tenant, err)
	}
}

// sessions returns every tenant's session.
func (d *daemon) sessions() (map[string]*wapoolv1.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Sessions(ctx)
}

// The daemon's Send histogram: one observation per finished message, the
// time of its last attempt (SENDING to SENT, both outbox writes included).
const (
	sentSum   = `wapool_send_duration_seconds_sum{state="SENT"}`
	sentCount = `wapool_send_duration_seconds_count{state="SENT"}`
)

// send sends text to `to` (a new message each time) and waits for SENT.
// total is the client's Send call. attempt is the daemon's time of the
// attempt that sent it: what its wapool_send_duration_seconds histogram's
// sum grew by across the call, scraped before and after, outside the
// timed call.
func (d *daemon) send(tenant, to, text string) (total, attempt time.Duration, err error) {
	return d.sendRequest(&wapoolv1.SendRequest{TenantId: tenant, To: to, Text: text})
}

// sendRequest is send for any request (a file, a caption), measured the
// same way.
func (d *daemon) sendRequest(req *wapoolv1.SendRequest) (total, attempt time.Duration, err error) {
	before, err := scrape(d.metrics)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	r, err := d.Client().Send(ctx, req)
	total = time.Since(t0)
	if err != nil {
		return total, 0, err
	}
	if r.Message.State != wapoolv1.MessageState_MESSAGE_STATE_SENT {
		return total, 0, fmt.Errorf("message %s is %v: %s", r.Message.Id, r.Message.State, r.Message.Error)
	}
	// The histogram is observed just after the caller is answered.
	end := time.Now().Add(2 * time.Second)
	for {
		after, err := scrape(d.metrics)
		if err != nil {
			return total, 0, err
		}
		n := after[sentCount] - before[sentCount]
		if n == 1 {
			return total, time.Duration((after[sentSum] - before[sentSum]) * float64(time.Second)), nil
		}
		if n > 1 || time.Now().After(end) {
			return total, 0, fmt.Errorf("%s grew by %v over one send", sentCount, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scrapeClient opens a connection per scrape and closes it.
var scrapeClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// scrape reads http://addr/metrics: each sample by its series, labels
// included as the daemon writes them.
func scrape(addr string) (map[string]float64, error) {
	resp, err := scrapeClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: %s: %v", resp.Status, err)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		series, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(series, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[series] = f
		}
	}
	return out, nil
}

// samples are measured durations of one kind.
type samples []time.Duration

func (s samples) p50() time.Duration { return percentile.Of(s, 50) }
func (s samples) p95() time.Duration { return percentile.Of(s, 95) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// route is one way of doing a thing: its totals, its phases, its failures.
type route struct {
	total          samples
	phases         map[string]samples
	measured, fail int
}

// record keeps sample i; sample 0 is the unmeasured warm-up, whose failure
// ends the benchmark. A failed sample is counted, not timed.
func (r *route) record(b testing.TB, name string, i int, err error, total time.Duration, phases map[string]time.Duration) {
	switch {
	case i == 0 && err != nil:
		b.Fatalf("%s: warm-up: %v", name, err)
	case i == 0:
	case err != nil:
		r.measured++
		r.fail++
		progress("%s: sample %d failed: %v", name, i, err)
	default:
		r.measured++
		r.total = append(r.total, total)
		if r.phases == nil {
			r.phases = map[string]samples{}
		}
		for k, v := range phases {
			r.phases[k] = append(r.phases[k], v)
		}
	}
}

// report reports the route as <prefix>-p50-ms, <prefix>-p95-ms, each
// phase's p50 as <prefix>-<phase>-p50-ms, and <prefix>-failed.
func (r *route) report(b *testing.B, prefix string) {
	b.ReportMetric(ms(r.total.p50()), prefix+"-p50-ms")
	b.ReportMetric(ms(r.total.p95()), prefix+"-p95-ms")
	for k, s := range r.phases {
		b.ReportMetric(ms(s.p50()), prefix+"-"+k+"-p50-ms")
	}
	b.ReportMetric(float64(r.fail), prefix+"-failed")
	if len(r.total) == 0 {
		b.Errorf("%s: all %d failed", prefix, r.measured)
	}
}

var errNotArrived = errors.New("fakewa did not record it, acknowledged, with its text")
