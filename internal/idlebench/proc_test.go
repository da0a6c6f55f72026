package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	"github.com/wapool/wapool/browserpool"
)

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (uint64, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	mi, err := fs.Meminfo()
	if err != nil {
		return 0, err
	}
	if mi.MemAvailableBytes == nil {
		return 0, fmt.Errorf("/proc/meminfo: no MemAvailable")
	}
	return *mi.MemAvailableBytes, nil
}

// cpuSeconds reads utime+stime of each pid (/proc/<pid>/stat); a process
// that has exited is left out.
func cpuSeconds(pids []int) map[int]float64 {
	out := make(map[int]float64, len(pids))
	for _, pid := range pids {
		p, err := procfs.NewProc(pid)
		if err != nil {
			continue
		}
		st, err := p.Stat()
		if err != nil {
			continue
		}
		out[pid] = st.CPUTime()
	}
	return out
}

// cpuSpent is the CPU time the processes of after spent since before: a
// process absent from before started in between, so all of its time
// counts. It also returns how many processes of before have exited (their
// time since before is lost: the figure is then a lower bound).
func cpuSpent(before, after map[int]float64) (sec float64, exited int) {
	for pid, t := range after {
		sec += t - before[pid]
	}
	for pid := range before {
		if _, ok := after[pid]; !ok {
			exited++
		}
	}
	return sec, exited
}

// rssOf is a process's resident set (/proc/<pid>/stat), in bytes.
func rssOf(pid int) uint64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return uint64(st.ResidentMemory())
}

// anonOf is what of a process MemAvailable cannot count as reclaimable:
// Pss_Anon + Pss_Shmem (/proc/<pid>/smaps_rollup), in bytes; 0 when it
// cannot be read.
func anonOf(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	var sum uint64
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != "Pss_Anon" && name != "Pss_Shmem" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			kb, _ := strconv.ParseUint(f[0], 10, 64)
			sum += kb << 10
		}
	}
	return sum
}

// memReading is one reading of the machine's memory during the run.
type memReading struct {
	avail   uint64 // MemAvailable
	foreign uint64 // anonOf summed over every process that is not of the run
	self    uint64 // anonOf this process (fakewa, the gRPC client)
}

// readMemory reads MemAvailable between two sums of the other processes'
// memory; ours are this process, the daemon (daemonPID, 0: none) and the
// browsers under dataDir. The machine is shared (other test runs start and
// stop Chromiums), so the foreign sum lets the report take out what others
// took meanwhile. It reads again, up to 10 times a second apart, while the
// two sums differ by more than 4 MiB.
func readMemory(dataDir string, daemonPID int) (memReading, error) {
	for try := 0; ; try++ {
		f1 := foreignUse(dataDir, daemonPID)
		avail, err := memAvailable()
		if err != nil {
			return memReading{}, err
		}
		f2 := foreignUse(dataDir, daemonPID)
		if d := int64(f2) - int64(f1); d < 4<<20 && d > -4<<20 || try == 10 {
			return memReading{avail: avail, foreign: (f1 + f2) / 2, self: anonOf(os.Getpid())}, nil
		}
		time.Sleep(time.Second)
	}
}

// foreignUse sums anonOf over every process but this one, the daemon and
// the browsers under dataDir.
func foreignUse(dataDir string, daemonPID int) uint64 {
	ours := map[int]bool{os.Getpid(): true, daemonPID: true}
	for _, pid := range browserpool.ProcessesUnder(dataDir) {
		ours[pid] = true
	}
	ents, _ := os.ReadDir("/proc")
	var sum uint64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || ours[pid] {
			continue
		}
		sum += anonOf(pid)
	}
	return sum
}
