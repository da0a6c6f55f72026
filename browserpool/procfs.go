package browserpool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procRoot is the mount point of procfs. Linux only: browserpool reads the
// process table there (command lines, parents, groups, memory).
const procRoot = "/proc"

// procStat is what browserpool needs from /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgid int
	state           byte // R, S, D, Z, T, …
}

// zombie reports whether the process has exited and waits to be reaped.
func (s procStat) zombie() bool { return s.state == 'Z' || s.state == 'X' }

// parseStat parses the text of /proc/<pid>/stat. The command name (field 2)
// is in parentheses and may itself hold spaces and parentheses, so the fields
// after it are found from the last ')'.
func parseStat(data []byte) (procStat, error) {
	open := bytes.IndexByte(data, '(')
	closing := bytes.LastIndexByte(data, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("malformed stat %q", data)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat pid: %w", err)
	}
	rest := strings.Fields(string(data[closing+1:]))
	// rest[0] state, rest[1] ppid, rest[2] pgrp.
	if len(rest) < 3 || len(rest[0]) != 1 {
		return procStat{}, fmt.Errorf("malformed stat %q", data)
	}
	ppid, err1 := strconv.Atoi(rest[1])
	pgid, err2 := strconv.Atoi(rest[2])
	if err := errors.Join(err1, err2); err != nil {
		return procStat{}, fmt.Errorf("malformed stat: %w", err)
	}
	return procStat{pid: pid, ppid: ppid, pgid: pgid, state: rest[0][0]}, nil
}

// readStat reads /proc/<pid>/stat. A missing process gives an error that
// wraps fs.ErrNotExist.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// alive reports whether pid names a process that runs (exists and is not a
// zombie).
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && !st.zombie()
}

// listPIDs returns the numeric entries of /proc.
func listPIDs() []int {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	pids := make([]int, 0, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// allStats reads the stat of every process; processes that vanish while we
// look are skipped.
func allStats() []procStat {
	pids := listPIDs()
	out := make([]procStat, 0, len(pids))
	for _, pid := range pids {
		if st, err := readStat(pid); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// readCmdline returns the raw /proc/<pid>/cmdline (NUL-separated arguments;
// empty for a zombie or a kernel thread).
func readCmdline(pid int) []byte {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil
	}
	return data
}

// cmdlineHasArg reports whether the raw command line holds the argument arg
// exactly. Chrome's child processes rewrite their argv into one
// space-separated title (setproctitle), so a single argument that contains
// spaces is also searched word-wise: " arg " with the title padded by spaces.
func cmdlineHasArg(cmdline []byte, arg string) bool {
	for a := range bytes.SplitSeq(bytes.TrimRight(cmdline, "\x00"), []byte{0}) {
		if string(a) == arg {
			return true
		}
		if bytes.IndexByte(a, ' ') >= 0 && strings.Contains(" "+string(a)+" ", " "+arg+" ") {
			return true
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

// parsePSS returns the Pss value of a smaps_rollup text, in bytes.
func parsePSS(data []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "Pss:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("malformed Pss line %q: %w", sc.Text(), err)
			}
			unit := uint64(1024) // the kernel always prints kB
			if len(f) >= 3 && f[2] != "kB" {
				return 0, fmt.Errorf("unexpected Pss unit %q", f[2])
			}
			return kb * unit, nil
		}
	}
	return 0, errors.New("no Pss line in smaps_rollup")
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
		data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "smaps_rollup"))
		if err != nil {
			continue
		}
		m.Procs++
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseUint(f[1], 10, 64) // the kernel prints kB
			switch f[0] {
			case "Pss:":
				m.PSS += kb << 10
			case "Private_Clean:", "Private_Dirty:":
				m.USS += kb << 10
			}
		}
	}
	return m
}

// readPSS returns the proportional set size of one process, in bytes.
func readPSS(pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	return parsePSS(data)
}
