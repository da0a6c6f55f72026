// Package procmem reads, from Linux's /proc, what the machine has left in
// memory and what its processes hold, for the benchmarks that measure
// wapool's memory on a machine others share (browserpool's
// BenchmarkMemAvailable, internal/idlebench). A process that has gone, or
// that this one may not read, counts as holding nothing.
//
// Such a benchmark reads MemAvailable before and after its browsers run;
// the drop is theirs only if nothing else changed meanwhile. Steady reads
// it between two sums of what the other processes hold (Others, Anon,
// Kernel), so that a report can take out what others took.
package procmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Available returns MemAvailable of /proc/meminfo, in bytes.
func Available() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, rest, ok := strings.Cut(s.Text(), ":")
		if !ok || name != "MemAvailable" {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemAvailable")
}

// Rollup returns the fields of /proc/<pid>/smaps_rollup given in kB (Pss,
// Pss_Anon, Private_Dirty, …), in bytes; false when it cannot be read.
func Rollup(pid int) (map[string]uint64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return nil, false
	}
	m := map[string]uint64{}
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
			m[name] = v << 10
		}
	}
	return m, len(m) > 0
}

// Anon is what a process holds that MemAvailable cannot count as
// reclaimable: its share of anonymous and shared-memory pages (Pss_Anon +
// Pss_Shmem), in bytes.
func Anon(pid int) uint64 {
	m, _ := Rollup(pid)
	return m["Pss_Anon"] + m["Pss_Shmem"]
}

// Kernel is the kernel memory that follows a process, from
// /proc/<pid>/status: its page tables (VmPTE) and a 16 KiB kernel stack
// per thread, in bytes.
func Kernel(pid int) uint64 {
	st, err := Status(pid)
	if err != nil {
		return 0
	}
	return st["VmPTE"] + st["Threads"]*16<<10
}

// Status returns the numeric fields of /proc/<pid>/status (VmRSS, VmHWM,
// Threads, …): the first word of each value, those given in kB in bytes.
func Status(pid int) (map[string]uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for line := range strings.Lines(string(data)) {
		name, rest, _ := strings.Cut(line, ":")
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			v <<= 10
		}
		m[name] = v
	}
	return m, nil
}

// Others lists the processes of the machine (the pids under /proc) but
// ours, in no set order.
func Others(ours ...int) []int {
	skip := make(map[int]bool, len(ours))
	for _, pid := range ours {
		skip[pid] = true
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || skip[pid] {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// Reading is one reading of the machine's memory, in bytes.
type Reading struct {
	Avail   uint64 // MemAvailable
	Foreign uint64 // what the other processes hold: the mean of the two sums
	Self    uint64 // Anon of this process
}

// steadyBound is how far the two sums of a Reading may differ.
const steadyBound = 4 << 20

// Steady reads MemAvailable between two calls of foreign, which sums what
// the machine's other processes hold, and keeps the reading when the two
// sums agree within 4 MiB: another run that starts or stops processes
// meanwhile makes the pair meaningless. Else it reads again a second
// later, up to retries times, and then keeps the last reading.
func Steady(foreign func() uint64, retries int) (Reading, error) {
	for try := 0; ; try++ {
		f1 := foreign()
		avail, err := Available()
		if err != nil {
			return Reading{}, err
		}
		f2 := foreign()
		if d := int64(f2) - int64(f1); (d < steadyBound && d > -steadyBound) || try >= retries {
			return Reading{Avail: avail, Foreign: (f1 + f2) / 2, Self: Anon(os.Getpid())}, nil
		}
		time.Sleep(time.Second)
	}
}
