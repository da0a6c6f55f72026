package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// A relay whose subscription overflowed resumes from the last event it
// handed on: every message finished meanwhile still reaches the Send calls
// waiting for it on this node.
func TestRelayResumesAfterOverflow(t *testing.T) {
	defer func(b int) { relayBuffer = b }(relayBuffer)
	relayBuffer = 4
	st, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := &signalLog{Store: st, subscribed: make(chan struct{}, 1)}
	db := newFakeDB(t.TempDir())
	n, err := New(Config{NodeID: "a", AdvertiseAddr: "a:7440", Store: db.store("a"), Snapshots: newFakeSnapshots(),
		LeaseTTL: testTTL, Events: log})
	if err != nil {
		t.Fatal(err)
	}
	sup := newFakeRunner()
	finished := make(chan supervisor.Message)
	sup.finished = finished
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx, sup) }()
	defer func() { cancel(); <-done }()

	enqueue := func(i int) {
		t.Helper()
		if _, _, err := log.Enqueue(sessionstore.Message{TenantID: "t0", To: "15550001111", Text: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	fail := func() {
		t.Helper()
		ms, err := log.FailPending("t0", "TEST", "failed by the test")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			want[m.ID] = true
		}
	}
	<-log.subscribed
	// The first message finished holds the relay up in MessageFinished
	// (nobody receives yet); 10 more finish meanwhile, 22 events in all:
	// its buffer of 4 overflows.
	enqueue(0)
	fail()
	for i := 1; i <= 10; i++ {
		enqueue(i)
	}
	fail()
	for left := len(want); left > 0; {
		select {
		case m := <-finished:
			if want[m.ID] {
				want[m.ID] = false
			}
		case <-time.After(5 * time.Second):
			var missing []string
			for id, w := range want {
				if w {
					missing = append(missing, id)
				}
			}
			t.Fatalf("%d finished messages never reached MessageFinished after the overflow: %v", len(missing), missing)
		}
		left = 0
		for _, w := range want {
			if w {
				left++
			}
		}
	}
}

// signalLog is the event log, telling when the relay subscribes.
type signalLog struct {
	*sessionstore.Store
	subscribed chan struct{}
}

func (l *signalLog) SubscribeEvents(buffer int, match func(*sessionstore.Event) bool) *sessionstore.EventSubscription {
	sub := l.Store.SubscribeEvents(buffer, match)
	select {
	case l.subscribed <- struct{}{}:
	default:
	}
	return sub
}
