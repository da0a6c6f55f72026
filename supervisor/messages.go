package supervisor

import (
	"context"
	"fmt"
	"strings"

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

// normalizeBody is NormalizeText of a message's text; the caption of a
// file (SendRequest.Media) may be empty, or white space only, which
// WhatsApp drops: no caption.
func normalizeBody(req SendRequest) (string, error) {
	if req.Media != nil && strings.TrimSpace(req.Text) == "" {
		return "", nil
	}
	return NormalizeText(req.Text)
}
