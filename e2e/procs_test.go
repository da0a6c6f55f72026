package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browsersUnder lists the pids whose command line names a profile under dir.
func browsersUnder(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), "--user-data-dir="+dir) {
			continue
		}
		var pid int
		for _, c := range e.Name() {
			pid = pid*10 + int(c-'0')
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitNoBrowsers fails the test when a browser still runs on a profile under
// dir after timeout.
func waitNoBrowsers(t *testing.T, dir string, timeout time.Duration) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		pids := browsersUnder(dir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Errorf("browsers still running on profiles under %s: %v", dir, pids)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
