package browserpool

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestCPUMeterSeesLoad: the busy share rises while every CPU spins.
func TestCPUMeterSeesLoad(t *testing.T) {
	m := &CPUMeter{MinInterval: time.Nanosecond}
	if _, err := m.Busy(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for ctx.Err() == nil {
			}
		})
	}
	var busy float64
	deadline := time.Now().Add(10 * time.Second)
	for busy < 0.8 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // the interval the meter measures over
		var err error
		if busy, err = m.Busy(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	if busy < 0.8 {
		t.Errorf("busy %.2f with every CPU spinning, want ≥ 0.8", busy)
	}
	if busy > 1 {
		t.Errorf("busy %.2f > 1", busy)
	}
}
