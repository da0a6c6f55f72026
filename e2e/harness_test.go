// Package e2e holds the end-to-end tests of wapool: the real wapoold binary,
// real Chromium against fakewa, a real gRPC connection and bbolt on disk.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/wapool/wapool/internal/wapooldtest"
)

var binDir string

// Parallel tests: the longest tests, which mostly wait on fakewa's timings
// (boot, acks, uploads, the late editor, lease TTLs) rather than use the
// CPU, call t.Parallel, so that several run at once: four, unless
// -parallel says otherwise (go test's default, GOMAXPROCS, is 2 on the CI
// machine, where the whole package used less than a core on average). Each
// has its own fakewa, data dirs and ports; none reads another's processes.
// Tests that judge timing or count processes machine-wide stay sequential
// (they run before the parallel ones resume).
const defaultParallel = "4"

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", defaultParallel)
	}
	dir, err := os.MkdirTemp("", "wapool-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-race", "-o", dir+string(os.PathSeparator), "../cmd/wapoold")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type daemonOpts struct {
	dataDir string   // "" = a new temporary dir
	args    []string // extra flags
	// creds are the transport credentials of the test's connection to a
	// daemon started with --tls-cert (see internal/testpki); nil: plaintext.
	creds credentials.TransportCredentials
}

// daemon is one bin/wapoold of a test: wapooldtest's Daemon, with the
// fields the tests read.
type daemon struct {
	*wapooldtest.Daemon
	cmd     *exec.Cmd  // the process: cmd.Process to signal it; never Wait
	opts    daemonOpts // as started, with the data dir: restart with startDaemon(t, d.opts)
	addr    string
	dataDir string
	conn    *grpc.ClientConn
	exited  <-chan struct{} // closed once the process has exited and was reaped
}

// startDaemon runs bin/wapoold on 127.0.0.1:0 and waits for the address it
// logs. The test's cleanup stops it (SIGTERM, SIGKILL after 25 s) if the
// test did not, waits until no browser is left on its data dir, and prints
// its log when the test failed.
func startDaemon(t *testing.T, o daemonOpts) *daemon {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	h, err := wapooldtest.Start(context.Background(), wapooldtest.Options{
		Bin:   filepath.Join(binDir, "wapoold"),
		Args:  append([]string{"--data-dir", o.dataDir, "--metrics-addr", "", "--log-format", "json", "--log-level", "debug"}, o.args...),
		Env:   append(os.Environ(), "WAPOOL_LISTEN="), // flags win anyway; keep the env clean
		Creds: o.creds,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{Daemon: h, cmd: h.Cmd(), opts: o, addr: h.Addr(), dataDir: o.dataDir, conn: h.Conn(), exited: h.Exited()}
	t.Cleanup(func() {
		if _, err := h.Stop(25 * time.Second); err != nil {
			t.Errorf("wapoold: %v", err)
		}
		// Chrome dies with its daemon (Pdeathsig); wait for it to be gone
		// before the data dir is removed.
		waitNoBrowsers(t, o.dataDir, 10*time.Second)
		h.Close()
		if t.Failed() {
			t.Logf("wapoold log:\n%s", d.log())
		}
	})
	return d
}

func (d *daemon) log() string { return d.Log() }

// stop signals the daemon and returns its exit code; it fails the test when
// the daemon does not exit within timeout.
func (d *daemon) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) int {
	t.Helper()
	if err := d.Signal(sig); err != nil {
		t.Fatal(err)
	}
	code, err := d.Wait(timeout)
	if err != nil {
		t.Fatalf("wapoold did not exit within %v after %v\n%s", timeout, sig, d.log())
	}
	return code
}
