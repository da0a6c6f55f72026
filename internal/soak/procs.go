package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// browsersUnder lists the pids whose command line names a Chrome profile
// under dir (--user-data-dir=<dir>/...).
func browsersUnder(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmdlineHas(pid, "--user-data-dir="+dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cmdlineHas says whether the command line of pid contains s. It guards
// every kill of a browser against pid reuse.
func cmdlineHas(pid int, s string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && bytes.Contains(b, []byte(s))
}

// waitNoBrowsers waits until no Chrome runs on a profile under dir and
// returns the pids still running after timeout (nil when none).
func waitNoBrowsers(dir string, timeout time.Duration) []int {
	end := time.Now().Add(timeout)
	for {
		pids := browsersUnder(dir)
		if len(pids) == 0 || time.Now().After(end) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}
