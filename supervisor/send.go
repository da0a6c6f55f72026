package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// SendRequest is one message to send.
type SendRequest struct {
	TenantID       string
	To             string // any form NormalizePhone accepts
	Text           string
	IdempotencyKey string // "" = none
	WaitAccepted   bool   // return once durable instead of once SENT or FAILED
}

// Send stores the message durably, hands it to the tenant's runner and, unless
// WaitAccepted, waits until it is SENT or FAILED or ctx ends (the message then
// stays queued). A message that FAILED because the recipient is not on
// WhatsApp is returned with an error wrapping ErrRecipientNotOnWA.
func (s *Supervisor) Send(ctx context.Context, req SendRequest) (Message, error) {
	if err := s.waitStarted(ctx); err != nil {
		return Message{}, err
	}
	if err := sessionstore.ValidateTenantID(req.TenantID); err != nil {
		return Message{}, err
	}
	to, err := NormalizePhone(req.To)
	if err != nil {
		return Message{}, err
	}
	text, err := NormalizeText(req.Text)
	if err != nil {
		return Message{}, err
	}
	if len(req.IdempotencyKey) > sessionstore.MaxIdempotencyKeyLen {
		return Message{}, fmt.Errorf("idempotency key longer than %d bytes: %w", sessionstore.MaxIdempotencyKeyLen, ErrInvalidText)
	}
	t, err := s.tenant(req.TenantID)
	if err != nil {
		return Message{}, err
	}
	if s.isDraining() {
		return Message{}, fmt.Errorf("daemon stopping: %w", ErrUnavailable)
	}
	if r := s.existingRunner(t.ID); r != nil {
		if err := r.failed(); err != nil {
			return Message{}, fmt.Errorf("tenant %q: %w", t.ID, err)
		}
	}
	if !t.Linked {
		return Message{}, fmt.Errorf("tenant %q: link it first: %w", t.ID, ErrNotLinked)
	}
	m, existed, err := s.store.Enqueue(sessionstore.Message{TenantID: t.ID, To: to, Text: text, IdempotencyKey: req.IdempotencyKey})
	if err != nil {
		return m, fmt.Errorf("tenant %q: %w", t.ID, err)
	}
	if existed {
		s.log.Debug("idempotent retry", zap.String("tenant", t.ID), zap.String("message", m.ID), zap.Stringer("state", m.State))
	}
	if !m.State.Finished() {
		r := s.runnerFor(t.ID, true)
		if r == nil {
			return m, fmt.Errorf("daemon stopping: %w", ErrUnavailable)
		}
		r.poke()
	}
	if req.WaitAccepted {
		return m, nil
	}
	m, err = s.waitMessage(ctx, m)
	if err != nil {
		return m, err
	}
	if m.State == MessageFailed && m.ErrorReason == ReasonRecipientNotOnWhatsApp {
		return m, fmt.Errorf("message %q to %s: %w", m.ID, mask(m.To), ErrRecipientNotOnWA)
	}
	return m, nil
}

// trySend sends the head of the tenant's queue when the page is READY and
// pacing allows (runner goroutine). One message per call; it pokes itself
// when more wait.
func (r *runner) trySend() {
	if r.link != nil || r.ctx.Err() != nil {
		return
	}
	pending, err := r.s.store.Pending(r.id)
	if err != nil {
		r.log.Error("reading the outbox", zap.Error(err))
		return
	}
	r.update(func(s *Session) { s.Queued = len(pending) })
	if len(pending) == 0 {
		return
	}
	if r.br == nil {
		r.wantUp = true // a hibernated or cold tenant is woken by a Send
		return
	}
	if r.page == nil || r.state() != StateReady || time.Now().Before(r.sendAt) || time.Now().Before(r.retryAt) {
		return
	}
	m := pending[0]
	r.sendOne(m)
	r.sendAt = time.Now().Add(r.pace())
	if time.Now().Before(r.retryAt) {
		return // backing off after a transient failure
	}
	if len(pending) > 1 {
		if r.sendAt.After(time.Now()) {
			return // the ticker comes back
		}
		r.poke()
	}
}

