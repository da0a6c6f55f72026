package sessionstore_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// The outbox's part in sending exactly once: the clicked mark, the index of
// WhatsApp message ids, and failing the pending messages on Logout.

func TestClickedRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		m, _, err := s.Enqueue(msg("5", "", "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Clicked || m.Noted != nil {
			t.Fatalf("new message is clicked: %+v", m)
		}
		noted := []string{"true_4915112345678@c.us_A", "true_4915112345678@c.us_B"}
		clicked, err := s.UpdateMessage("5", m.ID, func(x *sessionstore.Message) {
			x.State, x.Attempts, x.Clicked, x.Noted = sessionstore.StateSending, 1, true, noted
		})
		if err != nil {
			t.Fatal(err)
		}
		if !clicked.Clicked || !reflect.DeepEqual(clicked.Noted, noted) {
			t.Fatalf("UpdateMessage = %+v", clicked)
		}
		// Clicked with nothing noted (an empty chat) reads back the same.
		empty, _, _ := s.Enqueue(msg("5", "", "to an empty chat"))
		emptyClicked, err := s.UpdateMessage("5", empty.ID, func(x *sessionstore.Message) {
			x.State, x.Clicked, x.Noted = sessionstore.StateSending, true, []string{}
		})
		if err != nil {
			t.Fatal(err)
		}
		check := func(s *sessionstore.Store, when string) {
			t.Helper()
			if got, err := s.GetMessage("5", m.ID); err != nil || !reflect.DeepEqual(got, clicked) {
				t.Errorf("%s: GetMessage = %+v, %v; want %+v", when, got, err, clicked)
			}
			pending, err := s.Pending("5")
			if err != nil || len(pending) != 2 {
				t.Fatalf("%s: Pending = %+v, %v", when, pending, err)
			}
			if !reflect.DeepEqual(pending[0], clicked) || !reflect.DeepEqual(pending[1], emptyClicked) {
				t.Errorf("%s: Pending = %+v; want %+v and %+v", when, pending, clicked, emptyClicked)
			}
		}
		check(s, "before reopen")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = b.open(t, c, sessionstore.Options{}) // the same database and data dir
		check(s, "after reopen")

		// A retry keeps the mark unless the caller changes it.
		got, err := s.UpdateMessage("5", m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateQueued })
		if err != nil || !got.Clicked || !reflect.DeepEqual(got.Noted, noted) {
			t.Fatalf("requeue = %+v, %v; want it still clicked", got, err)
		}
	})
}

