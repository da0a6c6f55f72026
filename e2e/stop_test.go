package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestStopWithSendInFlight: a SIGTERM while a send waits for its ack ends
// the daemon with exit 0 inside --stop-timeout (the send's grace and the
// browsers' graceful stop fit in it), with the profile closed cleanly (no
// Chrome lock files left, no Chrome running). After a restart the message
// is found sent: it arrives once.
func TestStopWithSendInFlight(t *testing.T) {
	f, d := startStack(t, "--stop-timeout", "20s")
	link(t, d, f, "shop", accountA)
	f.SetOptions(func(o *fakewa.Options) { o.AckDelay = 10 * time.Second }) // longer than the send grace (0.3 × 16 s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{TenantId: "shop", To: contact1, Text: "in flight", Wait: wapoolv1.Wait_WAIT_ACCEPTED})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message clicked and on its way", 30*time.Second, func() bool {
		return slices.Contains(received(f, accountA, contact1), "in flight")
	})
	start := time.Now()
	if code := d.stop(t, syscall.SIGTERM, 25*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	t.Logf("stopped in %v", time.Since(start))
	profile := filepath.Join(d.dataDir, "profiles", "shop")
	for _, name := range []string{"SingletonLock", "SingletonSocket", "SingletonCookie"} {
		if _, err := os.Lstat(filepath.Join(profile, name)); err == nil {
			t.Errorf("%s left in the profile: Chrome was not closed gracefully", name)
		}
	}
	waitNoBrowsers(t, d.dataDir, 5*time.Second)

	f.SetOptions(func(o *fakewa.Options) { o.AckDelay = 100 * time.Millisecond })
	d2 := startDaemon(t, d.opts)
	waitFor(t, "the message SENT after the restart", 60*time.Second, func() bool {
		r, err := d2.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: resp.Message.Id})
		return err == nil && r.Message.State == wapoolv1.MessageState_MESSAGE_STATE_SENT
	})
	if got := received(f, accountA, contact1); !slices.Equal(got, []string{"in flight"}) {
		t.Errorf("fakewa received %q, want the message once", got)
	}
}
