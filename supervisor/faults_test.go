package supervisor

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
)

const (
	phoneA   = "15550001111"
	contactA = "15550002222"
)

func (s *stack) sendOK(tenant, to, text string) Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := s.sup.Send(ctx, SendRequest{TenantID: tenant, To: to, Text: text})
	if err != nil || m.State != MessageSent {
		s.t.Fatalf("send %q: %+v, %v", text, m, err)
	}
	return m
}

// readyAgain waits until the tenant is READY on a browser other than oldPID.
func (s *stack) readyAgain(tenant string, oldPID int, within time.Duration) Session {
	s.t.Helper()
	var ss Session
	waitFor(s.t, "READY on a new browser", within, func() bool {
		ss = s.status(tenant)
		return ss.State == StateReady && ss.PID != 0 && ss.PID != oldPID
	})
	return ss
}

// TestBrowserKilledWhileIdle: the death is noticed within 2 s and the tenant
// is READY again without a Link.
func TestBrowserKilledWhileIdle(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	s.link("t1", phoneA)
	before := s.status("t1")
	killed := time.Now()
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Noticed from the exit, not by the idle probe: sooner than its period.
	waitFor(t, "the death noticed", s.sup.cfg.ProbeInterval, func() bool { return s.status("t1").PID != before.PID })
	t.Logf("death noticed after %v", time.Since(killed))
	after := s.readyAgain("t1", before.PID, 30*time.Second)
	if after.Restarts != before.Restarts+1 || !strings.Contains(after.LastExit, "killed") {
		t.Fatalf("after a SIGKILL: restarts %d → %d, last exit %q", before.Restarts, after.Restarts, after.LastExit)
	}
	s.sendOK("t1", contactA, "after the crash")
	if got := s.received(phoneA); len(got) != 1 {
		t.Fatalf("fakewa got %q", got)
	}
}

// TestBrowserKilledDuringSend: the Send in flight completes once the browser
// is back, and the recipient gets it exactly once.
func TestBrowserKilledDuringSend(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	s.link("t1", phoneA)
	pid := s.status("t1").PID
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		m   Message
		err error
	}
	res := make(chan result, 1)
	go func() {
		m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: contactA, Text: "in flight"})
		res <- result{m, err}
	}()
	waitFor(t, "the message SENDING", 20*time.Second, func() bool {
		p, _ := s.store.Pending("t1")
		return len(p) == 1 && p[0].State == MessageSending
	})
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil && !errors.Is(r.err, ErrUnavailable) {
		t.Fatalf("interrupted send: %v (want SENT or a retryable error)", r.err)
	}
	waitFor(t, "the message SENT", 30*time.Second, func() bool {
		m, _ := s.store.GetMessage("t1", r.m.ID)
		return m.State == MessageSent
	})
	if got := s.received(phoneA); len(got) != 1 || got[0] != "in flight" {
		t.Fatalf("fakewa got %q, want the message exactly once", got)
	}
}

// TestCrashAfterClickBeforeAck: the browser dies after the click and before
// the server's ack; the retry finds the bubble and does not send again.
func TestCrashAfterClickBeforeAck(t *testing.T) {
	opts := fakewa.FastOptions()
	opts.AckDelay = 3 * time.Second
	s := newStack(t, opts, Config{})
	s.link("t1", phoneA)
	pid := s.status("t1").PID
	m, err := s.sup.Send(context.Background(), SendRequest{TenantID: "t1", To: contactA, Text: "exactly once", WaitAccepted: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fakewa to record the message", 20*time.Second, func() bool { return len(s.fake.Messages(phoneA)) == 1 })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var got Message
	waitFor(t, "the message SENT", 40*time.Second, func() bool {
		got, _ = s.store.GetMessage("t1", m.ID)
		return got.State == MessageSent
	})
	msgs := s.fake.Messages(phoneA)
	if len(msgs) != 1 {
		t.Fatalf("fakewa got %d copies, want 1", len(msgs))
	}
	if !strings.HasSuffix(got.WAMessageID, msgs[0].ID) {
		t.Fatalf("stored wa id %q does not name fakewa's message %q", got.WAMessageID, msgs[0].ID)
	}
}

// TestRendererKilled: a dead renderer is revived by navigating again.
func TestRendererKilled(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	s.link("t1", phoneA)
	r := s.sup.existingRunner("t1")
	var renderers []int
	if err := r.do(context.Background(), func() error { renderers = r.br.(chromeBrowser).RendererPIDs(); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(renderers) == 0 {
		t.Fatal("no renderer process found")
	}
	before := s.status("t1")
	for _, pid := range renderers {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	waitFor(t, "the crash noticed", 5*time.Second, func() bool { return s.status("t1").Restarts > before.Restarts })
	waitFor(t, "READY again", 30*time.Second, func() bool { return s.status("t1").State == StateReady })
	s.sendOK("t1", contactA, "after the renderer crash")
}

// TestHungPage: a page that stops answering while the tenant is idle is
// noticed within 10 s (the idle probe every 5 s, then its 1.5 s timeout;
// fakewa's page blocks at its next poll, 300 ms) and the browser is
// restarted. The probe before a page operation is tested without a
// browser: TestHungPageNoticedBeforeSend.
func TestHungPage(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	s.link("t1", phoneA)
	before := s.status("t1")
	s.fake.SetHang(true)
	hung := time.Now()
	waitFor(t, "the hang noticed", 10*time.Second, func() bool { return s.status("t1").State != StateReady })
	t.Logf("hang noticed after %v", time.Since(hung))
	s.fake.SetHang(false)
	s.readyAgain("t1", before.PID, 30*time.Second)
	s.sendOK("t1", contactA, "after the hang")
}
