package browserpool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// singletonFiles are the files with which Chrome marks a profile as in use.
// SingletonLock is a symlink to "<hostname>-<pid>" of the browser process;
// SingletonSocket and SingletonCookie are symlinks into its temporary
// directory.
var singletonFiles = []string{"SingletonLock", "SingletonSocket", "SingletonCookie"}

// orphanKillTimeout bounds how long KillOrphans waits for the processes it
// killed to be gone.
const orphanKillTimeout = 10 * time.Second

// profileDirs returns the forms in which a command line may name
// profileDir: the path as given (cleaned) and its absolute form.
func profileDirs(profileDir string) []string {
	out := []string{filepath.Clean(profileDir)}
	if abs, err := filepath.Abs(profileDir); err == nil && abs != out[0] {
		out = append(out, abs)
	}
	return out
}

// namesProfile reports whether the command line of pid names the profile.
func namesProfile(pid int, profileDirs []string) bool {
	args := cmdline(pid)
	return slices.ContainsFunc(profileDirs, func(d string) bool { return namesUserDataDir(args, d, false) })
}

// ProcessesOnProfile returns the live processes (zombies excluded, this
// process excluded) whose command line has --user-data-dir=<profileDir>,
// the exact directory (as given or made absolute). Chrome passes the flag to
// every child process, so this finds a whole browser. Sorted by pid.
func ProcessesOnProfile(profileDir string) []int {
	return pids(onDirs(profileDirs(profileDir), false))
}

// ProcessesUnder returns the live processes (zombies excluded, this process
// excluded) whose command line has --user-data-dir=<dir> or
// --user-data-dir=<a directory under dir>, dir as given or made absolute:
// every Chrome on the profiles below a data dir or a profiles dir. Tests,
// the bench, the soak and the demo use it to see that no browser outlives
// its daemon. Sorted by pid.
func ProcessesUnder(dir string) []int {
	return pids(onDirs(profileDirs(dir), true))
}

// KillOrphans stops every live process on this host whose command line names
// profileDir (see ProcessesOnProfile): a Chrome left running by a daemon that
// was SIGKILLed. A process that leads its own process group is killed with
// its group (SIGKILL to the group); any other one alone, so that a group
// shared with unrelated processes (this daemon's, a shell's) is never
// signaled. It then waits until none is left, looking again a few times
// since a dying browser can still fork, and returns the pids it signaled.
// Call it only while holding the profile's lock: every process on the
// profile is then an orphan.
func KillOrphans(profileDir string) (killed []int, err error) {
	dirs := profileDirs(profileDir)
	ownGroup := syscall.Getpgrp()
	deadline := time.Now().Add(orphanKillTimeout)
	for quiet := 0; quiet < 3; {
		found := false
		for _, st := range onDirs(dirs, false) {
			found = true
			if !slices.Contains(killed, st.pid) {
				killed = append(killed, st.pid)
			}
			if st.pgid == st.pid && st.pgid != ownGroup {
				_ = syscall.Kill(-st.pgid, syscall.SIGKILL)
			} else {
				_ = syscall.Kill(st.pid, syscall.SIGKILL)
			}
		}
		if found {
			quiet = 0
		} else {
			quiet++
		}
		if time.Now().After(deadline) {
			if left := ProcessesOnProfile(profileDir); len(left) > 0 {
				return killed, fmt.Errorf("browserpool: processes %v on profile %q survived SIGKILL", left, profileDir)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(killed)
	return killed, nil
}

// CleanStaleSingleton removes Chrome's SingletonLock, SingletonSocket and
// SingletonCookie from profileDir when the lock is stale, so that a new
// Chrome does not take the profile for one in use (it would hand over to
// that instance and exit). The lock is stale when it names another host, or
// this host and a pid that does not run, or a live pid whose command line
// does not name this profile (the pid was reused). A lock that names a live
// Chrome on this profile is kept, and the error wraps ErrProfileInUse. No
// lock: nothing to do.
//
// It never kills anything: a pid named by a lock may belong to anyone (a
// reused pid — killing it was measured to take down another tenant's
// browser). Hold the profile's lock while calling it.
func CleanStaleSingleton(profileDir string) error {
	lock := filepath.Join(profileDir, "SingletonLock")
	target, err := os.Readlink(lock)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, syscall.EINVAL):
		// Not a symlink: not Chrome's lock format.
		target = ""
	case err != nil:
		return fmt.Errorf("browserpool: read %s: %w", lock, err)
	}
	host, pid, ok := parseLockTarget(target)
	myHost, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("browserpool: hostname: %w", err)
	}
	switch {
	case !ok:
		// Unreadable lock: stale unless a browser runs on the profile.
		if running := ProcessesOnProfile(profileDir); len(running) > 0 {
			return fmt.Errorf("browserpool: profile %q: unreadable SingletonLock %q while %v run on it: %w", profileDir, target, running, ErrProfileInUse)
		}
	case host != myHost:
	case !alive(pid):
	case !namesProfile(pid, profileDirs(profileDir)):
	default:
		return fmt.Errorf("browserpool: profile %q: SingletonLock names live pid %d: %w", profileDir, pid, ErrProfileInUse)
	}
	for _, name := range singletonFiles {
		if err := os.Remove(filepath.Join(profileDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("browserpool: %w", err)
		}
	}
	return nil
}

// parseLockTarget splits a SingletonLock target "<hostname>-<pid>". The host
// name may itself contain dashes; the pid follows the last one.
func parseLockTarget(target string) (host string, pid int, ok bool) {
	i := strings.LastIndexByte(target, '-')
	if i <= 0 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(target[i+1:])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return target[:i], pid, true
}
