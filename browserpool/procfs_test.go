package browserpool

import (
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	st, err := parseStat([]byte("4242 (chromium (x) y) S 4200 4242 4242 0 -1 4194560 …\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st != (procStat{pid: 4242, ppid: 4200, pgid: 4242, state: 'S'}) {
		t.Errorf("got %+v", st)
	}
	if z, _ := parseStat([]byte("7 (a) Z 1 7 7")); !z.zombie() {
		t.Error("Z not a zombie")
	}
	for _, bad := range []string{"", "12 chromium S 1 2", "x (a) S 1 2", "12 (a) S x 2", "12 (a)"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
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
		if got := cmdlineHasArg([]byte(tc.cmdline), want); got != tc.ok {
			t.Errorf("cmdlineHasArg(%q) = %v", tc.cmdline, got)
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

func TestParsePSS(t *testing.T) {
	const rollup = `55d0c0a00000-7ffd5b1f5000 ---p 00000000 00:00 0                          [rollup]
Rss:              204800 kB
Pss:               51234 kB
Pss_Anon:          20000 kB
Shared_Clean:     150000 kB
`
	got, err := parsePSS([]byte(rollup))
	if err != nil || got != 51234*1024 {
		t.Errorf("parsePSS = %d, %v", got, err)
	}
	if _, err := parsePSS([]byte("Rss: 1 kB\n")); err == nil {
		t.Error("no Pss line accepted")
	}
	if _, err := parsePSS([]byte("Pss: x kB\n")); err == nil {
		t.Error("bad number accepted")
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
