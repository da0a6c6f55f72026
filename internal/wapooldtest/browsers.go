package wapooldtest

import (
	"time"

	"github.com/wapool/wapool/browserpool"
)

// WaitNoBrowsers waits up to timeout until no process runs on a Chrome
// profile under dir (browserpool.ProcessesUnder: a data dir, a profiles dir
// or one profile) and returns those still running then; nil when none is
// left.
func WaitNoBrowsers(dir string, timeout time.Duration) []int {
	end := time.Now().Add(timeout)
	for {
		pids := browserpool.ProcessesUnder(dir)
		if len(pids) == 0 || time.Now().After(end) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}
