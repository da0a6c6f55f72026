package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// samples are measured durations of one kind.
type samples []time.Duration

// pct returns the p-th percentile by nearest rank (p in (0, 100]); 0 when
// there are no samples.
func (s samples) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	v := slices.Clone(s)
	slices.Sort(v)
	i := int(math.Ceil(p/100*float64(len(v)))) - 1
	return v[min(max(i, 0), len(v)-1)]
}

func (s samples) p50() time.Duration { return s.pct(50) }
func (s samples) p95() time.Duration { return s.pct(95) }

// route is one way of sending, with its total times and its phases.
type route struct {
	name   string
	total  samples
	phases []string           // phase names in order
	by     map[string]samples // phase name → durations
	sent   int                // messages attempted (measured ones)
	fails  int                // messages that failed or did not arrive at fakewa
	method string             // how the chat was reached, in words
}

func newRoute(name, method string, phases ...string) *route {
	return &route{name: name, method: method, phases: phases, by: map[string]samples{}}
}

// add records one message: its total and its phases, in the order of
// r.phases.
func (r *route) add(total time.Duration, phases ...time.Duration) {
	r.total = append(r.total, total)
	for i, d := range phases {
		r.by[r.phases[i]] = append(r.by[r.phases[i]], d)
	}
}

// msStr prints a duration in whole milliseconds.
func msStr(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// signedMs prints a difference with its sign.
func signedMs(d time.Duration) string { return fmt.Sprintf("%+d ms", d.Milliseconds()) }

// ratio prints a/b with two decimals, or "n/a".
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// mib prints bytes as MB (2^20) with one decimal.
func mib(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
