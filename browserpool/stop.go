package browserpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
)

// ErrStopForced: Stop had to SIGKILL the browser's process group (neither
// Browser.close nor SIGINT ended it in time). The browser is gone, but its
// profile was not closed gracefully: it may have lost its last writes, and
// is no consistent snapshot.
var ErrStopForced = errors.New("browserpool: browser killed, not closed gracefully")

// Stop ends the browser gracefully, with a ladder whose every rung waits at
// most Config.StopTimeout for the process to exit:
//
//  1. Browser.close over DevTools (chromedp.Cancel): Chrome saves its state
//     (cookies, local storage) and removes its Singleton* lock files;
//  2. SIGINT to the process group: the same shutdown from Chrome's signal
//     handler, for a browser that does not answer DevTools;
//  3. SIGKILL to the process group.
//
// Never SIGTERM: measured to lose the last cookies and leave the lock files.
// Stop is idempotent and safe to call concurrently and after the browser
// died on its own. Once the process has been reaped and no process of its
// group is left (Done is closed then) it returns nil after a graceful close
// (rung 1 or 2), or an error wrapping ErrStopForced when rung 3 was needed;
// ctx's error if ctx ends first — the ladder then goes on by itself and
// Done still closes.
func (b *Browser) Stop(ctx context.Context) error {
	b.stopOnce.Do(func() {
		b.stopping.Store(true)
		go b.stopLadder()
	})
	select {
	case <-b.stopDone:
		if b.stopErr != nil {
			return fmt.Errorf("browserpool: stop %q: %w", b.spec.ProfileDir, b.stopErr)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("browserpool: stop %q: %w", b.spec.ProfileDir, ctx.Err())
	}
}

// stopLadder runs the rungs of Stop. It returns after Done is closed and the
// goroutine of rung 1 has returned.
func (b *Browser) stopLadder() {
	defer close(b.stopDone)
	var wg sync.WaitGroup
	defer wg.Wait()

	// Rung 1. chromedp.Cancel marks the close as graceful (so the loss of the
	// DevTools pipe does not cancel the tab), sends Browser.close, and waits
	// for the process until its ctx ends; then it cancels the tab context,
	// which is rung 2 (cmd.Cancel sends SIGINT), and waits until the
	// process is reaped — which rung 3 guarantees.
	wg.Go(func() {
		cctx, cancel := context.WithTimeout(b.tab, b.stopTimeout)
		defer cancel()
		_ = chromedp.Cancel(cctx)
	})
	if b.waitDone(b.stopTimeout) {
		return
	}

	// Rung 2. Cancel the browser's root context: os/exec calls cmd.Cancel,
	// SIGINT to the group, exactly once (chromedp.Cancel may have done it a
	// moment ago through the same context).
	b.kill()
	if b.waitDone(b.stopTimeout) {
		return
	}

	// Rung 3. The main process may already be reaped while a child hangs;
	// the group is signaled only while it has a member (see reapGroup).
	b.stopErr = ErrStopForced
	if len(groupMembers(allStats(), b.pid)) > 0 {
		_ = signalGroup(b.pid, syscall.SIGKILL)
	}
	<-b.done
}

// waitDone waits up to d for Done and reports whether it closed.
func (b *Browser) waitDone(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.done:
		return true
	case <-t.C:
		return false
	}
}
