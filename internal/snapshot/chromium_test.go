package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/internal/chromiumtest"
)

// runChromium starts Chromium headless on the profile dir at about:blank
// (nothing reaches the network), waits until it has set up the profile (its
// HTTP cache dir and Local State exist), and closes it gracefully with
// SIGINT, as the daemon's stop ladder does when DevTools does not answer.
// Not SIGTERM: measured on Chromium 156, SIGTERM exits at once and leaves
// the Singleton* links and a half-written ".org.chromium.Chromium.*" temp
// file in place of "Network Persistent State"; SIGINT runs the graceful
// shutdown that writes Preferences and removes the Singleton* links.
func runChromium(tb testing.TB, dir string) {
	tb.Helper()
	bin := chromiumtest.Path(tb)
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--no-first-run", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update",
		"--user-data-dir="+dir, "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	reaped := false
	// Whatever happens, no process of this browser outlives the test, nor
	// the goroutine that waits for it.
	defer func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if !reaped {
			<-done
		}
	}()

	ready := func() bool {
		for _, p := range []string{"Local State", "Default/Cache"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case err := <-done:
			reaped = true
			tb.Fatalf("chromium exited before it set up the profile: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatal("chromium did not set up the profile within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // let it finish starting up

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-done:
		reaped = true
		if err != nil {
			tb.Fatalf("chromium exited with %v after SIGINT", err)
		}
	case <-time.After(30 * time.Second):
		tb.Fatal("chromium still runs 30s after SIGINT")
	}
	// Its children follow the browser process out.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatal("chromium's children still run 10s after it exited")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChromiumProfile: a profile that real Chromium wrote and closed
// gracefully keeps its state and loses its caches through Save and Restore,
// and Chromium starts and stops cleanly on the restored profile.
func TestChromiumProfile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	runChromium(t, src)
	for _, p := range []string{"Local State", "Default/Preferences", "Default/Cache", "Default/Code Cache", "Default/GPUCache"} {
		if _, err := os.Stat(filepath.Join(src, p)); err != nil {
			t.Fatalf("chromium's profile has no %s: %v", p, err)
		}
	}
	s := openStore(t, (&url.URL{Scheme: "file", Path: t.TempDir(), RawQuery: "no_tmp_dir=true"}).String())
	saved, err := s.Save(t.Context(), "t1", src, r1)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := s.Restore(t.Context(), "t1", dst, r1); err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh profile: %d files, archive %d bytes", saved.Files, saved.Bytes)

	before, after := readTree(t, src), readTree(t, dst)
	for _, p := range []string{"Local State", "Default/Preferences"} {
		if after[p].data == "" || after[p].data != before[p].data {
			t.Errorf("%s: not restored as saved (%d bytes, was %d)", p, len(after[p].data), len(before[p].data))
		}
	}
	for name, n := range before {
		_, restored := after[name]
		switch want := !excluded(name) && (n.mode.IsRegular() || n.mode.IsDir()); {
		case want && !restored:
			t.Errorf("%s: missing after restore", name)
		case !want && restored:
			t.Errorf("%s: restored, but should have been left out", name)
		case want && n.mode.IsRegular() && after[name].data != n.data:
			t.Errorf("%s: contents differ after restore", name)
		}
	}
	for _, p := range []string{"Default/Cache", "Default/Code Cache", "Default/GPUCache", "GPUPersistentCache", "Default/DawnWebGPUCache"} {
		if _, ok := after[p]; ok {
			t.Errorf("%s: restored", p)
		}
	}

	// The restored profile is one Chromium runs on.
	runChromium(t, dst)
	if _, err := os.Stat(filepath.Join(dst, "Default", "Preferences")); err != nil {
		t.Errorf("after a run on the restored profile: %v", err)
	}
}

// openBrowser starts Chromium headless on the profile dir under chromedp and
// returns its tab. Closing it (closeBrowser) is graceful: Browser.close over
// DevTools, as the daemon's stop ladder starts.
func openBrowser(tb testing.TB, dir string) context.Context {
	tb.Helper()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumtest.Path(tb)), chromedp.UserDataDir(dir),
		chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("password-store", "basic"))
	ctx, cancelC := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancelC(); cancelA() }) // after closeBrowser: no-ops
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func closeBrowser(tb testing.TB, tab context.Context) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Cancel(ctx); err != nil {
		tb.Fatalf("close chromium: %v", err)
	}
}

// TestChromiumStateSurvives: what a page stored in IndexedDB (where WhatsApp
// Web keeps its login) and in localStorage is there again when Chromium
// starts on a profile restored from a snapshot, with the original profile
// gone.
func TestChromiumStateSurvives(t *testing.T) {
	page := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(page, []byte("<!doctype html><title>wapool</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()
	secret := fmt.Sprintf("login-%d", time.Now().UnixNano())
	const write = `new Promise((resolve, reject) => {
		localStorage.setItem('wapool', SECRET);
		const open = indexedDB.open('wapool', 1);
		open.onupgradeneeded = () => open.result.createObjectStore('keys');
		open.onerror = () => reject(open.error);
		open.onsuccess = () => {
			const tx = open.result.transaction('keys', 'readwrite', {durability: 'strict'});
			tx.objectStore('keys').put(SECRET, 'login');
			tx.oncomplete = () => { open.result.close(); resolve('ok'); };
			tx.onerror = () => reject(tx.error);
		};
	})`
	const read = `new Promise((resolve, reject) => {
		const open = indexedDB.open('wapool', 1);
		open.onupgradeneeded = () => open.result.createObjectStore('keys');
		open.onerror = () => reject(open.error);
		open.onsuccess = () => {
			const get = open.result.transaction('keys').objectStore('keys').get('login');
			get.onsuccess = () => resolve({idb: String(get.result), ls: String(localStorage.getItem('wapool'))});
			get.onerror = () => reject(get.error);
		};
	})`
	secretJS, _ := json.Marshal(secret)

	src := filepath.Join(t.TempDir(), "src")
	tab := openBrowser(t, src)
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	err := chromedp.Do(ctx, chromedp.Navigate(pageURL))
	var res string
	if err == nil {
		res, err = chromedp.Run(ctx, chromedp.Evaluate[string](strings.ReplaceAll(write, "SECRET", string(secretJS)), chromedp.EvalAwaitPromise))
	}
	cancel()
	if err != nil || res != "ok" {
		t.Fatalf("store in the page: %q, %v", res, err)
	}
	closeBrowser(t, tab)

	s := openStore(t, "mem://")
	if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := s.Restore(t.Context(), "t1", dst, r1); err != nil {
		t.Fatal(err)
	}

	tab = openBrowser(t, dst)
	ctx, cancel = context.WithTimeout(tab, 30*time.Second)
	err = chromedp.Do(ctx, chromedp.Navigate(pageURL))
	var got struct{ IDB, LS string }
	if err == nil {
		got, err = chromedp.Run(ctx, chromedp.Evaluate[struct{ IDB, LS string }](read, chromedp.EvalAwaitPromise))
	}
	cancel()
	closeBrowser(t, tab)
	if err != nil {
		t.Fatalf("read in the page: %v", err)
	}
	if got.IDB != secret || got.LS != secret {
		t.Errorf("after restore: IndexedDB %q, localStorage %q; want %q in both", got.IDB, got.LS, secret)
	}
}
