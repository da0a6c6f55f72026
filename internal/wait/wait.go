// Package wait holds the two ways wapool waits for time to pass: Sleep,
// which a context cuts short, and Until, which polls a condition up to a
// timeout (tests and tools that watch a process from outside).
//
// Both use the time package's clock, so under testing/synctest they wait
// on the bubble's fake clock.
package wait

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimeout is wrapped by the error of Until when the condition did not
// hold in time.
var ErrTimeout = errors.New("timed out")

// Sleep waits d, or until ctx ends: then it returns ctx.Err(). A d of zero
// or less returns nil at once, or ctx.Err() if ctx has ended too (either
// may win).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Until calls cond at once and after each sleep of `every` until it
// returns true (then nil). When cond is false at a moment more than
// timeout after the call, it gives up with an error wrapping ErrTimeout:
// "timed out after <timeout>".
func Until(timeout, every time.Duration, cond func() bool) error {
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			return fmt.Errorf("%w after %v", ErrTimeout, timeout)
		}
		time.Sleep(every)
	}
	return nil
}
