// Package wapooldtest starts a built wapoold for the end-to-end tests, the
// bench, the soak and the demo: one harness, so that they start, watch and
// stop the daemon the same way. It builds nothing: the caller passes the
// binary.
//
// Start runs the binary with --listen 127.0.0.1:0 before the caller's flags,
// reads its log until the line "wapoold serving" gives the address it
// listens on (the "listen" field, in the JSON or the console format), and
// dials it. The Daemon then exposes the address, a gRPC connection, the log
// text, signals, and the exit.
//
//	Start ──► serving ──┬── Stop(timeout): SIGTERM … SIGKILL after timeout ──┐
//	   │                ├── Signal(sig), then Wait(timeout)                  ├─► Exited closed
//	   │                └── Kill: SIGKILL ───────────────────────────────────┘   (ExitCode, ExitErr)
//	   └─ exits, logs no address in time, or ctx ends: killed, reaped, error with the log
//
// Close releases the gRPC connection; call it once done with the Daemon,
// whether the process still runs or not.
//
// # Ownership
//
// A Daemon owns one goroutine, started by Start, that waits for the process
// (os/exec copies its output meanwhile), records the exit and closes
// Exited; it ends then. The log text is guarded by a mutex; everything else
// is written before Start returns, except the exit, which is read only after
// Exited is closed.
package wapooldtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// DefaultStartTimeout bounds the wait for the address when
// Options.StartTimeout is zero.
const DefaultStartTimeout = 30 * time.Second

// waitDelay bounds how long the exit waits for the output pipe to close
// after the process has exited (a child that inherited it and still runs).
const waitDelay = 5 * time.Second

// Options say which wapoold to start and how.
type Options struct {
	// Bin is the path of the wapoold binary. Required.
	Bin string
	// Args are wapoold's flags. Start puts "--listen 127.0.0.1:0" before
	// them. Nil: no more flags (wapoold's defaults and environment).
	Args []string
	// Env is the process's environment. Nil: this process's environment
	// without its WAPOOL_* variables, so that only Args configure the
	// daemon.
	Env []string
	// Log, when set, receives the daemon's stdout and stderr, whole lines
	// at a time, as they come; a write error is ignored (the daemon must
	// never block on its log). Nil: the log is only kept (Daemon.Log).
	Log io.Writer
	// StartTimeout bounds the wait for the address. Zero:
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Creds are the transport credentials of Conn, for a daemon started
	// with --tls-cert (see internal/testpki). Nil: plaintext.
	Creds credentials.TransportCredentials
}

// Daemon is one wapoold process started by Start.
type Daemon struct {
	cmd       *exec.Cmd
	addr      string
	conn      *grpc.ClientConn
	startedAt time.Time
	out       *output

	exited  chan struct{} // closed once the process has exited and was reaped
	exitErr error         // cmd.Wait's error; valid once exited is closed

	closeOnce sync.Once
}

// Start runs the daemon and waits until it logs its address, then dials it
// (plaintext unless Options.Creds says otherwise). ctx bounds the start only: the process outlives it. The
// process gets SIGKILL when this process dies (Pdeathsig), so a crashed test
// or bench leaves no daemon behind. On failure the process is killed and
// reaped, and the error holds its log.
func Start(ctx context.Context, o Options) (*Daemon, error) {
	if o.Bin == "" {
		return nil, errors.New("wapooldtest: Options.Bin is empty")
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	cmd := exec.Command(o.Bin, append([]string{"--listen", "127.0.0.1:0"}, o.Args...)...)
	cmd.Env = o.Env
	if cmd.Env == nil {
		cmd.Env = withoutWapoolEnv(os.Environ())
	}
	out := &output{to: o.Log, addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, out // one pipe, one writer goroutine
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = waitDelay
	d := &Daemon{cmd: cmd, out: out, exited: make(chan struct{})}
	d.startedAt = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("wapooldtest: start %s: %w", o.Bin, err)
	}
	go func() {
		d.exitErr = cmd.Wait()
		out.flush()
		close(d.exited)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case d.addr = <-out.addr:
	case <-d.exited:
		return nil, fmt.Errorf("wapooldtest: wapoold exited at start: %v\n%s", d.exitErr, d.Log())
	case <-timer.C:
		_ = d.Kill()
		return nil, fmt.Errorf("wapooldtest: wapoold did not log its address within %v\n%s", timeout, d.Log())
	case <-ctx.Done():
		_ = d.Kill()
		return nil, fmt.Errorf("wapooldtest: start: %w", ctx.Err())
	}
	creds := o.Creds
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(d.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		_ = d.Kill()
		return nil, fmt.Errorf("wapooldtest: dial %s: %w", d.addr, err)
	}
	d.conn = conn
	return d, nil
}

// withoutWapoolEnv returns env without its WAPOOL_* variables.
func withoutWapoolEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "WAPOOL_") {
			out = append(out, kv)
		}
	}
	return out
}

