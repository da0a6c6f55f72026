package procmem

import (
	"os"
	"slices"
	"testing"
)

func TestReadsThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps_rollup"); err != nil {
		t.Skip("no /proc/self/smaps_rollup:", err)
	}
	self := os.Getpid()
	if avail, err := Available(); err != nil || avail == 0 {
		t.Errorf("Available() = %d, %v", avail, err)
	}
	m, ok := Rollup(self)
	if !ok || m["Pss"] == 0 || m["Rss"] < m["Pss"] {
		t.Errorf("Rollup(self) = %v, %v: want Pss and Rss ≥ Pss", m, ok)
	}
	if Anon(self) == 0 || Anon(self) > m["Pss"] {
		t.Errorf("Anon(self) = %d, want more than 0 and at most Pss %d", Anon(self), m["Pss"])
	}
	if Kernel(self) < 16<<10 {
		t.Errorf("Kernel(self) = %d, want at least one thread's stack", Kernel(self))
	}
	if _, ok := Rollup(-1); ok || Anon(-1) != 0 || Kernel(-1) != 0 {
		t.Error("a process that does not exist holds something")
	}
	others := Others(self)
	if slices.Contains(others, self) || len(others) == 0 {
		t.Errorf("Others(self) = %v: want other processes, not this one", others)
	}
}

func TestSteadyKeepsAgreeingSums(t *testing.T) {
	if _, err := Available(); err != nil {
		t.Skip("no MemAvailable:", err)
	}
	sums := []uint64{100 << 20, 102 << 20}
	r, err := Steady(func() uint64 { v := sums[0]; sums = sums[1:]; return v }, 3)
	if err != nil || r.Foreign != 101<<20 || r.Avail == 0 || r.Self == 0 {
		t.Fatalf("Steady = %+v, %v: want the mean of the sums, 101 MiB", r, err)
	}
	// Sums 8 MiB apart and no retry: the reading is kept anyway.
	sums = []uint64{100 << 20, 108 << 20}
	if r, err := Steady(func() uint64 { v := sums[0]; sums = sums[1:]; return v }, 0); err != nil || r.Foreign != 104<<20 {
		t.Fatalf("Steady without retries = %+v, %v: want the mean, 104 MiB", r, err)
	}
}

// Status reads this process's own numbers: sizes in bytes (given in kB),
// counts as they are.
func TestStatusOfThisProcess(t *testing.T) {
	st, err := Status(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss := st["VmRSS"]; rss < 1<<20 || rss%1024 != 0 {
		t.Errorf("VmRSS %d, want at least a MiB, in bytes (a multiple of 1024)", rss)
	}
	if n := st["Threads"]; n < 1 || n > 10000 {
		t.Errorf("Threads %d, want a count", n)
	}
	if _, err := Status(-1); err == nil {
		t.Error("Status of no process succeeded")
	}
}
