package browserpool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// procFS is the process table, read through github.com/prometheus/procfs at
// its default mount point (Linux only): stats for parents and groups,
// command lines, smaps_rollup for memory.
var procFS = sync.OnceValues(procfs.NewDefaultFS)

// procStat is what browserpool needs from /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgid int
	state           byte // R, S, D, Z, T, …
}

// zombie reports whether the process has exited and waits to be reaped.
func (s procStat) zombie() bool { return s.state == 'Z' || s.state == 'X' }

// statOf reads the stat of p.
func statOf(p procfs.Proc) (procStat, error) {
	st, err := p.Stat()
	if err != nil {
		return procStat{}, err
	}
	if len(st.State) != 1 {
		return procStat{}, fmt.Errorf("browserpool: pid %d: malformed state %q", p.PID, st.State)
	}
	return procStat{pid: st.PID, ppid: st.PPID, pgid: st.PGRP, state: st.State[0]}, nil
}

// proc returns the process pid. A missing process gives an error that wraps
// fs.ErrNotExist.
func proc(pid int) (procfs.Proc, error) {
	pfs, err := procFS()
	if err != nil {
		return procfs.Proc{}, err
	}
	return pfs.Proc(pid)
}

// alive reports whether pid names a process that runs (exists and is not a
// zombie).
func alive(pid int) bool {
	p, err := proc(pid)
	if err != nil {
		return false
	}
	st, err := statOf(p)
	return err == nil && !st.zombie()
}

// allProcs lists the processes of the table (nil when /proc cannot be read).
func allProcs() procfs.Procs {
	pfs, err := procFS()
	if err != nil {
		return nil
	}
	procs, err := pfs.AllProcs()
	if err != nil {
		return nil
	}
	return procs
}

// allStats reads the stat of every process; processes that vanish while we
// look are skipped.
func allStats() []procStat {
	procs := allProcs()
	out := make([]procStat, 0, len(procs))
	for _, p := range procs {
		if st, err := statOf(p); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// cmdline returns the arguments of pid (none for a zombie, a kernel thread
// or a process that is gone).
func cmdline(pid int) []string {
	p, err := proc(pid)
	if err != nil {
		return nil
	}
	args, _ := p.CmdLine()
	return args
}

// cmdlineHasArg reports whether the command line holds the argument arg
// exactly. Chrome's child processes rewrite their argv into one
// space-separated title (setproctitle), so a single argument that contains
// spaces is also searched word-wise: " arg " with the title padded by spaces.
func cmdlineHasArg(args []string, arg string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == arg || strings.Contains(a, " ") && strings.Contains(" "+a+" ", " "+arg+" ")
	})
}

// userDataDirFlag is the flag by which Chrome names its profile.
const userDataDirFlag = "--user-data-dir="

// namesUserDataDir reports whether the command line names dir as Chrome's
// user data dir or, when below is set, dir or a directory under it. A
// setproctitle title (one argument holding spaces) is searched word-wise,
// as cmdlineHasArg does.
func namesUserDataDir(args []string, dir string, below bool) bool {
	flag := userDataDirFlag + dir
	ends := func(rest string) bool {
		return rest == "" || below && rest[0] == '/'
	}
	for _, a := range args {
		if rest, ok := strings.CutPrefix(a, flag); ok && ends(rest) {
			return true
		}
		if !strings.Contains(a, " ") {
			continue
		}
		for rest := " " + a + " "; ; {
			_, after, ok := strings.Cut(rest, " "+flag)
			if !ok {
				break
			}
			if word, _, _ := strings.Cut(after, " "); ends(word) {
				return true
			}
			rest = after
		}
	}
	return false
}

