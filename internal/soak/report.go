package main

import (
	"bufio"
	"cmp"
	"encoding/json"
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
	attempts := 0
	errs := map[string]int{}
	for _, p := range producers {
		attempts += p.attempts
		for c, n := range p.errs {
			errs[c] += n
		}
	}
	fmt.Fprintf(s.out, "Send calls: %d (%s)\n", attempts, countList(errs, "failed: ", "none failed"))
	fmt.Fprintf(s.out, "kills: %d browsers, %d daemons", ch.browserKills, ch.daemonKills)
	if len(ch.restarts) > 0 {
		r := slices.Clone(ch.restarts)
		slices.Sort(r)
		fmt.Fprintf(s.out, "; daemon SIGKILL to serving again: min %v, median %v, max %v",
			r[0].Round(time.Millisecond), r[len(r)/2].Round(time.Millisecond), r[len(r)-1].Round(time.Millisecond))
	}
	fmt.Fprintln(s.out)

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

func scanLog(path string) (logCounts, error) {
	lc := logCounts{info: map[string]int{}, warn: map[string]int{}, bubbleFound: map[string]bool{}}
	f, err := os.Open(path)
	if err != nil {
		return lc, err
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
	return lc, sc.Err()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
