package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// daemon is one bin/wapoold process (wapooldtest's harness) on
// 127.0.0.1:0 with pacing off, JSON logs and no metrics listener, and a
// gRPC client of it. The bench dies, the daemon dies (Pdeathsig), and its
// Chromes with it by their own Pdeathsig.
type daemon struct {
	*wapooldtest.Daemon
	dataDir string
	client  wapoolv1.SessionServiceClient
	log     *logSink
}

// startDaemon starts bin/wapoold on dataDir against the site and waits until
// it logs its address.
func startDaemon(ctx context.Context, e *env, dataDir string, extra ...string) (*daemon, error) {
	sink := &logSink{}
	h, err := wapooldtest.Start(ctx, wapooldtest.Options{
		Bin: filepath.Join(e.bin, "wapoold"),
		Args: append([]string{
			"--data-dir", dataDir, "--target-url", e.site.URL,
			"--chromium", e.chromium, "--send-interval", "0", "--send-jitter", "0",
			"--metrics-addr", "", "--log-format", "json",
		}, extra...),
		Log: sink,
	})
	if err != nil {
		return nil, err
	}
	return &daemon{Daemon: h, dataDir: dataDir, client: h.Client(), log: sink}, nil
}

// stop sends SIGTERM and waits up to 30 s (the daemon's own bound is 20 s),
// then SIGKILL; it returns how the daemon ended. It is safe to call more
// than once.
func (d *daemon) stop() error {
	d.Close()
	if _, err := d.Stop(30 * time.Second); err != nil {
		return err
	}
	return d.ExitErr()
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

// logSink is the daemon's Options.Log: it parses each JSON line. The
// harness writes whole lines from one goroutine; the mutex guards records
// against the readers.
type logSink struct {
	mu      sync.Mutex
	records []logRecord
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for line := range bytes.Lines(p) {
		s.parseLocked(line)
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
	_, err := d.Link(ctx, tenant, func(code string) error { return s.Scan(code, phone) })
	return err
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
