package supervisor

import (
	"context"
	"fmt"

	"github.com/wapool/wapool/sessionstore"
)

// RecentMessages returns up to limit of the tenant's newest messages, newest
// first, in every state, without their text (Message.Text and Noted are
// empty): for people watching a tenant, such as the web console. An unknown
// tenant has none. It reads the outbox only: it never wakes the tenant.
func (s *Supervisor) RecentMessages(ctx context.Context, tenantID string, limit int) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := sessionstore.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	ms, err := s.store.RecentMessages(tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: recent messages: %w", tenantID, err)
	}
	return ms, nil
}
