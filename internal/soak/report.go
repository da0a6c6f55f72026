package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Daemon log messages the report counts: a send that went out, and a
// re-send avoided because an earlier attempt's bubble was found.
const (
	logSent          = "sent"
	logBubbleFound   = "an earlier attempt went out: not sending again"
	logNotOut        = "an earlier attempt was clicked but did not go out: sending again"
	logRetry         = "retrying a message"
	logTopWarnErrors = 8
)

// report prints how the run went: Send attempts and their errors, the
// kills and restarts, and what the daemon's log says.
func (s *soak) report(producers []*producer, ch *chaos, lc logCounts) {
	s.reportSends(producers)
	fmt.Fprintf(s.out, "kills: %d browsers, %d daemons", ch.browserKills, ch.daemonKills)
	if len(ch.restarts) > 0 {
		fmt.Fprintf(s.out, "; daemon SIGKILL to serving again: %s", spread(ch.restarts))
	}
	fmt.Fprintln(s.out)
	s.reportLog(lc)
}

// reportSends prints the Send calls the producers made and how many failed,
// by gRPC code.
func (s *soak) reportSends(producers []*producer) {
	attempts := 0
	errs := map[string]int{}
	for _, p := range producers {
		attempts += p.attempts
		for c, n := range p.errs {
			errs[c] += n
		}
	}
	fmt.Fprintf(s.out, "Send calls: %d (%s)\n", attempts, countList(errs, "failed: ", "none failed"))
}

// reportLog prints what the daemons' logs say about the sends, and their
// warnings and errors.
func (s *soak) reportLog(lc logCounts) {
	fmt.Fprintf(s.out, "daemon log: %d sends went out in %d runs; %d retries of an attempt cut before the click (sent again, no lookup), %d after it (looked up: %d found out, %d sent again)\n",
		lc.info[logSent], lc.runs, lc.retryBefore, lc.retryAfter, lc.info[logBubbleFound], lc.info[logNotOut])
	if len(lc.warn) > 0 {
		fmt.Fprintln(s.out, "daemon warnings and errors, most frequent first:")
		keys := slices.SortedFunc(maps.Keys(lc.warn), func(a, b string) int {
			return cmp.Or(cmp.Compare(lc.warn[b], lc.warn[a]), strings.Compare(a, b))
		})
		for i, k := range keys {
			if i == logTopWarnErrors {
				fmt.Fprintf(s.out, "  ... %d more kinds\n", len(keys)-i)
				break
			}
			fmt.Fprintf(s.out, "  %5d  %s\n", lc.warn[k], k)
		}
	}
}

// spread renders durations as "min 1s, median 2s, max 3s"; "none" when
// there are none.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	r := slices.Clone(ds)
	slices.Sort(r)
	return fmt.Sprintf("min %v, median %v, max %v",
		r[0].Round(time.Millisecond), r[len(r)/2].Round(time.Millisecond), r[len(r)-1].Round(time.Millisecond))
}

// countList renders counts as "A 3, B 1", largest first.
func countList(m map[string]int, prefix, empty string) string {
	if len(m) == 0 {
		return empty
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return prefix + strings.Join(parts, ", ")
}

// logCounts are the daemon log's lines counted by message.
type logCounts struct {
	runs        int             // wapoold processes that served
	info        map[string]int  // every message, by text
	warn        map[string]int  // warn and error lines, by "level: msg: error"
	bubbleFound map[string]bool // message ids whose re-send was avoided
	retryBefore int             // retries whose earlier attempt stopped before the click
	retryAfter  int             // retries whose earlier attempt reached the click
}

func newLogCounts() logCounts {
	return logCounts{info: map[string]int{}, warn: map[string]int{}, bubbleFound: map[string]bool{}}
}

// scanLog counts the lines of one daemon log file.
func scanLog(path string) (logCounts, error) {
	lc := newLogCounts()
	return lc, lc.scan(path)
}

// scanLogs counts the lines of several daemons' log files together (a
// cluster's nodes): the counts add up.
func scanLogs(paths ...string) (logCounts, error) {
	lc := newLogCounts()
	var errs []error
	for _, p := range paths {
		errs = append(errs, lc.scan(p))
	}
	return lc, errors.Join(errs...)
}

// scan adds the lines of the log file at path to lc.
func (lc *logCounts) scan(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Level   string `json:"level"`
			Msg     string `json:"msg"`
			Error   string `json:"error"`
			ID      string `json:"message"`
			Clicked bool   `json:"clicked"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		lc.info[rec.Msg]++
		if rec.Msg == logBubbleFound {
			lc.bubbleFound[rec.ID] = true
		}
		if rec.Msg == logRetry {
			if rec.Clicked {
				lc.retryAfter++
			} else {
				lc.retryBefore++
			}
		}
		if rec.Msg == "wapoold serving" {
			lc.runs++
		}
		if rec.Level == "warn" || rec.Level == "error" {
			k := rec.Level + ": " + rec.Msg
			if rec.Error != "" {
				k += ": " + shorten(rec.Error, 110)
			}
			lc.warn[k]++
		}
	}
	return sc.Err()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