// descendants returns root and every process below it in the parent tree,
// root first. stats is a snapshot of the process table; zombies are left out.
func descendants(stats []procStat, root int) []int {
	children := make(map[int][]int)
	present := false
	for _, st := range stats {
		if st.pid == root {
			present = !st.zombie()
			continue
		}
		if !st.zombie() {
			children[st.ppid] = append(children[st.ppid], st.pid)
		}
	}
	if !present {
		return nil
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// groupMembers returns the live (non-zombie) processes whose process group is
// pgid.
func groupMembers(stats []procStat, pgid int) []int {
	var out []int
	for _, st := range stats {
		if st.pgid == pgid && !st.zombie() {
			out = append(out, st.pid)
		}
	}
	return out
}

// Memory is what a set of processes uses, summed over their
// /proc/<pid>/smaps_rollup.
type Memory struct {
	PSS   uint64 // bytes, proportional: shared pages divided among their users
	USS   uint64 // bytes, private (Private_Clean + Private_Dirty): what these processes alone hold
	Procs int    // processes read (one that exits meanwhile is left out)
}

// MemoryOf reads the memory of pids, e.g. ProcessesOnProfile(profile).
func MemoryOf(pids []int) Memory {
	var m Memory
	for _, pid := range pids {
		r, err := rollup(pid)
		if err != nil {
			continue
		}
		m.Procs++
		m.PSS += r.Pss
		m.USS += r.PrivateClean + r.PrivateDirty
	}
	return m
}

// rollup reads /proc/<pid>/smaps_rollup (values in bytes). A missing
// process gives an error that wraps fs.ErrNotExist.
func rollup(pid int) (procfs.ProcSMapsRollup, error) {
	p, err := proc(pid)
	if err != nil {
		return procfs.ProcSMapsRollup{}, err
	}
	return p.ProcSMapsRollup()
}

// tableMaxAge is how long a walk of the process table serves the memory
// readings that follow it: the readings of every tenant at one metrics
// scrape, or at one memory check, share one walk of /proc (a walk reads the
// stat of every process on the machine).
const tableMaxAge = time.Second

// table is the last walk of the process table for treePSS; tableMu guards
// the fields that follow. Only the memory readings use it: what stops or
// kills processes always walks afresh.
var (
	tableMu    sync.Mutex
	tableAt    time.Time
	tableStats []procStat
)

// recentStats returns a walk of the process table at most tableMaxAge old,
// or a new one when fresh is set.
func recentStats(fresh bool) []procStat {
	tableMu.Lock()
	defer tableMu.Unlock()
	if fresh || tableStats == nil || time.Since(tableAt) >= tableMaxAge {
		tableStats, tableAt = allStats(), time.Now()
	}
	return tableStats
}

// treePSS returns the proportional set size of root and its descendants, in
// bytes. A missing root gives an error that wraps ErrExited; a child that
// exits while it reads is left out, as is one started since the walk of the
// process table it used (at most tableMaxAge old).
func treePSS(root int) (uint64, error) {
	pids := descendants(recentStats(false), root)
	if len(pids) == 0 { // a browser started since that walk
		pids = descendants(recentStats(true), root)
	}
	if len(pids) == 0 {
		return 0, ErrExited
	}
	var sum uint64
	for i, pid := range pids {
		r, err := rollup(pid)
		switch {
		case err == nil:
			sum += r.Pss
		case i == 0 && errors.Is(err, fs.ErrNotExist):
			return 0, fmt.Errorf("browserpool: pss of %d: %w", pid, ErrExited)
		case i == 0:
			return 0, fmt.Errorf("browserpool: pss of %d: %w", pid, err)
		default:
			// A child that exits while we read: not part of the tree any more.
		}
	}
	return sum, nil
}

// onDirs returns the live processes (zombies excluded, this process
// excluded) whose command line names one of dirs as Chrome's user data dir,
// or with below a directory under one of them. Sorted by pid.
func onDirs(dirs []string, below bool) []procStat {
	self := os.Getpid()
	var out []procStat
	for _, p := range allProcs() {
		if p.PID == self {
			continue
		}
		st, err := statOf(p)
		if err != nil || st.zombie() {
			continue
		}
		args, err := p.CmdLine()
		if err != nil {
			continue
		}
		if slices.ContainsFunc(dirs, func(d string) bool { return namesUserDataDir(args, d, below) }) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b procStat) int { return a.pid - b.pid })
	return out
}

// pids returns the pids of stats.
func pids(stats []procStat) []int {
	var out []int
	for _, st := range stats {
		out = append(out, st.pid)
	}
	return out
}