func TestMessageByWAID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{IdempotencyRetention: time.Hour})
		m, _, _ := s.Enqueue(msg("5", "", "hello"))
		setWAID := func(tenant, id, waID string, st sessionstore.MessageState) sessionstore.Message {
			t.Helper()
			got, err := s.UpdateMessage(tenant, id, func(x *sessionstore.Message) { x.WAMessageID, x.State = waID, st })
			if err != nil {
				t.Fatalf("set WAMessageID %q: %v", waID, err)
			}
			return got
		}
		notFound := func(tenant, waID string) {
			t.Helper()
			if got, err := s.MessageByWAID(tenant, waID); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Errorf("MessageByWAID(%q, %q) = %+v, %v; want ErrNotFound", tenant, waID, got, err)
			}
		}
		index := func(want map[string]uint64) {
			t.Helper()
			idx, err := sessionstore.WAIDIndex(s)
			if err != nil || !reflect.DeepEqual(idx, want) {
				t.Errorf("waids index = %v, %v; want %v", idx, err, want)
			}
		}

		notFound("5", "")
		notFound("5", "X")
		x := setWAID("5", m.ID, "X", sessionstore.StateSending)
		if got, err := s.MessageByWAID("5", "X"); err != nil || !reflect.DeepEqual(got, x) {
			t.Fatalf("MessageByWAID(X) = %+v, %v; want %+v", got, err, x)
		}
		notFound("6", "X") // per tenant
		notFound("5", "")
		index(map[string]uint64{"5/X": m.Seq})

		setWAID("5", m.ID, "Y", sessionstore.StateSending)
		notFound("5", "X")
		if got, err := s.MessageByWAID("5", "Y"); err != nil || got.ID != m.ID {
			t.Fatalf("MessageByWAID(Y) = %+v, %v", got, err)
		}
		index(map[string]uint64{"5/Y": m.Seq})
		setWAID("5", m.ID, "", sessionstore.StateSending)
		notFound("5", "Y")
		index(map[string]uint64{})

		// A message keeps one key across page builds (WAKey): its id drawn
		// as "true_<jid>_<id>" by one build is the bare "<id>" of another.
		other, _, _ := s.Enqueue(msg("5", "", "other"))
		setWAID("5", m.ID, "true_15550002222@c.us_3A0B", sessionstore.StateSending)
		index(map[string]uint64{"5/3A0B": m.Seq})
		for _, id := range []string{"3A0B", "true_15550002222@c.us_3A0B", "true_123456789012345@lid_3A0B"} {
			if got, err := s.MessageByWAID("5", id); err != nil || got.ID != m.ID {
				t.Errorf("MessageByWAID(%q) = %+v, %v; want %s", id, got, err, m.ID)
			}
		}
		if _, err := s.UpdateMessage("5", other.ID, func(x *sessionstore.Message) { x.WAMessageID = "3A0B" }); !errors.Is(err, sessionstore.ErrWAIDClaimed) {
			t.Errorf("the bare id of another message's bubble: %v, want ErrWAIDClaimed", err)
		}
		if got, err := s.GetMessage("5", m.ID); err != nil || got.WAMessageID != "true_15550002222@c.us_3A0B" {
			t.Errorf("the message keeps its id as drawn: %+v, %v", got, err)
		}
		setWAID("5", m.ID, "", sessionstore.StateSending)
		index(map[string]uint64{})

		// Purged with its message.
		setWAID("5", m.ID, "Z", sessionstore.StateSent)
		c.Advance(time.Hour)
		if n, err := s.PurgeExpired(); err != nil || n != 1 {
			t.Fatalf("PurgeExpired = %d, %v", n, err)
		}
		notFound("5", "Z")
		index(map[string]uint64{})

		// Deleted with an expired message whose idempotency key a new one takes.
		keyed, _, _ := s.Enqueue(msg("5", "k", "keyed"))
		setWAID("5", keyed.ID, "V", sessionstore.StateSent)
		c.Advance(time.Hour)
		if _, existed, err := s.Enqueue(msg("5", "k", "keyed")); err != nil || existed {
			t.Fatalf("Enqueue over an expired key = %v, existed=%v", err, existed)
		}
		notFound("5", "V")
		index(map[string]uint64{})

		// Deleted with its tenant; tenant 5 keeps its own.
		if err := s.PutTenant(sessionstore.Tenant{ID: "7"}); err != nil {
			t.Fatal(err)
		}
		m7, _, _ := s.Enqueue(msg("7", "", "hello"))
		setWAID("7", m7.ID, "W", sessionstore.StateSent)
		m5, _, _ := s.Enqueue(msg("5", "", "again"))
		setWAID("5", m5.ID, "W", sessionstore.StateSent)
		index(map[string]uint64{"7/W": m7.Seq, "5/W": m5.Seq})
		if err := s.DeleteTenant("7"); err != nil {
			t.Fatal(err)
		}
		notFound("7", "W")
		index(map[string]uint64{"5/W": m5.Seq})
		if got, err := s.MessageByWAID("5", "W"); err != nil || got.ID != m5.ID {
			t.Fatalf("DeleteTenant(7) touched tenant 5: %+v, %v", got, err)
		}
		if _, err := s.MessageByWAID("../5", "W"); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
			t.Errorf("MessageByWAID(../5): %v", err)
		}
	})
}

func TestWAIDClaimedOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		first, _, _ := s.Enqueue(msg("5", "", "same text"))
		second, _, _ := s.Enqueue(msg("5", "", "same text"))
		if _, err := s.UpdateMessage("5", first.ID, func(x *sessionstore.Message) {
			x.State, x.WAMessageID = sessionstore.StateSent, "X"
		}); err != nil {
			t.Fatal(err)
		}
		before, _ := s.GetMessage("5", second.ID)
		_, err := s.UpdateMessage("5", second.ID, func(x *sessionstore.Message) {
			x.State, x.WAMessageID, x.Clicked = sessionstore.StateSent, "X", true
		})
		if !errors.Is(err, sessionstore.ErrWAIDClaimed) {
			t.Fatalf("second claim of X: %v, want ErrWAIDClaimed", err)
		}
		if after, _ := s.GetMessage("5", second.ID); !reflect.DeepEqual(after, before) {
			t.Fatalf("refused update stored %+v; was %+v", after, before)
		}
		if n, _ := s.QueueDepth("5"); n != 1 {
			t.Fatalf("refused update changed the pending index: depth %d", n)
		}
		if got, err := s.MessageByWAID("5", "X"); err != nil || got.ID != first.ID {
			t.Fatalf("MessageByWAID(X) = %+v, %v; want the first", got, err)
		}
		// The holder may keep or rewrite its own id; another tenant may use it.
		if _, err := s.UpdateMessage("5", first.ID, func(x *sessionstore.Message) { x.Attempts++ }); err != nil {
			t.Fatalf("holder's own update: %v", err)
		}
		other, _, _ := s.Enqueue(msg("6", "", "same text"))
		if _, err := s.UpdateMessage("6", other.ID, func(x *sessionstore.Message) { x.WAMessageID = "X" }); err != nil {
			t.Fatalf("tenant 6 claims X: %v", err)
		}
		// Once released, the id is free.
		if _, err := s.UpdateMessage("5", first.ID, func(x *sessionstore.Message) { x.WAMessageID = "" }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMessage("5", second.ID, func(x *sessionstore.Message) { x.WAMessageID = "X" }); err != nil {
			t.Fatalf("claim of a released id: %v", err)
		}
		if got, err := s.MessageByWAID("5", "X"); err != nil || got.ID != second.ID {
			t.Fatalf("MessageByWAID(X) = %+v, %v; want the second", got, err)
		}
	})
}

