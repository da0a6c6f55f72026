package sessionstore

// Webhooks managed by the API (CreateWebhook, ListWebhooks, DeleteWebhook):
// each one a URL, its signing secret and its filters. Each is a consumer of
// the event log under WebhookConsumer(id): its delivered position
// (ConsumerPosition) and its dead-letter list (DeadEvents) are kept as the
// --webhook-url webhook's are, and DeleteWebhook removes them with it.
//
// bbolt: bucket webhooks, key id → Webhook as JSON. PostgreSQL
// (pgwebhooks.go): table webhooks. In cluster mode the table is shared, so
// the node that delivers the webhooks sees every node's.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketWebhooks holds the webhooks (see above).
var bucketWebhooks = []byte("webhooks")

// ErrWebhookExists: CreateWebhook with an id already taken.
var ErrWebhookExists = errors.New("webhook id already exists")

// Webhook is one webhook made through the API.
type Webhook struct {
	// ID names it: the caller's choice, unique.
	ID string `json:"id"`
	// URL receives its POSTs.
	URL string `json:"url"`
	// Secret is its HMAC-SHA256 key. Kept as is: whoever reads the store
	// can sign as wapool to its receiver.
	Secret []byte `json:"secret"`
	// TenantIDs are the tenants whose events it gets: ids, or prefixes
	// ending in "*"; empty: every tenant.
	TenantIDs []string `json:"tenant_ids,omitempty"`
	// Events are the kinds of events it gets (the caller's names, such as
	// "message" or "message.sent"); empty: every kind.
	Events []string `json:"events,omitempty"`
	// CreatedAt is set by CreateWebhook (the store's clock).
	CreatedAt time.Time `json:"created_at"`
}

// WebhookConsumer is the event log consumer name of webhook id: its
// position and dead-letter list are stored under it.
func WebhookConsumer(id string) string { return "webhook/" + id }

// CreateWebhook stores w (CreatedAt set now) and returns it as stored.
// Errors: ErrWebhookExists.
func (s *Store) CreateWebhook(w Webhook) (Webhook, error) {
	if w.ID == "" || strings.ContainsAny(w.ID, "/ ") {
		return Webhook{}, fmt.Errorf("sessionstore: webhook id %q: empty or with '/' or ' '", w.ID)
	}
	w.CreatedAt = s.clock().UTC().Truncate(time.Microsecond)
	if s.pg != nil {
		return w, s.pg.createWebhook(w)
	}
	v, err := json.Marshal(w)
	if err != nil {
		return Webhook{}, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketWebhooks)
		if err != nil {
			return err
		}
		if b.Get([]byte(w.ID)) != nil {
			return fmt.Errorf("webhook %q: %w", w.ID, ErrWebhookExists)
		}
		return b.Put([]byte(w.ID), v)
	})
	if err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// Webhooks returns every webhook, oldest first (then by id).
func (s *Store) Webhooks() ([]Webhook, error) {
	if s.pg != nil {
		return s.pg.webhooks()
	}
	var out []Webhook
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var w Webhook
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("decode webhook: %w", err)
			}
			out = append(out, w)
			return nil
		})
	})
	sortWebhooks(out)
	return out, err
}

func sortWebhooks(ws []Webhook) {
	slices.SortFunc(ws, func(a, b Webhook) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// DeleteWebhook removes webhook id, its delivered position and its
// dead-letter list, in one transaction. Errors: ErrNotFound.
func (s *Store) DeleteWebhook(id string) error {
	if s.pg != nil {
		return s.pg.deleteWebhook(id)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		if b == nil || b.Get([]byte(id)) == nil {
			return fmt.Errorf("webhook %q: %w", id, ErrNotFound)
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		consumer := []byte(WebhookConsumer(id))
		if err := tx.Bucket(bucketConsumers).Delete(consumer); err != nil {
			return err
		}
		if dead := tx.Bucket(bucketDeadEvents); dead.Bucket(consumer) != nil {
			return dead.DeleteBucket(consumer)
		}
		return nil
	})
}
