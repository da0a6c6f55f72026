// Package chromiumtest finds the Chromium binary for tests that drive a real
// browser, and checks that they leave none running. Outside CI a missing
// browser skips the test; in CI (CI=true) it fails it, so a broken install
// can never pass as a green run.
package chromiumtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wapool/wapool/browserpool"
)

// Path returns the Chromium executable to test with: $WAPOOL_CHROMIUM when
// set, else the first of chromium, chromium-browser on PATH. It skips the test
// when none is found, or fails it when CI=true.
func Path(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("WAPOOL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("chromium not found on PATH; CI must install it (apt-get install -y chromium)")
	}
	tb.Skip("chromium not found on PATH; install it with: apt-get install -y chromium")
	return ""
}

// NoneLeft fails tb (without stopping it) for each profile directly under
// profilesDir that a process still runs on (browserpool.ProcessesOnProfile),
// naming the profile and the pids. Call it after everything that starts
// browsers on those profiles has stopped.
func NoneLeft(tb testing.TB, profilesDir string) {
	tb.Helper()
	ids, _ := os.ReadDir(profilesDir)
	for _, e := range ids {
		if pids := browserpool.ProcessesOnProfile(filepath.Join(profilesDir, e.Name())); len(pids) > 0 {
			tb.Errorf("browser left on profile %s: %v", e.Name(), pids)
		}
	}
}
