package browserpool_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/internal/chromiumtest"
)

// startOrphan starts Chrome on profile the way a daemon that was then
// SIGKILLed would leave it: a separate process in its own process group,
// unknown to browserpool. Pdeathsig only guards against a crashed test run.
func startOrphan(t *testing.T, profile, tmp string) *exec.Cmd {
	t.Helper()
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromiumtest.Path(t),
		"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--disable-background-networking", "--disable-component-update",
		"--user-data-dir="+profile, "about:blank")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // the test did not reap it
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestKillOrphans: a Chrome left on a profile is found by profile, its lock is
// kept while it lives, KillOrphans kills its whole tree, and a browser on a
// neighbouring profile (same prefix) is not touched.
func TestKillOrphans(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "profiles", "t3")

	// A neighbour whose profile path starts with the orphan's.
	neighbour := launch(t, testConfig(t), testSpec(dir, "t3x"))

	orphan := startOrphan(t, profile, filepath.Join(dir, "tmp", "t3"))
	eventually(t, 20*time.Second, "the orphan's tree and lock", func() bool {
		_, err := os.Readlink(filepath.Join(profile, "SingletonLock"))
		return err == nil && len(browserpool.ProcessesOnProfile(profile)) >= 3
	})
	before := browserpool.ProcessesOnProfile(profile)
	if !contains(before, orphan.Process.Pid) {
		t.Fatalf("ProcessesOnProfile %v misses the orphan %d", before, orphan.Process.Pid)
	}
	if contains(before, neighbour.PID()) {
		t.Fatalf("ProcessesOnProfile %v includes the neighbour %d", before, neighbour.PID())
	}

	// The lock names a live Chrome on this profile: kept, never killed.
	err := browserpool.CleanStaleSingleton(profile)
	if !errors.Is(err, browserpool.ErrProfileInUse) {
		t.Fatalf("CleanStaleSingleton on a live profile = %v, want ErrProfileInUse", err)
	}
	if len(singletonFiles(t, profile)) != 3 {
		t.Fatalf("lock files of a live browser touched: %v", singletonFiles(t, profile))
	}
	if browserpool.ProcessesOnProfile(profile) == nil {
		t.Fatal("CleanStaleSingleton killed the browser")
	}

	killed, err := browserpool.KillOrphans(profile)
	if err != nil {
		t.Fatalf("KillOrphans: %v", err)
	}
	if !contains(killed, orphan.Process.Pid) {
		t.Errorf("KillOrphans killed %v, not the orphan %d", killed, orphan.Process.Pid)
	}
	if left := browserpool.ProcessesOnProfile(profile); len(left) > 0 {
		t.Errorf("processes left on the profile: %v", left)
	}
	err = orphan.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("orphan ended with %v, want SIGKILL", err)
	}
	for _, pid := range before {
		if st, ok := readProcStat(pid); ok && st.state != 'Z' && st.pgid == orphan.Process.Pid {
			t.Errorf("orphan process %d survived", pid)
		}
	}

	// The neighbour still works.
	if got := run[int](t, neighbour, "6*7"); got != 42 {
		t.Errorf("neighbour answered %d", got)
	}
	select {
	case <-neighbour.Done():
		t.Fatalf("neighbour died: %v", neighbour.ExitErr())
	default:
	}

	// Its lock now names a dead pid: stale, removed.
	if err := browserpool.CleanStaleSingleton(profile); err != nil {
		t.Fatalf("CleanStaleSingleton after the kill: %v", err)
	}
	if files := singletonFiles(t, profile); len(files) > 0 {
		t.Errorf("stale lock files kept: %v", files)
	}

	// Nothing left: KillOrphans is a no-op.
	if again, err := browserpool.KillOrphans(profile); err != nil || len(again) > 0 {
		t.Errorf("second KillOrphans = %v, %v", again, err)
	}
}

// TestCleanStaleSingletonCases covers locks that name no live browser of the
// profile, built by hand (Chrome's format: SingletonLock -> "<host>-<pid>").
func TestCleanStaleSingletonCases(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("no true(1): %v", err)
	}
	cases := []struct {
		name, target string
		removed      bool
	}{
		{"other host, live pid", "some-other-host-" + fmt.Sprint(os.Getpid()), true},
		{"this host, dead pid", fmt.Sprintf("%s-%d", host, dead.Process.Pid), true},
		{"this host, pid not on the profile", fmt.Sprintf("%s-%d", host, os.Getpid()), true},
		{"unreadable, nothing runs", "garbage", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			profile := t.TempDir()
			if err := os.Symlink(tc.target, filepath.Join(profile, "SingletonLock")); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"SingletonSocket", "SingletonCookie"} {
				if err := os.Symlink("/nonexistent/"+n, filepath.Join(profile, n)); err != nil {
					t.Fatal(err)
				}
			}
			if err := browserpool.CleanStaleSingleton(profile); err != nil {
				t.Fatalf("CleanStaleSingleton: %v", err)
			}
			if files := singletonFiles(t, profile); tc.removed && len(files) > 0 {
				t.Errorf("kept %v", files)
			}
			if !alive(os.Getpid()) {
				t.Fatal("the test process is gone?")
			}
		})
	}

	// No lock at all: nothing to do, other files untouched.
	profile := t.TempDir()
	other := filepath.Join(profile, "Cookies")
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := browserpool.CleanStaleSingleton(profile); err != nil {
		t.Errorf("no lock: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("an unrelated file went: %v", err)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }
