package main

import (
	"fmt"
	"os"
	"time"

	"github.com/wapool/wapool/browserpool"
)

// leftovers checks, once everything has been stopped, that no process runs
// on any profile the run used (browserpool.ProcessesOnProfile) and that no
// process names the run's directory. It waits up to 10 s for exiting
// processes, stops what is left (they are this run's) and returns the number
// of profiles checked and what it found.
func leftovers(e *env) (checked int, found []string) {
	look := func() []string {
		var out []string
		for _, p := range e.profiles {
			for _, pid := range browserpool.ProcessesOnProfile(p) {
				out = append(out, fmt.Sprintf("pid %d on %s", pid, p))
			}
		}
		self := os.Getpid()
		for _, p := range readProcs() {
			if p.pid != self && p.names(e.root) {
				out = append(out, fmt.Sprintf("pid %d names %s: %s", p.pid, e.root, p.args[0]))
			}
		}
		return out
	}
	end := time.Now().Add(10 * time.Second)
	for {
		found = look()
		if len(found) == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(found) > 0 {
		for _, p := range e.profiles {
			_, _ = browserpool.KillOrphans(p)
		}
	}
	return len(e.profiles), found
}
