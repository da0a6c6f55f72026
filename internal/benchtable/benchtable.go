// Package benchtable reads the output of `go test -bench` (plain or with
// -json) into each benchmark's metrics, for the programs that print the
// README's tables from Go benchmarks (internal/bench, internal/idlebench).
//
// A benchmark's metrics are the value-unit pairs of its result line,
// ns/op included, keyed by its name without the "Benchmark" prefix and the
// GOMAXPROCS suffix: "IdleCost/memory_N=10", "Send/open-chat".
package benchtable

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var (
	// nameRe is the start of a line that names a benchmark: the name, then
	// the GOMAXPROCS suffix.
	nameRe = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?(?:\s|$)`)
	// resultRe is a result: iterations, then value-unit pairs.
	resultRe = regexp.MustCompile(`^\s*\d+\s+(-?[\d.]+(?:e[-+]?\d+)?\s+\S+.*)$`)
	pairRe   = regexp.MustCompile(`(-?[\d.]+(?:e[-+]?\d+)?)\s+(\S+)`)
)

// Results are the metrics of each benchmark by unit.
type Results map[string]map[string]float64

// Parse reads `go test -json` events or plain `go test -bench` text from
// in, copies the text to echo as it comes (the benchmarks' progress), and
// returns the metrics. A result may come on the benchmark's name line or on
// a later line, after its progress lines (-json implies -v, which prints
// the name before the benchmark runs).
func Parse(in io.Reader, echo io.Writer) (Results, error) {
	var text strings.Builder
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		var ev struct{ Action, Output string }
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &ev) == nil {
			if ev.Action != "output" {
				continue
			}
			line = ev.Output
		} else {
			line += "\n"
		}
		text.WriteString(line)
		_, _ = io.WriteString(echo, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	res := Results{}
	pending := ""
	for line := range strings.Lines(text.String()) {
		line = strings.TrimRight(line, "\r\n")
		if m := nameRe.FindStringSubmatch(line); m != nil {
			pending = m[1]
			line = strings.TrimSpace(line[len(m[0]):])
		}
		m := resultRe.FindStringSubmatch(line)
		if m == nil || pending == "" {
			continue
		}
		metrics := map[string]float64{}
		for _, p := range pairRe.FindAllStringSubmatch(m[1], -1) {
			if v, err := strconv.ParseFloat(p[1], 64); err == nil {
				metrics[p[2]] = v
			}
		}
		res[pending] = metrics
		pending = ""
	}
	return res, nil
}

// Get returns a metric of a benchmark.
func (r Results) Get(name, unit string) (float64, bool) {
	v, ok := r[name][unit]
	return v, ok
}

// Fmt formats a metric with format, or "—" when it was not reported.
func (r Results) Fmt(name, unit, format string) string {
	v, ok := r.Get(name, unit)
	if !ok {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// Missing returns those of names that reported no metrics.
func (r Results) Missing(names ...string) []string {
	var out []string
	for _, n := range names {
		if len(r[n]) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// Verdict is a goal's column: "met", "**not met**", or "not measured"
// when measured is false.
func Verdict(measured, within bool) string {
	switch {
	case !measured:
		return "not measured"
	case within:
		return "met"
	default:
		return "**not met**"
	}
}

// Main is the whole main of a table program: it parses `go test -json`
// (or plain) benchmark output from stdin, prints the tables with table,
// and exits 1 when the input cannot be read or table reports benchmarks
// whose metrics are missing.
func Main(name string, table func(io.Writer, Results) (missing []string)) {
	res, err := Parse(os.Stdin, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	if missing := table(os.Stdout, res); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "%s: no metrics from %s\n", name, strings.Join(missing, ", "))
		os.Exit(1)
	}
}
