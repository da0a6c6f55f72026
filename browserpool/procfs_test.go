package browserpool

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStatOfSelf(t *testing.T) {
	p, err := proc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	st, err := statOf(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.pid != os.Getpid() || st.ppid != os.Getppid() || st.pgid != syscall.Getpgrp() || st.zombie() {
		t.Errorf("stat of self %+v, want pid %d ppid %d pgid %d", st, os.Getpid(), os.Getppid(), syscall.Getpgrp())
	}
	if !alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	if (procStat{state: 'Z'}).zombie() != true {
		t.Error("Z not a zombie")
	}
}

func TestCmdlineHasArg(t *testing.T) {
	const want = "--user-data-dir=/d/p"
	cases := []struct {
		cmdline string
		ok      bool
	}{
		{"chromium\x00--headless\x00--user-data-dir=/d/p\x00about:blank\x00", true},
		{"chromium\x00--user-data-dir=/d/p2\x00", false},
		{"chromium\x00--user-data-dir=/d\x00", false},
		// A child process's title: argv rewritten into one string.
		{"chromium --type=renderer --user-agent=Mozilla/5.0 (X11; Linux) --user-data-dir=/d/p --lang=en-US\x00\x00\x00", true},
		{"chromium --type=renderer --user-data-dir=/d/p", true},
		{"chromium --type=renderer --user-data-dir=/d/pp --x", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := cmdlineHasArg(splitCmdline(tc.cmdline), want); got != tc.ok {
			t.Errorf("cmdlineHasArg(%q) = %v", tc.cmdline, got)
		}
	}
}

// splitCmdline splits a raw /proc/<pid>/cmdline as procfs does.
func splitCmdline(cmdline string) []string {
	if cmdline == "" {
		return nil
	}
	return strings.Split(strings.TrimRight(cmdline, "\x00"), "\x00")
}

func TestNamesUserDataDir(t *testing.T) {
	cases := []struct {
		cmdline     string
		exact, tree bool // on /d/p exactly, on /d/p or below
	}{
		{"chromium\x00--user-data-dir=/d/p\x00about:blank\x00", true, true},
		{"chromium\x00--user-data-dir=/d/p/t1\x00", false, true},
		{"chromium\x00--user-data-dir=/d/pp\x00", false, false},
		{"chromium\x00--user-data-dir=/d\x00", false, false},
		{"chromium\x00--disk-cache-dir=/d/p/c\x00", false, false},
		// A child process's title: argv rewritten into one string.
		{"chromium --type=renderer --user-agent=Mozilla/5.0 (X11; Linux) --user-data-dir=/d/p --lang=en-US\x00\x00", true, true},
		{"chromium --type=renderer --user-data-dir=/d/p/t2 --lang=en-US", false, true},
		{"chromium --type=renderer --user-data-dir=/d/pp --x", false, false},
		{"chromium --user-data-dir=/d/pp --x --user-data-dir=/d/p", true, true},
		{"", false, false},
	}
	for _, tc := range cases {
		if got := namesUserDataDir(splitCmdline(tc.cmdline), "/d/p", false); got != tc.exact {
			t.Errorf("exact: namesUserDataDir(%q) = %v", tc.cmdline, got)
		}
		if got := namesUserDataDir(splitCmdline(tc.cmdline), "/d/p", true); got != tc.tree {
			t.Errorf("below: namesUserDataDir(%q) = %v", tc.cmdline, got)
		}
	}
}

func TestTreeAndGroup(t *testing.T) {
	stats := []procStat{
		{pid: 1, ppid: 0, pgid: 1, state: 'S'},
		{pid: 10, ppid: 1, pgid: 10, state: 'S'},  // browser
		{pid: 11, ppid: 10, pgid: 10, state: 'S'}, // zygote
		{pid: 12, ppid: 11, pgid: 10, state: 'R'}, // renderer
		{pid: 13, ppid: 11, pgid: 10, state: 'Z'}, // dead renderer
		{pid: 20, ppid: 1, pgid: 20, state: 'S'},  // someone else
		{pid: 21, ppid: 1, pgid: 10, state: 'S'},  // reparented leftover of 10's group
	}
	if got := descendants(stats, 10); !slices.Equal(got, []int{10, 11, 12}) {
		t.Errorf("descendants = %v", got)
	}
	if got := descendants(stats, 99); got != nil {
		t.Errorf("descendants of a missing pid = %v", got)
	}
	if got := groupMembers(stats, 10); !slices.Equal(got, []int{10, 11, 12, 21}) {
		t.Errorf("groupMembers = %v", got)
	}
}

func TestMemoryOfSelf(t *testing.T) {
	m := MemoryOf([]int{os.Getpid(), 1 << 30})
	if m.Procs != 1 || m.PSS == 0 || m.USS == 0 || m.USS > m.PSS {
		t.Errorf("MemoryOf(self, a missing pid) = %+v", m)
	}
	if pss, err := treePSS(os.Getpid()); err != nil || pss < m.PSS {
		t.Errorf("treePSS(self) = %d, %v; want at least %d", pss, err, m.PSS)
	}
	if _, err := treePSS(1 << 30); !errors.Is(err, ErrExited) {
		t.Errorf("treePSS of a missing pid: %v, want ErrExited", err)
	}
}

// TestTreePSSSharesAWalk: readings within tableMaxAge share one walk of
// the process table, and a process started after that walk is still read.
func TestTreePSSSharesAWalk(t *testing.T) {
	if _, err := treePSS(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	tableMu.Lock()
	at := tableAt
	tableMu.Unlock()
	if _, err := treePSS(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	tableMu.Lock()
	again := tableAt
	tableMu.Unlock()
	if !again.Equal(at) && time.Since(at) < tableMaxAge {
		t.Errorf("a second reading within %v walked the process table again", tableMaxAge)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if pss, err := treePSS(cmd.Process.Pid); err != nil || pss == 0 {
		t.Errorf("treePSS of a process started after the walk = %d, %v", pss, err)
	}
}

func TestParseLockTarget(t *testing.T) {
	cases := []struct {
		target string
		host   string
		pid    int
		ok     bool
	}{
		{"myhost-1234", "myhost", 1234, true},
		{"my-host-name-77", "my-host-name", 77, true},
		{"myhost-", "", 0, false},
		{"-12", "", 0, false},
		{"myhost-x", "", 0, false},
		{"myhost-0", "", 0, false},
		{"", "", 0, false},
	}
	for _, tc := range cases {
		host, pid, ok := parseLockTarget(tc.target)
		if host != tc.host || pid != tc.pid || ok != tc.ok {
			t.Errorf("parseLockTarget(%q) = %q, %d, %v", tc.target, host, pid, ok)
		}
	}
}
