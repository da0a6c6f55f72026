package e2e

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Exactly once on a page whose editor goes live late (DESIGN.md fact 17 and
// "Sends: exactly once").

// TestSameTextAlternatingLateEditor: four rounds of the same text to A
// alternating with another text to B. Every chat open meets a late editor;
// all 4 + 4 arrive, and A's four messages have four distinct WhatsApp ids.
func TestSameTextAlternatingLateEditor(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStackWith(t, lateEditor())
	link(t, d, f, "shop", accountA)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const same = "Your code is 1234"
	var ids []string
	for i := range 4 {
		m, err := send(ctx, d, "shop", contact1, same)
		if err != nil {
			t.Fatalf("round %d, A: %v", i, err)
		}
		if m.State != wapoolv1.MessageState_MESSAGE_STATE_SENT {
			t.Fatalf("round %d, A: %v", i, m)
		}
		ids = append(ids, m.WaMessageId)
		if _, err := send(ctx, d, "shop", contact2, "other"); err != nil {
			t.Fatalf("round %d, B: %v", i, err)
		}
	}
	if got := received(f, accountA, contact1); !slices.Equal(got, []string{same, same, same, same}) {
		t.Errorf("A received %q, want the text 4 times", got)
	}
	if got := received(f, accountA, contact2); !slices.Equal(got, []string{"other", "other", "other", "other"}) {
		t.Errorf("B received %q, want 4 times", got)
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != 4 {
		t.Errorf("A's WhatsApp ids %q: want 4 distinct", ids)
	}
}

// TestIdenticalTextsAcceptedBeforeDaemonKill: six identical texts accepted
// (WAIT_ACCEPTED) just before a SIGKILL of the daemon all arrive once after
// the restart, whatever each one's phase was at the kill.
func TestIdenticalTextsAcceptedBeforeDaemonKill(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStackWith(t, lateEditor())
	link(t, d, f, "shop", accountA)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const same = "Your order has shipped"
	var ids []string
	for range 6 {
		resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{TenantId: "shop", To: contact1, Text: same, Wait: wapoolv1.Wait_WAIT_ACCEPTED})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.Message.Id)
	}
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	waitNoBrowsers(t, d.dataDir, 10*time.Second)
	d2 := startDaemon(t, d.opts)
	waIDs := map[string]bool{}
	for _, id := range ids {
		waitFor(t, "message "+id+" SENT", 90*time.Second, func() bool {
			r, err := d2.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: id})
			if err == nil && r.Message.State == wapoolv1.MessageState_MESSAGE_STATE_FAILED {
				t.Fatalf("message %s FAILED: %s", id, r.Message.Error)
			}
			if err == nil && r.Message.State == wapoolv1.MessageState_MESSAGE_STATE_SENT {
				waIDs[r.Message.WaMessageId] = true
				return true
			}
			return false
		})
	}
	got := received(f, accountA, contact1)
	if len(got) != 6 {
		t.Errorf("fakewa received the text %d times, want 6", len(got))
	}
	if len(waIDs) != 6 {
		t.Errorf("%d distinct WhatsApp ids for 6 messages: %v", len(waIDs), waIDs)
	}
}

// TestKillsRightAfterLink: a browser SIGKILL and a daemon SIGKILL, each
// within a second of the linked event, both come back READY with no Link
// (the login lives in IndexedDB, fact 16).
func TestKillsRightAfterLink(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	t.Run("browser", func(t *testing.T) {
		f, d := startStack(t)
		link(t, d, f, "shop", accountA)
		linked := time.Now()
		s := sessionStatus(t, d, "shop")
		if s.Browser.GetPid() == 0 {
			t.Fatal("no browser pid")
		}
		if err := syscall.Kill(-int(s.Browser.GetPid()), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if since := time.Since(linked); since > time.Second {
			t.Logf("the kill came %v after the link (the test machine is slow)", since)
		}
		waitFor(t, "the restart", 60*time.Second, func() bool {
			s := sessionStatus(t, d, "shop")
			return s.Browser.GetRestarts() > 0 && s.State == wapoolv1.SessionState_SESSION_STATE_READY
		})
		sendOnce(t, d, f, "after the browser kill")
	})
	t.Run("daemon", func(t *testing.T) {
		f, d := startStack(t)
		link(t, d, f, "shop", accountA)
		if err := d.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-d.exited
		waitNoBrowsers(t, d.dataDir, 10*time.Second)
		d2 := startDaemon(t, d.opts)
		s := waitState(t, d2, "shop", wapoolv1.SessionState_SESSION_STATE_READY, 60*time.Second)
		if !s.Linked || s.Phone != accountA {
			t.Errorf("after the daemon kill: %v", s)
		}
		sendOnce(t, d2, f, "after the daemon kill")
	})
}

// sendOnce sends text to contact1 and checks that fakewa received it once.
func sendOnce(t *testing.T, d *daemon, f *fake, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := send(ctx, d, "shop", contact1, text); err != nil {
		t.Fatal(err)
	}
	if got := received(f, accountA, contact1); !slices.Equal(got, []string{text}) {
		t.Errorf("fakewa received %s, want %q once", fmt.Sprintf("%q", got), text)
	}
}
