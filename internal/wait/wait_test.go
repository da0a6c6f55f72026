package wait

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(context.Background(), time.Minute); err != nil || time.Since(start) != time.Minute {
			t.Fatalf("Sleep: %v after %v, want nil after 1m", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if err := Sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Sleep under a 1s deadline: %v after %v, want the deadline after 1s", err, time.Since(start))
		}
	})
}

func TestUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		err := Until(time.Minute, 10*time.Second, func() bool { calls++; return calls == 3 })
		if err != nil || calls != 3 || time.Since(start) != 20*time.Second {
			t.Fatalf("Until: %v after %d calls and %v, want nil after 3 and 20s", err, calls, time.Since(start))
		}
		start, calls = time.Now(), 0
		err = Until(time.Minute, 10*time.Second, func() bool { calls++; return false })
		if !errors.Is(err, ErrTimeout) || err.Error() != "timed out after 1m0s" {
			t.Fatalf("Until of a condition that never holds: %v, want %q", err, "timed out after 1m0s")
		}
		// Calls at 0, 10s, …, 60s are not past the minute; the one at 70s is.
		if calls != 8 || time.Since(start) != 70*time.Second {
			t.Fatalf("gave up after %d calls and %v, want 8 and 70s", calls, time.Since(start))
		}
	})
}
