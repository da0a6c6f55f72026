package fakewa_test

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// inOwnGroup starts Chromium in a process group of its own, so that a test
// can kill the browser with all its children at once. It replaces chromedp's
// Linux setup, so it sets Pdeathsig itself.
var inOwnGroup = chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
})

// TestBrowserLoginSurvivesKill checks fact 16: the page keeps its login in
// IndexedDB and shows #pane-side only once the write has completed, so a
// browser SIGKILLed at once after the link comes back linked on the same
// profile. (A login kept in localStorage is lost by such a kill: Chromium
// commits localStorage seconds late.)
func TestBrowserLoginSurvivesKill(t *testing.T) {
	fake, base := newFake(t, fastOptions())
	profile := t.TempDir()

	b := startBrowser(t, profile, inOwnGroup)
	proc := chromedp.FromContext(b.ctx).Browser.Process()
	if proc == nil {
		t.Fatal("no browser process")
	}
	b.nav(base + "/")
	code := b.wait("QR code", qrJS, 10*time.Second)
	if err := fake.Scan(code, phoneA); err != nil {
		t.Fatalf("scan: %v", err)
	}
	b.wait("#pane-side", paneSideJS, 5*time.Second)
	shown := time.Now()
	if err := syscall.Kill(-proc.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the browser's process group: %v", err)
	}
	if d := time.Since(shown); d > time.Second {
		t.Fatalf("the kill came %v after #pane-side, want under 1s", d)
	}
	b.close()
	waitUntil(t, "the killed browser's process group to end", 10*time.Second, func() bool {
		return errors.Is(syscall.Kill(-proc.Pid, 0), syscall.ESRCH)
	})

	b = startBrowser(t, profile, inOwnGroup)
	b.nav(base + "/")
	b.wait("#pane-side with no scan", `document.querySelector('#pane-side') ? 'yes' : (document.querySelector('canvas[aria-label]') ? 'qr' : '')`, 10*time.Second)
	if v := b.mustEval(paneSideJS); v != "yes" {
		t.Fatal("the restarted browser shows the landing: the login was lost by the kill")
	}
}
