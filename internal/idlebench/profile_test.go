package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/wapooldtest"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

var (
	profileTenants = flag.Int("profile-tenants", 10, "BenchmarkIdleProfile: warm idle tenants")
	profileOut     = flag.String("idle-cpuprofile", "", "BenchmarkIdleProfile: where to write the idle window's CPU profile (default: the benchmark's temporary dir, named in its progress)")
)

// BenchmarkIdleProfile profiles what an idle fleet costs the daemon: the
// supervisor runs in this process (with wapoold's defaults that matter
// when idle: the real launcher with the lean flags, --max-browser-memory
// 600 MiB, --idle-hibernate 30m, self-checks every 15 min), links
// -profile-tenants tenants against an in-process fakewa, rests 20 s, then
// records a CPU profile (runtime/pprof) over one cpuWindow. fakewa's HTTP
// server runs in this process too: ignore net/http and fakewa frames.
//
//	go test -run '^$' -bench IdleProfile -benchtime 1x -timeout 20m ./internal/idlebench/ -args -idle-cpuprofile idle.pprof
//	go tool pprof -top idle.pprof
//
// Metrics: process-%core/tenant is this process's utime+stime over the
// window (getrusage) per tenant, fakewa's share included.
func BenchmarkIdleProfile(b *testing.B) {
	chromium := chromiumtest.Path(b)
	root := b.TempDir()
	fake, url := wapooldtest.Fake(b, fakewa.Options{}, root)
	store, err := sessionstore.Open(sessionstore.Options{DataDir: filepath.Join(root, "data")})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	sup := supervisor.New(supervisor.Config{
		Store:            store,
		Browser:          browserpool.Config{ExecPath: chromium, Lean: true},
		TargetURL:        url,
		MaxWarm:          40,
		IdleHibernate:    30 * time.Minute,
		MaxBrowserMemory: 600 << 20,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("supervisor: %v", err)
		}
	}()
	n := *profileTenants
	for i := range n {
		t := fmt.Sprintf("p%02d", i)
		progress("profile: linking %s (%d of %d)", t, i+1, n)
		lctx, lcancel := context.WithTimeout(ctx, 90*time.Second)
		scanned := false
		err := sup.Link(lctx, t, "", func(ev supervisor.LinkEvent) error {
			if ev.QR != nil && !scanned {
				scanned = true
				return fake.Scan(ev.QR.Code, fleetPhone(i))
			}
			return nil
		})
		lcancel()
		if err != nil {
			b.Fatalf("link %s: %v", t, err)
		}
	}
	progress("profile: %d tenants linked; resting %v", n, idleRest)
	time.Sleep(idleRest)
	out := *profileOut
	if out == "" {
		out = filepath.Join(b.TempDir(), "idle.pprof")
	}
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	t0 := time.Now()
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	time.Sleep(cpuWindow)
	pprof.StopCPUProfile()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	el := time.Since(t0).Seconds()
	cpu := tv(r1.Utime) + tv(r1.Stime) - tv(r0.Utime) - tv(r0.Stime)
	b.ReportMetric(100*cpu/el/float64(n), "process-%core/tenant")
	progress("profile: %.2f %% of a core per tenant in this process; profile in %s", 100*cpu/el/float64(n), out)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
