package sessionstore_test

import (
	"errors"
	"testing"

	"github.com/wapool/wapool/sessionstore"
)

func TestRecentMessagesNewestFirstWithoutText(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, newClock(), sessionstore.Options{})
		var ids []string
		for _, text := range []string{"one", "two", "three"} {
			m, _, err := s.Enqueue(msg("5", "", text))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		if _, _, err := s.Enqueue(msg("6", "", "other tenant")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMessage("5", ids[0], func(m *sessionstore.Message) { m.State = sessionstore.StateSent }); err != nil {
			t.Fatal(err)
		}

		got, err := s.RecentMessages("5", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[1] {
			t.Fatalf("RecentMessages(5, 2) = %+v, want ids %v then %v", got, ids[2], ids[1])
		}
		all, err := s.RecentMessages("5", 10)
		if err != nil || len(all) != 3 {
			t.Fatalf("RecentMessages(5, 10) = %d messages, %v; want 3", len(all), err)
		}
		if all[2].State != sessionstore.StateSent || all[0].State != sessionstore.StateQueued || all[2].To != "4915112345678" {
			t.Fatalf("states or recipient lost: %+v", all)
		}
		for _, m := range all {
			if m.Text != "" || m.Noted != nil {
				t.Fatalf("message %s carries its text or noted bubbles: %+v", m.ID, m)
			}
		}
		if stored, _ := s.GetMessage("5", ids[0]); stored.Text != "one" {
			t.Fatalf("the stored message lost its text: %+v", stored)
		}

		if got, err := s.RecentMessages("nobody", 5); err != nil || len(got) != 0 {
			t.Fatalf("unknown tenant: %v, %v; want none", got, err)
		}
		if got, err := s.RecentMessages("5", 0); err != nil || len(got) != 0 {
			t.Fatalf("limit 0: %v, %v; want none", got, err)
		}
		if _, err := s.RecentMessages("../x", 5); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
			t.Fatalf("bad id: %v, want ErrInvalidTenantID", err)
		}
	})
}
