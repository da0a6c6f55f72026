package supervisor

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// A store that stops answering while messages wait (PostgreSQL restarting)
// is read again about once a second, not in a loop: the soak saw a thousand
// "reading the outbox" errors in the five seconds of a restart.
func TestOutboxReadFailureBacksOff(t *testing.T) {
	bubble(t, func(t *testing.T) {
		var reads atomic.Int64 // the runner's goroutine logs, the test reads
		count := zap.Hooks(func(e zapcore.Entry) error {
			if e.Message == "reading the outbox" {
				if reads.Add(1) > 100 {
					time.Sleep(100 * time.Millisecond) // a spinning loop lets fake time go on
				}
			}
			return nil
		})
		cfg := fakeConfig()
		cfg.SendInterval = 30 * time.Second // the second message waits: Queued is 1
		cfg.Log = zaptest.NewLogger(t, zaptest.WrapOptions(count))
		s := newFakeStack(t, cfg)
		s.send("15550002222", "first")
		second := s.accept("15550002222", "second")
		if second.State != MessageQueued {
			t.Fatalf("second message %s, want QUEUED behind the pacing", second.State)
		}
		synctest.Wait()
		if st, err := s.sup.Status(t.Context(), "t1"); err != nil || st.Queued != 1 || st.State != StateReady {
			t.Fatalf("Status %+v, %v; want READY with 1 queued", st, err)
		}
		s.store.Close() // every read fails from now on
		time.Sleep(30 * time.Second)
		synctest.Wait()
		before := reads.Load()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := reads.Load() - before; n < 5 || n > 12 {
			t.Errorf("%d failed reads of the outbox in 10 s, want about one a second", n)
		}
	})
}
