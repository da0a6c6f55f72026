package e2e

import (
	"testing"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/internal/wapooldtest"
)

// browsersUnder lists the pids of the browsers on a profile under dir (or
// on dir itself).
func browsersUnder(dir string) []int { return browserpool.ProcessesUnder(dir) }

// waitNoBrowsers fails the test when a browser still runs on a profile under
// dir after timeout.
func waitNoBrowsers(t *testing.T, dir string, timeout time.Duration) {
	t.Helper()
	if pids := wapooldtest.WaitNoBrowsers(dir, timeout); len(pids) > 0 {
		t.Errorf("browsers still running on profiles under %s: %v", dir, pids)
	}
}