// Addr is the gRPC address the daemon logged ("127.0.0.1:<port>").
func (d *Daemon) Addr() string { return d.addr }

// Conn is the gRPC connection to Addr (plaintext unless Options.Creds) (health, reflection, the
// service). Close closes it.
func (d *Daemon) Conn() *grpc.ClientConn { return d.conn }

// Client is the SessionService client on Conn.
func (d *Daemon) Client() wapoolv1.SessionServiceClient {
	return wapoolv1.NewSessionServiceClient(d.conn)
}

// Cmd is the process as os/exec runs it, for its Process (pid, signals) and
// Args. The Daemon waits for it: never call its Wait.
func (d *Daemon) Cmd() *exec.Cmd { return d.cmd }

// PID is the daemon's process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// StartedAt is the time just before the process was started.
func (d *Daemon) StartedAt() time.Time { return d.startedAt }

// Log returns what the daemon has written to stdout and stderr so far.
func (d *Daemon) Log() string { return d.out.text() }

// Exited is closed once the process has exited, was reaped, and its output
// was read (or waitDelay passed after the exit).
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Running reports whether the process has not exited yet.
func (d *Daemon) Running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// ExitErr is how the process ended, as exec.Cmd.Wait said (nil: exit code
// 0); nil while it runs.
func (d *Daemon) ExitErr() error {
	if d.Running() {
		return nil
	}
	return d.exitErr
}

// ExitCode is the process's exit code; -1 while it runs or when a signal
// ended it.
func (d *Daemon) ExitCode() int {
	if d.Running() || d.cmd.ProcessState == nil {
		return -1
	}
	return d.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig os.Signal) error { return d.cmd.Process.Signal(sig) }

// ErrStillRunning is Wait's error when the daemon did not exit in time.
var ErrStillRunning = errors.New("wapooldtest: wapoold still runs")

// Wait waits up to timeout for the daemon to exit and returns its exit code
// (see ExitCode); after timeout the error wraps ErrStillRunning and the
// process is left running.
func (d *Daemon) Wait(timeout time.Duration) (int, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-d.exited:
		return d.ExitCode(), nil
	case <-timer.C:
		return -1, fmt.Errorf("%w after %v", ErrStillRunning, timeout)
	}
}

// Stop sends SIGTERM and waits up to timeout for the exit; it returns the
// exit code. When the daemon does not exit in time it is SIGKILLed and the
// error wraps ErrStillRunning. A daemon that has already exited: its code.
func (d *Daemon) Stop(timeout time.Duration) (int, error) {
	if !d.Running() {
		return d.ExitCode(), nil
	}
	_ = d.Signal(syscall.SIGTERM)
	code, err := d.Wait(timeout)
	if err != nil {
		_ = d.Kill()
		return -1, fmt.Errorf("%w %v after SIGTERM: killed", ErrStillRunning, timeout)
	}
	return code, nil
}

// Kill sends SIGKILL and waits until Exited is closed (bounded by the
// kernel and waitDelay). A daemon that has already exited: nothing to do.
func (d *Daemon) Kill() error {
	if !d.Running() {
		return nil
	}
	err := d.cmd.Process.Kill()
	<-d.exited
	if errors.Is(err, os.ErrProcessDone) {
		err = nil
	}
	return err
}

// Close closes the gRPC connection. It does not stop the daemon; it may be
// called more than once.
func (d *Daemon) Close() error {
	var err error
	d.closeOnce.Do(func() {
		if d.conn != nil {
			err = d.conn.Close()
		}
	})
	return err
}

// SendFile makes one SendFile call on c: head (a SendRequest with media but
// no bytes), then data in chunks of chunk bytes, then the answer. A daemon
// that ends the call early (a refusal) gives its status.
func SendFile(ctx context.Context, c wapoolv1.SessionServiceClient, head *wapoolv1.SendRequest, data []byte, chunk int) (*wapoolv1.Message, error) {
	stream, err := c.SendFile(ctx)
	if err != nil {
		return nil, err
	}
	err = stream.Send(&wapoolv1.SendFileRequest{Part: &wapoolv1.SendFileRequest_Header{Header: head}})
	for len(data) > 0 && err == nil {
		n := min(chunk, len(data))
		err = stream.Send(&wapoolv1.SendFileRequest{Part: &wapoolv1.SendFileRequest_Chunk{Chunk: data[:n]}})
		data = data[n:]
	}
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: the daemon ended the call; its status follows
		return nil, err
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetMessage(), err
}
