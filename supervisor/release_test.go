package supervisor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wapool/wapool/browserpool"
)

// forcedStopLauncher launches fake browsers whose stop ladder has to kill
// them (a Chrome that answers neither Browser.close nor SIGINT).
type forcedStopLauncher struct{ *fakeLauncher }

func (l forcedStopLauncher) Launch(ctx context.Context, spec LaunchSpec) (Browser, error) {
	b, err := l.fakeLauncher.Launch(ctx, spec)
	if err != nil {
		return nil, err
	}
	return forcedStop{b}, nil
}

type forcedStop struct{ Browser }

func (b forcedStop) Stop(ctx context.Context) error {
	_ = b.Browser.Stop(ctx)
	return fmt.Errorf("fake: %w", browserpool.ErrStopForced)
}

// A Release whose browser had to be killed reports that the profile is not
// at rest, so that the cluster uploads no snapshot of it; one closed
// gracefully reports nothing.
func TestReleaseAfterForcedStopIsNotAtRest(t *testing.T) {
	for _, forced := range []bool{false, true} {
		t.Run(fmt.Sprint("forced=", forced), func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				cfg := fakeConfig()
				cfg.Placement = &fakePlacement{}
				fl := &fakeLauncher{wa: newFakeWA()}
				var l Launcher = fl
				if forced {
					l = forcedStopLauncher{fl}
				}
				store := linkedStore(t, "t1")
				cfg.Store, cfg.TargetURL, cfg.Launcher, cfg.Log = store, "http://fake.invalid", l, zaptest.NewLogger(t)
				sup, stop := runSupervisor(t, cfg)
				defer stop()
				if err := sup.Start(context.Background(), "t1"); err != nil {
					t.Fatal(err)
				}
				for {
					ss, err := sup.Status(context.Background(), "t1")
					if err == nil && ss.State == StateReady {
						break
					}
					time.Sleep(10 * time.Millisecond) // the fake clock: READY comes at once
				}
				err := sup.Release(context.Background(), "t1")
				if forced && (!errors.Is(err, ErrNotAtRest) || !errors.Is(err, browserpool.ErrStopForced)) {
					t.Errorf("Release after a forced stop = %v, want ErrNotAtRest wrapping ErrStopForced", err)
				}
				if !forced && err != nil {
					t.Errorf("Release after a graceful close = %v, want nil", err)
				}
			})
		})
	}
}

// Start on a node whose lease on the tenant may have lapsed starts nothing:
// no second browser on a WhatsApp device another node may run.
func TestStartRefusedWithoutTheLease(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := fakeConfig()
		cfg.Placement = &fakePlacement{holds: func() bool { return false }}
		s := newFakeStack(t, cfg)
		if err := s.sup.Start(context.Background(), "t1"); !errors.Is(err, ErrNotHolder) {
			t.Errorf("Start without the lease = %v, want ErrNotHolder", err)
		}
		if len(s.sup.Running()) != 0 || s.l.launches != 0 {
			t.Errorf("running %v after %d launches, want none", s.sup.Running(), s.l.launches)
		}
	})
}
