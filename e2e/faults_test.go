package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestDaemonKilledQueueSurvives: messages accepted (held by pacing) survive a
// SIGKILL of the daemon; its browsers die with it, nothing blocks the next
// start, and the queue goes out in order, once, without a Link.
func TestDaemonKilledQueueSurvives(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStack(t, "--send-interval", "1h")
	link(t, d, f, "shop", accountA)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := send(ctx, d, "shop", contact1, "m0"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 1; i <= 3; i++ {
		resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{TenantId: "shop", To: contact1, Text: fmt.Sprintf("m%d", i), Wait: wapoolv1.Wait_WAIT_ACCEPTED})
		if err != nil || resp.Message.State != wapoolv1.MessageState_MESSAGE_STATE_QUEUED {
			t.Fatalf("accept m%d: %v, %v", i, resp, err)
		}
		ids = append(ids, resp.Message.Id)
	}
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	waitNoBrowsers(t, d.dataDir, 5*time.Second) // Pdeathsig: no Chrome outlives its daemon

	opts := d.opts
	opts.args = append(append([]string{}, opts.args...), "--send-interval", "0")
	d2 := startDaemon(t, opts)
	waitState(t, d2, "shop", wapoolv1.SessionState_SESSION_STATE_READY, 60*time.Second)
	for _, id := range ids {
		waitFor(t, "message "+id+" SENT", 30*time.Second, func() bool {
			r, err := d2.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: id})
			return err == nil && r.Message.State == wapoolv1.MessageState_MESSAGE_STATE_SENT
		})
	}
	got := received(f, accountA, contact1)
	want := []string{"m0", "m1", "m2", "m3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("fakewa received %q, want %q (in order, once each)", got, want)
	}
}

// TestSecondDaemonOnSameProfiles: a second daemon pointed at profiles a
// first one runs refuses to touch them.
func TestSecondDaemonOnSameProfiles(t *testing.T) {
	f, d := startStack(t)
	link(t, d, f, "shop", accountA)
	profiles := filepath.Join(d.dataDir, "profiles")
	d2 := startDaemon(t, daemonOpts{args: append(append([]string{}, d.opts.args...), "--profiles-dir", profiles)})
	s := waitState(t, d2, "shop", wapoolv1.SessionState_SESSION_STATE_FAILED, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := send(ctx, d2, "shop", contact1, "hi")
	if status.Code(err) != codes.FailedPrecondition || reason(err) != "PROFILE_LOCKED" {
		t.Fatalf("send through the second daemon: %v (reason %q); status %v", err, reason(err), s)
	}
	// The first daemon still owns and uses the profile.
	if _, err := send(ctx, d, "shop", contact1, "still mine"); err != nil {
		t.Fatal(err)
	}
}

// TestAdoptOldLayout: a chrome_data/<user_id>/ profile linked by a plain
// Chromium run becomes a READY tenant without a Link.
func TestAdoptOldLayout(t *testing.T) {
	chrome := chromiumtest.Path(t)
	f := startFake(t, fakewa.FastOptions())
	chromeData := filepath.Join(t.TempDir(), "chrome_data")
	profile := filepath.Join(chromeData, "5")

	// The Selenium era: a plain browser on chrome_data/5, linked by a scan.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.UserDataDir(profile),
		chromedp.NoSandbox, chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserAgent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(f.url)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a QR code", 20*time.Second, func() bool { return len(f.QRCodes()) > 0 })
	if err := f.Scan(f.QRCodes()[0].Code, accountA); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the main screen", 20*time.Second, func() bool {
		ok, _ := chromedp.Run(bctx, chromedp.Evaluate[bool](`!!document.querySelector('#pane-side')`))
		return ok
	})
	if err := chromedp.Cancel(bctx); err != nil { // Browser.close: the profile keeps the login
		t.Fatal(err)
	}

	d := startDaemon(t, daemonOpts{args: []string{"--target-url", f.url, "--chromium", chrome, "--profiles-dir", chromeData, "--send-interval", "0"}})
	s := waitState(t, d, "5", wapoolv1.SessionState_SESSION_STATE_READY, 60*time.Second)
	if !s.Linked || s.Phone != accountA {
		t.Fatalf("adopted tenant: %v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := send(ctx, d, "5", contact1, "from the old profile"); err != nil {
		t.Fatal(err)
	}
	if code := d.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestLinkOnALockedProfileEnds: a Link on a tenant whose profile another
// daemon holds ends with PROFILE_LOCKED instead of waiting.
func TestLinkOnALockedProfileEnds(t *testing.T) {
	f, d := startStack(t)
	link(t, d, f, "shop", accountA)
	profiles := filepath.Join(d.dataDir, "profiles")
	d2 := startDaemon(t, daemonOpts{args: append(append([]string{}, d.opts.args...), "--profiles-dir", profiles)})
	waitState(t, d2, "shop", wapoolv1.SessionState_SESSION_STATE_FAILED, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := d2.client().Link(ctx, &wapoolv1.LinkRequest{TenantId: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.FailedPrecondition || reason(err) != "PROFILE_LOCKED" {
		t.Fatalf("Link on a locked profile: %v (reason %q)", err, reason(err))
	}
}
