package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/sessionstore"
)

// TestRetriedKeySendsOnce: a retry with the same key returns the same
// message and sends nothing more; another text under the key is refused.
func TestRetriedKeySendsOnce(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	s.link("t1", phoneA)
	ctx := context.Background()
	req := SendRequest{TenantID: "t1", To: contactA, Text: "order 1 shipped", IdempotencyKey: "order-1"}
	m1, err := s.sup.Send(ctx, req)
	if err != nil || m1.State != MessageSent {
		t.Fatalf("first: %+v, %v", m1, err)
	}
	m2, err := s.sup.Send(ctx, req)
	if err != nil || m2.ID != m1.ID || m2.WAMessageID != m1.WAMessageID || m2.State != MessageSent {
		t.Fatalf("retry: %+v, %v; want the first message %s", m2, err, m1.ID)
	}
	req.Text = "order 1 cancelled"
	if _, err := s.sup.Send(ctx, req); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other text: %v", err)
	}
	if got := s.received(phoneA); len(got) != 1 {
		t.Fatalf("fakewa got %q, want one message", got)
	}
}

// TestConcurrentDuplicatesSendOnce: retries racing the first attempt wait
// for its result.
func TestConcurrentDuplicatesSendOnce(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	s.link("t1", phoneA)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: contactA, Text: "once", IdempotencyKey: "k"})
			if err != nil || m.State != MessageSent {
				t.Errorf("send: %+v, %v", m, err)
			}
			ids <- m.ID
		})
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("duplicates got different messages: %s and %s", first, id)
		}
	}
	if got := s.received(phoneA); len(got) != 1 {
		t.Fatalf("fakewa got %q, want one message", got)
	}
}

// TestQueueFullAndPacing: with pacing holding the queue, the bound gives
// ErrQueueFull, and the queued messages go out later, in order, paced.
func TestQueueFullAndPacing(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{SendInterval: 1500 * time.Millisecond},
		func(o *sessionstore.Options) { o.QueueLimit = 3 })
	s.link("t1", phoneA)
	s.sendOK("t1", contactA, "m0") // starts the pacing interval
	ctx := context.Background()
	var queued []Message
	for i := 1; i <= 3; i++ {
		m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: contactA, Text: fmt.Sprintf("m%d", i), WaitAccepted: true})
		if err != nil || m.State != MessageQueued {
			t.Fatalf("accept m%d: %+v, %v", i, m, err)
		}
		queued = append(queued, m)
	}
	if _, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: contactA, Text: "one too many", WaitAccepted: true}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("past the bound: %v, want ErrQueueFull", err)
	}
	for _, m := range queued {
		waitFor(t, m.Text+" SENT", 20*time.Second, func() bool {
			got, _ := s.sup.GetMessage(ctx, "t1", m.ID)
			return got.State == MessageSent
		})
	}
	msgs := s.fake.Messages(phoneA)
	if len(msgs) != 4 {
		t.Fatalf("fakewa got %d messages, want 4", len(msgs))
	}
	for i, m := range msgs {
		if m.Text != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d is %q: out of order", i, m.Text)
		}
		if i > 0 {
			if gap := m.At.Sub(msgs[i-1].At); gap < 1400*time.Millisecond {
				t.Errorf("m%d came %v after m%d, less than the 1.5 s pacing", i, gap, i-1)
			}
		}
	}
}

// TestWaitSentDeadlineLeavesQueued: the caller's deadline ends the wait, not
// the message.
func TestWaitSentDeadlineLeavesQueued(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{SendInterval: 2 * time.Second})
	s.link("t1", phoneA)
	s.sendOK("t1", contactA, "first")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: contactA, Text: "second"})
	if !errors.Is(err, context.DeadlineExceeded) || m.ID == "" || m.State != MessageQueued {
		t.Fatalf("send on a short deadline: %+v, %v", m, err)
	}
	waitFor(t, "the message SENT later", 20*time.Second, func() bool {
		got, _ := s.sup.GetMessage(context.Background(), "t1", m.ID)
		return got.State == MessageSent
	})
}
