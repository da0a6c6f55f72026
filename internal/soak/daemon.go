package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// startTimeout bounds the wait for a started wapoold to log its address.
const startTimeout = 30 * time.Second

// startMarker is the line the soak writes to a daemon's log file before
// each start (with the start's number, from 1): what follows, up to the
// next, is that process's log.
const startMarker = "soak: wapoold start #%d"

// daemon is the current wapoold of the soak. Its mutex guards cur and
// starts; the chaos loop and the main goroutine start, kill or stop the
// process, producers only take its client.
type daemon struct {
	bin     string   // the wapoold binary
	args    []string // its flags (the harness adds --listen 127.0.0.1:0); the data dir stays the same across restarts
	logFile *os.File // every run's output, appended
	// perStart, when set, gives the flags of the n-th start (from 1), after
	// args and before start's own: the webhook URL that names the process.
	perStart func(n int) []string
	// creds dial the daemon (mTLS in the cluster soak); nil: plaintext.
	creds credentials.TransportCredentials

	mu sync.Mutex
	// cur is the latest process, also after a SIGKILL until the next start
	// replaces it: clients then see what a real client sees, UNAVAILABLE.
	// nil before the first start and after stop.
	cur    *wapooldtest.Daemon
	starts int // processes started so far
}

// client returns the latest daemon's client (it fails while that daemon is
// dead), or nil before the first start and after stop.
func (d *daemon) client() wapoolv1.SessionServiceClient {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		return nil
	}
	return d.cur.Client()
}

// pick is the single daemon's endpoint: its client, whatever avoid says
// (there is no other daemon to go to).
func (d *daemon) pick(_ *rand.Rand, _ string) (string, wapoolv1.SessionServiceClient) {
	return "", d.client()
}

// latest returns the latest process, or nil.
func (d *daemon) latest() *wapooldtest.Daemon {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// start runs a new wapoold with args and then extra (this start's own
// flags: a cluster node's --listen, for one) and waits until it logs
// "wapoold serving"; then it replaces the latest process, which must have
// exited.
func (d *daemon) start(extra ...string) error {
	d.mu.Lock()
	if d.cur != nil && d.cur.Running() {
		d.mu.Unlock()
		return errors.New("start: a wapoold still runs")
	}
	d.starts++
	n := d.starts
	d.mu.Unlock()

	fmt.Fprintf(d.logFile, "{\"msg\":%q,\"ts\":%q}\n", fmt.Sprintf(startMarker, n), time.Now().Format(time.RFC3339Nano))
	args := slices.Clone(d.args)
	if d.perStart != nil {
		args = append(args, d.perStart(n)...)
	}
	p, err := wapooldtest.Start(context.Background(), wapooldtest.Options{
		Bin:          d.bin,
		Args:         append(args, extra...),
		Env:          append(os.Environ(), "WAPOOL_LISTEN="),
		Log:          d.logFile,
		StartTimeout: startTimeout,
		Creds:        d.creds,
	})
	if err != nil {
		return fmt.Errorf("wapoold start #%d: %w (see wapoold.log)", n, err)
	}
	d.mu.Lock()
	old := d.cur
	d.cur = p
	d.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// take detaches the latest process from the holder.
func (d *daemon) take() *wapooldtest.Daemon {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.cur
	d.cur = nil
	return p
}

// kill SIGKILLs the latest daemon and waits for it to be gone. Its client
// stays in place, failing, until start replaces it.
func (d *daemon) kill() error {
	p := d.latest()
	if p == nil || !p.Running() {
		return errors.New("kill: no wapoold runs")
	}
	return p.Kill()
}

// stop SIGTERMs the latest daemon and returns its exit code; it SIGKILLs it
// and fails when it does not exit within timeout. Producers see no client
// from then on.
func (d *daemon) stop(timeout time.Duration) (int, error) {
	p := d.take()
	if p == nil {
		return -1, errors.New("stop: no wapoold was started")
	}
	defer p.Close()
	if !p.Running() {
		return -1, fmt.Errorf("stop: wapoold had already exited: %v", p.ExitErr())
	}
	return p.Stop(timeout)
}

// term SIGTERMs the latest daemon and waits up to timeout for its exit,
// returning its exit code; one that does not exit in time is SIGKILLed and
// the error says so. Unlike stop, its client stays in place meanwhile, as
// a real client keeps calling a node that drains; start replaces it.
func (d *daemon) term(timeout time.Duration) (int, error) {
	p := d.latest()
	if p == nil || !p.Running() {
		return -1, errors.New("term: no wapoold runs")
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	code, err := p.Wait(timeout)
	if err != nil {
		_ = p.Kill()
		return -1, fmt.Errorf("%w: killed", err)
	}
	return code, nil
}
