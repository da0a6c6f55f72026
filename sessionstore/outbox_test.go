package sessionstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

func msg(tenant, key, text string) sessionstore.Message {
	return sessionstore.Message{TenantID: tenant, To: "4915112345678", Text: text, IdempotencyKey: key}
}

func TestEnqueueStoresQueuedMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		in := msg("5", "", "hello")
		in.ID, in.State, in.Seq, in.Attempts = "forged", sessionstore.StateSent, 99, 3
		m, existed, err := s.Enqueue(in)
		if err != nil || existed {
			t.Fatalf("Enqueue = %v, existed=%v", err, existed)
		}
		if m.ID == "forged" || len(m.ID) != 24 || m.State != sessionstore.StateQueued || m.Seq != 1 || m.Attempts != 0 ||
			m.CreatedAt.IsZero() || !m.UpdatedAt.Equal(m.CreatedAt) || m.TenantID != "5" || m.Text != "hello" {
			t.Fatalf("Enqueue stored %+v", m)
		}
		got, err := s.GetMessage("5", m.ID)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("GetMessage = %+v, %v; want %+v", got, err, m)
		}
		if _, err := s.GetMessage("6", m.ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("GetMessage from another tenant: %v, want ErrNotFound", err)
		}
		if _, err := s.GetMessage("5", "nope"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("GetMessage of an unknown id: %v", err)
		}
		m2, _, _ := s.Enqueue(msg("5", "", "second"))
		if m2.ID <= m.ID || m2.Seq != 2 {
			t.Fatalf("second message id %q seq %d does not sort after %q", m2.ID, m2.Seq, m.ID)
		}

		for _, bad := range []sessionstore.Message{
			{TenantID: "5", To: "", Text: "x"},
			{TenantID: "5", To: "1", Text: ""},
			{TenantID: "5", To: "1", Text: "x", IdempotencyKey: string(make([]byte, sessionstore.MaxIdempotencyKeyLen+1))},
		} {
			if _, _, err := s.Enqueue(bad); !errors.Is(err, sessionstore.ErrInvalidMessage) {
				t.Errorf("Enqueue(%+v): %v, want ErrInvalidMessage", bad, err)
			}
		}
		if _, _, err := s.Enqueue(msg("../x", "", "x")); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
			t.Errorf("Enqueue for ../x: %v", err)
		}
	})
}

func TestIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{IdempotencyRetention: 24 * time.Hour})
		first, existed, err := s.Enqueue(msg("5", "order-1", "Your order shipped"))
		if err != nil || existed {
			t.Fatal(err, existed)
		}
		again, existed, err := s.Enqueue(msg("5", "order-1", "Your order shipped"))
		if err != nil || !existed || !reflect.DeepEqual(again, first) {
			t.Fatalf("retry = %+v, existed=%v, %v; want the first message", again, existed, err)
		}
		_, _, err = s.Enqueue(msg("5", "order-1", "Different text"))
		if !errors.Is(err, sessionstore.ErrIdempotencyKeyReused) {
			t.Fatalf("same key, other text: %v, want ErrIdempotencyKeyReused", err)
		}
		other := msg("5", "order-1", "Your order shipped")
		other.To = "4915199999999"
		if _, _, err := s.Enqueue(other); !errors.Is(err, sessionstore.ErrIdempotencyKeyReused) {
			t.Fatalf("same key, other recipient: %v, want ErrIdempotencyKeyReused", err)
		}
		// Keys are per tenant.
		if m, existed, err := s.Enqueue(msg("6", "order-1", "Different text")); err != nil || existed || m.ID == first.ID {
			t.Fatalf("same key, other tenant = %+v, %v, %v", m, existed, err)
		}
		if n, _ := s.QueueDepth("5"); n != 1 {
			t.Fatalf("QueueDepth = %d after retries, want 1", n)
		}

		// A pending message keeps its key however old it gets.
		c.Advance(48 * time.Hour)
		if _, existed, _ := s.Enqueue(msg("5", "order-1", "Your order shipped")); !existed {
			t.Fatal("a pending message's key expired")
		}
		// A finished one keeps it within the retention…
		if _, err := s.UpdateMessage("5", first.ID, func(m *sessionstore.Message) { m.State = sessionstore.StateSent }); err != nil {
			t.Fatal(err)
		}
		fresh, _, _ := s.Enqueue(msg("5", "order-2", "B"))
		if _, err := s.UpdateMessage("5", fresh.ID, func(m *sessionstore.Message) { m.State = sessionstore.StateFailed }); err != nil {
			t.Fatal(err)
		}
		c.Advance(23 * time.Hour)
		if got, existed, err := s.Enqueue(msg("5", "order-2", "B")); err != nil || !existed || got.State != sessionstore.StateFailed {
			t.Fatalf("retry within retention = %+v, %v, %v; want the stored FAILED message", got, existed, err)
		}
		// …and after it the key names a new message, even with another text.
		reused, existed, err := s.Enqueue(msg("5", "order-1", "Next week's order"))
		if err != nil || existed || reused.ID == first.ID {
			t.Fatalf("key after retention = %+v, existed=%v, %v; want a new message", reused, existed, err)
		}
		if _, err := s.GetMessage("5", first.ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("the expired message holding the key survives: %v", err)
		}
		if again, existed, _ := s.Enqueue(msg("5", "order-1", "Next week's order")); !existed || again.ID != reused.ID {
			t.Fatalf("the rebound key does not name the new message: %+v", again)
		}
	})
}

func TestConcurrentDuplicatesMakeOneMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		enqueueRace(t, []*sessionstore.Store{s}, "5", "same")
	})
}

// enqueueRace enqueues one idempotency key 16 times at once, spread over
// stores, and checks that exactly one message was made.
func enqueueRace(t *testing.T, stores []*sessionstore.Store, tenant, key string) {
	t.Helper()
	const n = 16
	ids := make([]string, n)
	var created int
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			m, existed, err := stores[i%len(stores)].Enqueue(msg(tenant, key, "hi"))
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = m.ID
			if !existed {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing enqueues got ids %v", ids)
		}
	}
	if created != 1 {
		t.Fatalf("%d calls created a message, want 1", created)
	}
	if size, _ := stores[0].OutboxSize(); size != 1 {
		t.Fatalf("OutboxSize = %d, want 1", size)
	}
}

func TestQueueLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{QueueLimit: 3})
		var ms []sessionstore.Message
		for i := range 3 {
			m, _, err := s.Enqueue(msg("5", fmt.Sprint("k", i), fmt.Sprint("text ", i)))
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		if _, _, err := s.Enqueue(msg("5", "k3", "one too many")); !errors.Is(err, sessionstore.ErrQueueFull) {
			t.Fatalf("Enqueue past the limit: %v, want ErrQueueFull", err)
		}
		// A retry of an accepted message still answers on a full queue.
		if got, existed, err := s.Enqueue(msg("5", "k0", "text 0")); err != nil || !existed || got.ID != ms[0].ID {
			t.Fatalf("retry on a full queue = %+v, %v, %v", got, existed, err)
		}
		// Other tenants have their own queue.
		if _, _, err := s.Enqueue(msg("6", "", "x")); err != nil {
			t.Fatalf("another tenant: %v", err)
		}
		// SENDING still counts; a finished message frees its slot.
		if _, err := s.UpdateMessage("5", ms[0].ID, func(m *sessionstore.Message) { m.State = sessionstore.StateSending }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Enqueue(msg("5", "", "still full")); !errors.Is(err, sessionstore.ErrQueueFull) {
			t.Fatalf("SENDING not counted: %v", err)
		}
		if _, err := s.UpdateMessage("5", ms[0].ID, func(m *sessionstore.Message) { m.State = sessionstore.StateSent }); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.QueueDepth("5"); n != 2 {
			t.Fatalf("QueueDepth = %d, want 2", n)
		}
		if _, _, err := s.Enqueue(msg("5", "", "fits now")); err != nil {
			t.Fatalf("after a send: %v", err)
		}
	})
}

func TestPendingFIFOSurvivesReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		var want []string
		for i := range 5 {
			m, _, err := s.Enqueue(msg("5", fmt.Sprint("k", i), fmt.Sprint("text ", i)))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, m.ID)
			// Interleave another tenant: FIFO is per tenant.
			if _, _, err := s.Enqueue(msg("6", "", "other")); err != nil {
				t.Fatal(err)
			}
		}
		// The first is being sent, the second went out: 1,3,4,5 stay pending.
		started := c.Now()
		if _, err := s.UpdateMessage("5", want[0], func(m *sessionstore.Message) {
			m.State, m.StartedAt, m.Attempts = sessionstore.StateSending, started, 1
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMessage("5", want[1], func(m *sessionstore.Message) {
			m.State, m.WAMessageID = sessionstore.StateSent, "true_4915112345678@c.us_ABC"
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = b.open(t, c, sessionstore.Options{}) // the same database and data dir
		pending, err := s.Pending("5")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range pending {
			got = append(got, m.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint([]string{want[0], want[2], want[3], want[4]}) {
			t.Fatalf("Pending after reopen = %v, want %v", got, []string{want[0], want[2], want[3], want[4]})
		}
		if !sort.SliceIsSorted(pending, func(i, j int) bool { return pending[i].Seq < pending[j].Seq }) {
			t.Fatal("Pending not in Seq order")
		}
		if p := pending[0]; p.State != sessionstore.StateSending || !p.StartedAt.Equal(started) || p.Attempts != 1 {
			t.Fatalf("SENDING message after reopen = %+v", p)
		}
		if sent, _ := s.GetMessage("5", want[1]); sent.State != sessionstore.StateSent || sent.WAMessageID == "" {
			t.Fatalf("SENT message after reopen = %+v", sent)
		}
		// Back to QUEUED for a retry: it keeps its place at the head.
		if _, err := s.UpdateMessage("5", want[0], func(m *sessionstore.Message) { m.State = sessionstore.StateQueued }); err != nil {
			t.Fatal(err)
		}
		if pending, _ := s.Pending("5"); pending[0].ID != want[0] {
			t.Fatalf("requeued message lost its place: %v", pending[0].ID)
		}
		if n, _ := s.QueueDepth("6"); n != 5 {
			t.Fatalf("QueueDepth(6) = %d, want 5", n)
		}
		if p, err := s.Pending("nobody"); err != nil || len(p) != 0 {
			t.Fatalf("Pending of an unknown tenant = %v, %v", p, err)
		}
	})
}

func TestUpdateMessageGuardsFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		m, _, _ := s.Enqueue(msg("5", "k", "hello"))
		got, err := s.UpdateMessage("5", m.ID, func(x *sessionstore.Message) {
			x.ID, x.TenantID, x.To, x.Text, x.IdempotencyKey, x.Seq, x.CreatedAt = "x", "6", "1", "changed", "other", 77, time.Time{}
			x.State, x.Error, x.ErrorReason = sessionstore.StateFailed, "not on WhatsApp", "RECIPIENT_NOT_ON_WHATSAPP"
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != m.ID || got.TenantID != "5" || got.To != m.To || got.Text != "hello" || got.IdempotencyKey != "k" ||
			got.Seq != m.Seq || !got.CreatedAt.Equal(m.CreatedAt) || !got.UpdatedAt.After(m.UpdatedAt) ||
			got.State != sessionstore.StateFailed || got.ErrorReason != "RECIPIENT_NOT_ON_WHATSAPP" {
			t.Fatalf("UpdateMessage = %+v", got)
		}
		if stored, _ := s.GetMessage("5", m.ID); !reflect.DeepEqual(stored, got) {
			t.Fatalf("stored %+v, returned %+v", stored, got)
		}
		if _, err := s.UpdateMessage("5", m.ID, func(x *sessionstore.Message) { x.State = 0 }); !errors.Is(err, sessionstore.ErrInvalidMessage) {
			t.Fatalf("UpdateMessage to state 0: %v", err)
		}
		if _, err := s.UpdateMessage("5", "nope", func(*sessionstore.Message) { t.Error("fn called") }); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("UpdateMessage of an unknown id: %v", err)
		}
		if sessionstore.StateSending.String() != "SENDING" || sessionstore.MessageState(0).String() != "MessageState(0)" {
			t.Fatal("MessageState.String")
		}
	})
}

func TestPurgeExpired(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{IdempotencyRetention: time.Hour})
		sent, _, _ := s.Enqueue(msg("5", "a", "sent"))
		failed, _, _ := s.Enqueue(msg("6", "b", "failed"))
		queued, _, _ := s.Enqueue(msg("5", "c", "queued"))
		for _, m := range []sessionstore.Message{sent, failed} {
			st := sessionstore.StateSent
			if m.ID == failed.ID {
				st = sessionstore.StateFailed
			}
			if _, err := s.UpdateMessage(m.TenantID, m.ID, func(x *sessionstore.Message) { x.State = st }); err != nil {
				t.Fatal(err)
			}
		}
		c.Advance(30 * time.Minute)
		young, _, _ := s.Enqueue(msg("5", "d", "young"))
		if _, err := s.UpdateMessage("5", young.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSent }); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeExpired(); err != nil || n != 0 {
			t.Fatalf("PurgeExpired before the retention = %d, %v", n, err)
		}
		c.Advance(31 * time.Minute) // sent and failed are 61 minutes old, young 31
		n, err := s.PurgeExpired()
		if err != nil || n != 2 {
			t.Fatalf("PurgeExpired = %d, %v; want 2", n, err)
		}
		for _, m := range []sessionstore.Message{sent, failed} {
			if _, err := s.GetMessage(m.TenantID, m.ID); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Errorf("expired %s survives: %v", m.Text, err)
			}
		}
		for _, m := range []sessionstore.Message{queued, young} {
			if _, err := s.GetMessage(m.TenantID, m.ID); err != nil {
				t.Errorf("%s was purged: %v", m.Text, err)
			}
		}
		if size, _ := s.OutboxSize(); size != 2 {
			t.Fatalf("OutboxSize = %d, want 2", size)
		}
		// The purged key is free; the pending one is still bound.
		if _, existed, _ := s.Enqueue(msg("5", "a", "new text")); existed {
			t.Error("purged key still bound")
		}
		if _, _, err := s.Enqueue(msg("5", "c", "new text")); !errors.Is(err, sessionstore.ErrIdempotencyKeyReused) {
			t.Errorf("pending key after purge: %v", err)
		}
	})
}

// With the real clock, what a method returns equals what reads return later
// (no monotonic reading, one location).
func TestRealClockRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, nil, sessionstore.Options{})
		m, _, err := s.Enqueue(msg("5", "", "hi"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetMessage("5", m.ID); err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("GetMessage = %+v, %v; Enqueue returned %+v", got, err, m)
		}
		if err := s.PutTenant(sessionstore.Tenant{ID: "5"}); err != nil {
			t.Fatal(err)
		}
		tn, _ := s.GetTenant("5")
		if ts, _ := s.ListTenants(); len(ts) != 1 || ts[0] != tn || tn.CreatedAt.Location() != time.UTC {
			t.Fatalf("ListTenants = %+v, GetTenant = %+v", ts, tn)
		}
	})
}