func (r *runner) pace() time.Duration {
	cfg := r.s.cfg
	d := cfg.SendInterval
	if cfg.SendJitter > 0 {
		d += rand.N(cfg.SendJitter)
	}
	return d
}

// sendOne makes one attempt at m.
func (r *runner) sendOne(m Message) {
	cfg := r.s.cfg
	// An in-flight send may finish for a while after the daemon is told to
	// stop; it is cut off after sendGrace.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), cfg.SendTimeout)
	defer cancel()
	stopGrace := context.AfterFunc(r.ctx, func() { time.AfterFunc(sendGrace, cancel) })
	defer stopGrace()

	log := r.log.With(zap.String("message", m.ID), zap.String("to", mask(m.To)), zap.Int("attempt", m.Attempts+1))
	if m.Attempts > 0 {
		// A previous attempt may have clicked send before its browser or the
		// daemon died: look for the bubble before sending again.
		since := m.StartedAt
		if since.IsZero() {
			since = m.CreatedAt
		}
		id, found, err := r.page.FindOutgoing(ctx, m.To, m.Text, since)
		if err != nil {
			log.Warn("looking for an earlier attempt's bubble", zap.Error(err))
			r.retryLater(m, err)
			return
		}
		if found {
			log.Info("an earlier attempt went out: not sending again", zap.String("wa_message_id", id))
			r.finish(m, func(x *Message) { x.State, x.WAMessageID, x.SentAt, x.Error = MessageSent, id, time.Now(), "" })
			return
		}
	}
	now := time.Now()
	m, err := r.s.store.UpdateMessage(r.id, m.ID, func(x *Message) {
		x.State = MessageSending
		x.Attempts++
		x.StartedAt = now
	})
	if err != nil {
		log.Error("marking the message SENDING", zap.Error(err))
		return
	}
	start := time.Now()
	r.markUsed()
	waID, err := r.page.Send(ctx, m.To, m.Text)
	switch {
	case err == nil:
		r.finish(m, func(x *Message) { x.State, x.WAMessageID, x.SentAt, x.Error = MessageSent, waID, time.Now(), "" })
		log.Info("sent", zap.Duration("took", time.Since(start)))
		r.s.touch(r.id)
		r.markUsed()
	case errors.Is(err, waweb.ErrRecipientNotOnWhatsApp):
		log.Info("recipient is not on WhatsApp")
		r.finish(m, func(x *Message) {
			x.State, x.Error, x.ErrorReason = MessageFailed, "the recipient is not on WhatsApp", ReasonRecipientNotOnWhatsApp
		})
	case errors.Is(err, waweb.ErrNotLinked):
		log.Warn("the page is not linked")
		r.retryLater(m, err)
		r.probe()
	default:
		log.Warn("send attempt failed", zap.Error(err), zap.Duration("took", time.Since(start)))
		r.retryLater(m, err)
	}
}

// sendGrace is how long an in-flight send may go on once the daemon stops.
const sendGrace = 8 * time.Second

// retryLater keeps m queued after a transient failure, or fails it after
// MaxAttempts.
func (r *runner) retryLater(m Message, cause error) {
	if m.Attempts >= r.s.cfg.MaxAttempts {
		r.finish(m, func(x *Message) {
			x.State, x.Error, x.ErrorReason = MessageFailed, fmt.Sprintf("gave up after %d attempts: %v", x.Attempts, cause), ReasonSendFailed
		})
		return
	}
	if _, err := r.s.store.UpdateMessage(r.id, m.ID, func(x *Message) { x.Error = cause.Error() }); err != nil {
		r.log.Error("storing the send error", zap.Error(err))
	}
	backoff := time.Duration(1<<min(m.Attempts, 6)) * 500 * time.Millisecond
	r.retryAt = time.Now().Add(backoff)
}

func (r *runner) finish(m Message, f func(*Message)) {
	done, err := r.s.store.UpdateMessage(r.id, m.ID, f)
	if err != nil {
		r.log.Error("storing the message result", zap.Error(err))
		return
	}
	r.s.messageDone(m.ID)
	if !done.StartedAt.IsZero() {
		r.s.cfg.Observer.SendFinished(r.id, time.Since(done.StartedAt), done.State)
	}
}
