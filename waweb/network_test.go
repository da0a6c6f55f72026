package waweb_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/waweb"
)

// TestIdlePageSendsNoNetworkEvents: once the app is open, the page's own
// requests (fakewa's page polls its server about every second) reach the
// driver as no Network events; a later navigation still loads.
func TestIdlePageSendsNoNetworkEvents(t *testing.T) {
	e := newEnv(t, fakewa.Options{}, waweb.DefaultSelectors())
	e.link(t, account)
	var events atomic.Int32
	if err := chromedp.Listen(e.tab, func(ev any) {
		if strings.HasPrefix(typeName(ev), "*network.") {
			events.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if n := events.Load(); n != 0 {
		t.Fatalf("%d Network events in 3 s of an idle page, want none", n)
	}
	ctx := ctxFor(t, 30*time.Second)
	if err := e.page.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := e.page.WaitBooted(ctx); err != nil || st != waweb.StateMain {
		t.Fatalf("WaitBooted after a second Open = %s, %v; want main", st, err)
	}
	before := events.Load()
	time.Sleep(3 * time.Second)
	if n := events.Load() - before; n != 0 {
		t.Fatalf("%d Network events in 3 s after a second Open, want none", n)
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
