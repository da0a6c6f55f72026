package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wapool/wapool/internal/pgtest"
)

// wapooldBin is the wapoold built by TestMain for the benchmarks; empty
// when no benchmark runs (go test without -bench builds nothing).
var wapooldBin string

// TestMain shares one PostgreSQL server between the benchmarks (pgtest.Main
// starts it on the first pgtest.Start only) and, when -bench is given,
// builds wapoold from this tree first, as the e2e tests do (without -race:
// the figures are the daemon's, not the race detector's).
func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(withWapoold{m}))
}

// withWapoold runs m with wapooldBin built when benchmarks run.
type withWapoold struct{ m *testing.M }

func (w withWapoold) Run() int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		return w.m.Run()
	}
	dir, err := os.MkdirTemp("", "clusterbench-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterbench:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "wapoold")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/wapool/wapool/cmd/wapoold")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "clusterbench: building wapoold:", err)
		return 1
	}
	wapooldBin = bin
	return w.m.Run()
}
