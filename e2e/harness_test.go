// Package e2e holds the end-to-end tests of wapool: the real wapoold binary,
// real Chromium against fakewa, a real gRPC connection and bbolt on disk.
package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var binDir string

func TestMain(m *testing.M) {
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
}

type daemon struct {
	cmd     *exec.Cmd
	opts    daemonOpts // as started, with the data dir: restart with startDaemon(t, d.opts)
	addr    string
	dataDir string
	conn    *grpc.ClientConn
	logMu   sync.Mutex
	logBuf  strings.Builder
	exited  chan struct{}
	exitErr error
}

// startDaemon runs bin/wapoold on 127.0.0.1:0 and waits for the address it
// logs. The test's cleanup kills it if the test did not stop it.
func startDaemon(t *testing.T, o daemonOpts) *daemon {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	args := append([]string{"--listen", "127.0.0.1:0", "--data-dir", o.dataDir, "--metrics-addr", "", "--log-format", "json", "--log-level", "debug"}, o.args...)
	cmd := exec.Command(filepath.Join(binDir, "wapoold"), args...)
	cmd.Env = append(os.Environ(), "WAPOOL_LISTEN=") // flags win anyway; keep the env clean
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, opts: o, dataDir: o.dataDir, exited: make(chan struct{})}
	addrc := make(chan string, 1)
	go d.readLog(stderr, addrc)
	go func() { d.exitErr = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(25 * time.Second):
				t.Errorf("wapoold did not stop within 25 s of SIGTERM")
				_ = cmd.Process.Kill()
				<-d.exited
			}
		}
		// Chrome dies with its daemon (Pdeathsig); wait for it to be gone
		// before the data dir is removed.
		waitNoBrowsers(t, o.dataDir, 10*time.Second)
		if d.conn != nil {
			d.conn.Close()
		}
		if t.Failed() {
			t.Logf("wapoold log:\n%s", d.log())
		}
	})
	select {
	case d.addr = <-addrc:
	case <-d.exited:
		t.Fatalf("wapoold exited at start: %v\n%s", d.exitErr, d.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("wapoold did not log its address\n%s", d.log())
	}
	d.conn, err = grpc.NewClient(d.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *daemon) readLog(r io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		d.logMu.Lock()
		d.logBuf.WriteString(line + "\n")
		d.logMu.Unlock()
		if sent {
			continue
		}
		var rec struct {
			Msg    string `json:"msg"`
			Listen string `json:"listen"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "wapoold serving" && rec.Listen != "" {
			addrc <- rec.Listen
			sent = true
		}
	}
}

func (d *daemon) log() string {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	return d.logBuf.String()
}

// stop signals the daemon and returns its exit code; it fails the test when
// the daemon does not exit within timeout.
func (d *daemon) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) int {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(timeout):
		t.Fatalf("wapoold did not exit within %v after %v\n%s", timeout, sig, d.log())
	}
	var ee *exec.ExitError
	if errors.As(d.exitErr, &ee) {
		return ee.ExitCode()
	}
	if d.exitErr != nil {
		t.Fatalf("wapoold: %v", d.exitErr)
	}
	return 0
}
