package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// startTimeout bounds the wait for a started wapoold to log its address.
const startTimeout = 30 * time.Second

// exitTimeout bounds the wait for a SIGKILLed wapoold to be reaped.
const exitTimeout = 15 * time.Second

// daemon is the current wapoold of the soak. Its mutex guards cur and
// starts; the chaos loop and the main goroutine start, kill or stop the
// process, producers only take its client.
type daemon struct {
	bin     string   // the wapoold binary
	args    []string // its flags; the data dir stays the same across restarts
	logFile *os.File // every run's stderr, appended

	mu sync.Mutex
	// cur is the latest process, also after a SIGKILL until the next start
	// replaces it: clients then see what a real client sees, UNAVAILABLE.
	// nil before the first start and after stop.
	cur    *proc
	starts int // processes started so far
}

// proc is one wapoold process.
type proc struct {
	cmd     *exec.Cmd
	addr    string
	conn    *grpc.ClientConn
	client  wapoolv1.SessionServiceClient
	exited  chan struct{} // closed once the process has exited and its log is read
	exitErr error         // valid after exited is closed
}

// client returns the latest daemon's client (it fails while that daemon is
// dead), or nil before the first start and after stop.
func (d *daemon) client() wapoolv1.SessionServiceClient {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		return nil
	}
	return d.cur.client
}

// latest returns the latest process, or nil.
func (d *daemon) latest() *proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// running says whether the process still runs.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// start runs a new wapoold and waits until it logs "wapoold serving"; then
// it replaces the latest process, which must have exited.
func (d *daemon) start() error {
	d.mu.Lock()
	if d.cur != nil && d.cur.running() {
		d.mu.Unlock()
		return errors.New("start: a wapoold still runs")
	}
	d.starts++
	n := d.starts
	d.mu.Unlock()

	fmt.Fprintf(d.logFile, "{\"msg\":\"soak: wapoold start #%d\",\"ts\":%q}\n", n, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(d.bin, d.args...)
	cmd.Env = append(os.Environ(), "WAPOOL_LISTEN=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		copyLog(stderr, d.logFile, addrc)
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-addrc:
	case <-p.exited:
		return fmt.Errorf("wapoold start #%d exited at once: %v (see wapoold.log)", n, p.exitErr)
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("wapoold start #%d did not log its address within %v", n, startTimeout)
	}
	p.conn, err = grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		_ = cmd.Process.Kill()
		<-p.exited
		return err
	}
	p.client = wapoolv1.NewSessionServiceClient(p.conn)
	d.mu.Lock()
	old := d.cur
	d.cur = p
	d.mu.Unlock()
	if old != nil {
		old.conn.Close()
	}
	return nil
}

// copyLog copies wapoold's stderr to w until EOF and sends the address of
// the "wapoold serving" line to addrc once.
func copyLog(r io.Reader, w io.Writer, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	found := false
	for sc.Scan() {
		line := sc.Bytes()
		fmt.Fprintf(w, "%s\n", line)
		if found {
			continue
		}
		var rec struct {
			Msg    string `json:"msg"`
			Listen string `json:"listen"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "wapoold serving" && rec.Listen != "" {
			addrc <- rec.Listen
			found = true
		}
	}
	_, _ = io.Copy(w, r) // a line too long for the scanner: keep the rest
}

// take detaches the latest process from the holder.
func (d *daemon) take() *proc {
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
	if p == nil || !p.running() {
		return errors.New("kill: no wapoold runs")
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(exitTimeout):
		// The process is dead; something else holds its stderr open.
		return fmt.Errorf("wapoold pid %d: its log did not end within %v of SIGKILL", p.cmd.Process.Pid, exitTimeout)
	}
}

// stop SIGTERMs the latest daemon and returns its exit code; it SIGKILLs it
// and fails when it does not exit within timeout. Producers see no client
// from then on.
func (d *daemon) stop(timeout time.Duration) (int, error) {
	p := d.take()
	if p == nil {
		return -1, errors.New("stop: no wapoold was started")
	}
	defer p.conn.Close()
	if !p.running() {
		return -1, fmt.Errorf("stop: wapoold had already exited: %v", p.exitErr)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return -1, fmt.Errorf("wapoold did not exit within %v of SIGTERM", timeout)
	}
	var ee *exec.ExitError
	if errors.As(p.exitErr, &ee) {
		return ee.ExitCode(), nil
	}
	if p.exitErr != nil {
		return -1, p.exitErr
	}
	return 0, nil
}
