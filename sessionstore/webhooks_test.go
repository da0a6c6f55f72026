package sessionstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// TestWebhooksConformance: webhooks are created once per id, listed oldest
// first with what was given, survive a reopen, and leave with their
// delivered position and dead-letter list; both backends.
func TestWebhooksConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		if ws, err := s.Webhooks(); err != nil || len(ws) != 0 {
			t.Fatalf("Webhooks of a new store: %v, %v", ws, err)
		}
		one := sessionstore.Webhook{ID: "one", URL: "https://a.example/hook", Secret: []byte("s1"),
			TenantIDs: []string{"shop-1", "eu-*"}, Events: []string{"message.sent"}}
		got, err := s.CreateWebhook(one)
		if err != nil {
			t.Fatal(err)
		}
		if got.CreatedAt.IsZero() {
			t.Error("CreatedAt not set")
		}
		c.Advance(time.Second)
		two := sessionstore.Webhook{ID: "two", URL: "http://127.0.0.1:1/", Secret: []byte("s2")}
		if _, err := s.CreateWebhook(two); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateWebhook(two); !errors.Is(err, sessionstore.ErrWebhookExists) {
			t.Errorf("the same id twice: %v, want ErrWebhookExists", err)
		}
		if _, err := s.CreateWebhook(sessionstore.Webhook{ID: "a/b"}); err == nil {
			t.Error("an id with '/': no error")
		}
		// Its consumer's state, as the sender keeps it.
		consumer := sessionstore.WebhookConsumer("one")
		if err := s.SetConsumerPosition(consumer, 7); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ParkDeadEvent(consumer, sessionstore.DeadEvent{Seq: 3, Body: []byte("{}"), Attempts: 2}); err != nil {
			t.Fatal(err)
		}

		s.Close()
		s = b.open(t, c, sessionstore.Options{}) // after a restart, or as another node
		ws, err := s.Webhooks()
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != 2 || ws[0].ID != "one" || ws[1].ID != "two" {
			t.Fatalf("Webhooks: %+v", ws)
		}
		w := ws[0]
		if w.URL != one.URL || string(w.Secret) != "s1" || !slices.Equal(w.TenantIDs, one.TenantIDs) || !slices.Equal(w.Events, one.Events) ||
			!w.CreatedAt.Equal(got.CreatedAt) {
			t.Errorf("webhook read back: %+v, want %+v", w, got)
		}
		if ws[1].TenantIDs != nil || ws[1].Events != nil {
			t.Errorf("no filters read back as %v %v", ws[1].TenantIDs, ws[1].Events)
		}

		if err := s.DeleteWebhook("one"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteWebhook("one"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("deleting it again: %v, want ErrNotFound", err)
		}
		if _, ok, err := s.ConsumerPosition(consumer); err != nil || ok {
			t.Errorf("its position after the delete: %v %v", ok, err)
		}
		if dead, err := s.DeadEvents(consumer, sessionstore.DeadEventQuery{}); err != nil || len(dead) != 0 {
			t.Errorf("its dead-letter list after the delete: %v %v", dead, err)
		}
		if ws, err := s.Webhooks(); err != nil || len(ws) != 1 || ws[0].ID != "two" {
			t.Errorf("left: %+v %v", ws, err)
		}
	})
}