func TestWAIDIndexBuiltForOldDatabase(t *testing.T) {
	c := newClock()
	data := filepath.Join(t.TempDir(), "data")
	s, err := sessionstore.Open(sessionstore.Options{DataDir: data, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	var ms []sessionstore.Message
	for _, tenant := range []string{"5", "5", "5", "6", "5"} {
		m, _, err := s.Enqueue(msg(tenant, "", "hi"))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	// Before the index two messages could carry the same id (ms[0], ms[2]).
	for i, waID := range []string{"A", "B", "A", "A", ""} {
		if err := sessionstore.SetWAIDRaw(s, ms[i].TenantID, ms[i].ID, waID); err != nil {
			t.Fatal(err)
		}
	}
	if err := sessionstore.DropWAIDIndex(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, c, sessionstore.Options{DataDir: data})
	idx, err := sessionstore.WAIDIndex(s)
	want := map[string]uint64{"5/A": ms[0].Seq, "5/B": ms[1].Seq, "6/A": ms[3].Seq}
	if err != nil || !reflect.DeepEqual(idx, want) {
		t.Fatalf("index after reopen = %v, %v; want %v", idx, err, want)
	}
	for _, tc := range []struct {
		tenant, waID string
		want         sessionstore.Message
	}{{"5", "A", ms[0]}, {"5", "B", ms[1]}, {"6", "A", ms[3]}} {
		if got, err := s.MessageByWAID(tc.tenant, tc.waID); err != nil || got.ID != tc.want.ID {
			t.Errorf("MessageByWAID(%q, %q) = %+v, %v; want %s", tc.tenant, tc.waID, got, err, tc.want.ID)
		}
	}
	// The later duplicate lets go of A without taking the index entry along.
	if _, err := s.UpdateMessage("5", ms[2].ID, func(x *sessionstore.Message) { x.WAMessageID = "C" }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.MessageByWAID("5", "A"); err != nil || got.ID != ms[0].ID {
		t.Fatalf("MessageByWAID(A) = %+v, %v; want %s", got, err, ms[0].ID)
	}
	if got, err := s.MessageByWAID("5", "C"); err != nil || got.ID != ms[2].ID {
		t.Fatalf("MessageByWAID(C) = %+v, %v; want %s", got, err, ms[2].ID)
	}
}

func TestFailPending(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		update := func(m sessionstore.Message, fn func(*sessionstore.Message)) sessionstore.Message {
			t.Helper()
			got, err := s.UpdateMessage(m.TenantID, m.ID, fn)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		sent, _, _ := s.Enqueue(msg("5", "", "sent"))
		sent = update(sent, func(x *sessionstore.Message) { x.State, x.WAMessageID, x.Clicked = sessionstore.StateSent, "X", true })
		sending, _, _ := s.Enqueue(msg("5", "", "sending"))
		sending = update(sending, func(x *sessionstore.Message) {
			x.State, x.Attempts, x.Clicked, x.Noted = sessionstore.StateSending, 2, true, []string{"X"}
		})
		failed, _, _ := s.Enqueue(msg("5", "", "failed"))
		failed = update(failed, func(x *sessionstore.Message) {
			x.State, x.ErrorReason, x.Error = sessionstore.StateFailed, "RECIPIENT_NOT_ON_WHATSAPP", "not on WhatsApp"
		})
		queued, _, _ := s.Enqueue(msg("5", "", "queued"))
		elsewhere, _, _ := s.Enqueue(msg("6", "", "other tenant"))

		out, err := s.FailPending("5", "LOGGED_OUT", "tenant logged out")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || out[0].ID != sending.ID || out[1].ID != queued.ID {
			t.Fatalf("FailPending = %+v; want the SENDING then the QUEUED message", out)
		}
		for i, before := range []sessionstore.Message{sending, queued} {
			got := out[i]
			if got.State != sessionstore.StateFailed || got.ErrorReason != "LOGGED_OUT" || got.Error != "tenant logged out" ||
				!got.UpdatedAt.After(before.UpdatedAt) || got.Attempts != before.Attempts || got.Clicked != before.Clicked ||
				!reflect.DeepEqual(got.Noted, before.Noted) {
				t.Errorf("FailPending made %+v of %+v", got, before)
			}
			if stored, _ := s.GetMessage("5", got.ID); !reflect.DeepEqual(stored, got) {
				t.Errorf("stored %+v, returned %+v", stored, got)
			}
		}
		for _, m := range []sessionstore.Message{sent, failed, elsewhere} {
			if stored, _ := s.GetMessage(m.TenantID, m.ID); !reflect.DeepEqual(stored, m) {
				t.Errorf("FailPending touched %+v: now %+v", m, stored)
			}
		}
		if p, err := s.Pending("5"); err != nil || len(p) != 0 {
			t.Fatalf("Pending after FailPending = %+v, %v", p, err)
		}
		if n, _ := s.QueueDepth("6"); n != 1 {
			t.Fatalf("QueueDepth(6) = %d, want 1", n)
		}
		if out, err := s.FailPending("5", "LOGGED_OUT", "again"); err != nil || out != nil {
			t.Fatalf("second FailPending = %+v, %v; want nothing", out, err)
		}
		if out, err := s.FailPending("nobody", "LOGGED_OUT", ""); err != nil || out != nil {
			t.Fatalf("FailPending of an unknown tenant = %+v, %v", out, err)
		}
		if _, err := s.FailPending("../5", "LOGGED_OUT", ""); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
			t.Fatalf("FailPending(../5): %v", err)
		}
		// The failed messages' slots are free again.
		if _, _, err := s.Enqueue(msg("5", "", "after logout")); err != nil {
			t.Fatal(err)
		}
	})
}
