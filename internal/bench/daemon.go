package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// daemon is one bin/wapoold process on 127.0.0.1:0 with pacing off, JSON
// logs and no metrics listener, and a gRPC connection to it.
type daemon struct {
	cmd       *exec.Cmd
	dataDir   string
	addr      string
	startedAt time.Time // just before the process was started
	conn      *grpc.ClientConn
	client    wapoolv1.SessionServiceClient
	log       *logSink
	exited    chan struct{} // closed once Wait returned; exitErr is set then
	exitErr   error
}

// startDaemon starts bin/wapoold on dataDir against the site and waits until
// it logs its address.
func startDaemon(ctx context.Context, e *env, dataDir string, extra ...string) (*daemon, error) {
	args := append([]string{
		"--listen", "127.0.0.1:0", "--data-dir", dataDir, "--target-url", e.site.URL,
		"--chromium", e.chromium, "--send-interval", "0", "--send-jitter", "0",
		"--metrics-addr", "", "--log-format", "json",
	}, extra...)
	cmd := exec.Command(filepath.Join(e.bin, "wapoold"), args...)
	cmd.Env = cleanEnv()
	sink := &logSink{addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = sink, sink
	// If the bench dies, so does the daemon (and its Chromes by their own
	// Pdeathsig).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	d := &daemon{cmd: cmd, dataDir: dataDir, log: sink, exited: make(chan struct{})}
	d.startedAt = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start wapoold: %w", err)
	}
	go func() { d.exitErr = cmd.Wait(); close(d.exited) }()
	select {
	case d.addr = <-sink.addr:
	case <-d.exited:
		return nil, fmt.Errorf("wapoold exited at start: %v\n%s", d.exitErr, sink.text())
	case <-time.After(30 * time.Second):
		d.kill()
		return nil, fmt.Errorf("wapoold did not log its address within 30 s\n%s", sink.text())
	case <-ctx.Done():
		d.kill()
		return nil, ctx.Err()
	}
	conn, err := grpc.NewClient(d.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		d.kill()
		return nil, err
	}
	d.conn, d.client = conn, wapoolv1.NewSessionServiceClient(conn)
	return d, nil
}

// cleanEnv is the bench's environment without WAPOOL_* variables, so that
// only the flags configure the daemon.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WAPOOL_") {
			out = append(out, kv)
		}
	}
	return out
}

// stop sends SIGTERM and waits up to 30 s (the daemon's own bound is 20 s),
// then SIGKILL. It is safe to call more than once.
func (d *daemon) stop() error {
	if d.conn != nil {
		d.conn.Close()
	}
	select {
	case <-d.exited:
		return d.exitErr
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return d.exitErr
	case <-time.After(30 * time.Second):
		d.kill()
		return errors.New("wapoold did not stop within 30 s of SIGTERM: killed")
	}
}

func (d *daemon) kill() {
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// logRecord is one JSON line of the daemon's log.
type logRecord struct {
	at     time.Time
	msg    string
	fields map[string]any
}

func (r logRecord) str(k string) string { s, _ := r.fields[k].(string); return s }

// dur reads a zap duration field (seconds as a float in JSON logs).
func (r logRecord) dur(k string) (time.Duration, bool) {
	f, ok := r.fields[k].(float64)
	return time.Duration(f * float64(time.Second)), ok
}

// logSink is the daemon's stdout and stderr: it keeps the text and parses
// each JSON line. os/exec writes from one goroutine; the mutex guards the
// fields that follow against the readers.
type logSink struct {
	addr chan string // receives the address once

	mu      sync.Mutex
	partial []byte
	all     bytes.Buffer
	records []logRecord
	sent    bool
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all.Write(p)
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.parseLocked(s.partial[:i])
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

func (s *logSink) parseLocked(line []byte) {
	var m map[string]any
	if json.Unmarshal(line, &m) != nil {
		return
	}
	ts, _ := m["ts"].(float64)
	sec, frac := math.Modf(ts)
	r := logRecord{at: time.Unix(int64(sec), int64(frac*1e9)), fields: m}
	r.msg, _ = m["msg"].(string)
	s.records = append(s.records, r)
	if r.msg == "wapoold serving" && !s.sent {
		if a := r.str("listen"); a != "" {
			s.addr <- a
			s.sent = true
		}
	}
}

// find returns the records with message msg (and, when tenant is not "",
// of that tenant) logged at or after since.
func (s *logSink) find(msg, tenant string, since time.Time) []logRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logRecord
	for _, r := range s.records {
		if r.msg == msg && (tenant == "" || r.str("tenant") == tenant) && !r.at.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// since returns the raw JSON of the tenant's records logged at or after t.
func (s *logSink) since(tenant string, t time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, r := range s.records {
		if r.str("tenant") == tenant && !r.at.Before(t) {
			j, _ := json.Marshal(r.fields)
			b.Write(j)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all.String()
}

// tookOf returns the in-daemon page time of a message (the "took" of its
// "sent" log line), waiting up to a second for the line.
func (d *daemon) tookOf(messageID string) (time.Duration, bool) {
	end := time.Now().Add(time.Second)
	for {
		for _, r := range d.log.find("sent", "", time.Time{}) {
			if r.str("message") == messageID {
				return r.dur("took")
			}
		}
		if time.Now().After(end) {
			return 0, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// link runs Link for tenant and scans the first QR code with phone through
// fakewa, until the stream says linked.
func (d *daemon) link(ctx context.Context, s *site, tenant, phone string) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	stream, err := d.client.Link(ctx, &wapoolv1.LinkRequest{TenantId: tenant})
	if err != nil {
		return fmt.Errorf("link %s: %w", tenant, err)
	}
	scanned := false
	for {
		ev, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("link %s: %w", tenant, err)
		}
		if qr := ev.GetQr(); qr != nil && !scanned {
			if err := s.Scan(qr.Code, phone); err != nil {
				return fmt.Errorf("link %s: scan: %w", tenant, err)
			}
			scanned = true
		}
		if l := ev.GetLinked(); l != nil {
			return nil
		}
	}
}

// status returns the tenant's session.
func (d *daemon) status(ctx context.Context, tenant string) (*wapoolv1.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := d.client.Status(ctx, &wapoolv1.StatusRequest{TenantId: tenant})
	if err != nil {
		return nil, err
	}
	return r.Session, nil
}

// send sends text to to and waits for SENT (the default wait).
func (d *daemon) send(ctx context.Context, tenant, to, text string) (*wapoolv1.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	r, err := d.client.Send(ctx, &wapoolv1.SendRequest{TenantId: tenant, To: to, Text: text})
	if err != nil {
		return nil, err
	}
	if r.Message.State != wapoolv1.MessageState_MESSAGE_STATE_SENT {
		return r.Message, fmt.Errorf("message %s is %v: %s", r.Message.Id, r.Message.State, r.Message.Error)
	}
	return r.Message, nil
}

// waitUntil polls cond every `every` until it holds, timeout passes, or ctx ends.
func waitUntil(ctx context.Context, timeout, every time.Duration, cond func() bool) error {
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return nil
}
