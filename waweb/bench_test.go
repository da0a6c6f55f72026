package waweb_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/waweb"
)

// The benchmarks run against fakewa with its default timings and report the
// p50 and p95 of one Send, next to the usual ns/op.

func BenchmarkSendNewRecipient(b *testing.B) {
	e := newEnv(b, fakewa.Options{}, waweb.DefaultSelectors())
	e.link(b, account)
	ctx := ctxFor(b, time.Hour)
	var times []time.Duration
	n := 0
	for b.Loop() {
		n++
		to := fmt.Sprintf("1555%07d", 2000000+n)
		start := time.Now()
		if _, err := e.page.Send(ctx, to, "bench message"); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		if got := e.page.LastOpen(); got != waweb.OpenInApp {
			b.Fatalf("opened by %s, want in-app", got)
		}
	}
	report(b, times)
}

func BenchmarkSendOpenChat(b *testing.B) { benchOpenChat(b, "bench message") }

// BenchmarkSendOpenChatLong sends 4,096 characters on 4 lines: it costs
// about what a short message does (one insertText per line; each line break
// adds a Shift+Enter key pair, about 6 ms here).
func BenchmarkSendOpenChatLong(b *testing.B) {
	line := strings.Repeat("x", 1023)
	benchOpenChat(b, line+"\n"+line+"\n"+line+"\n"+line+"y")
}

func benchOpenChat(b *testing.B, text string) {
	e := newEnv(b, fakewa.Options{}, waweb.DefaultSelectors())
	e.link(b, account)
	ctx := ctxFor(b, time.Hour)
	if _, err := e.page.Send(ctx, alice, "warm up"); err != nil {
		b.Fatal(err)
	}
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := e.page.Send(ctx, alice, text); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		if got := e.page.LastOpen(); got != waweb.OpenAlready {
			b.Fatalf("opened by %s, want already-open", got)
		}
	}
	report(b, times)
}

func report(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(times[len(times)*95/100].Milliseconds()), "p95-ms")
}
