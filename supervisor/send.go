package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/redact"
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
	// Media is the message's file, its bytes already kept by Config.Media
	// under Media.SHA256 (the server stores them before it calls Send);
	// nil for a text. Text is then the caption, and may be empty.
	Media *sessionstore.Media
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
	text, err := normalizeBody(req)
	if err != nil {
		return Message{}, err
	}
	if len(req.IdempotencyKey) > sessionstore.MaxIdempotencyKeyLen {
		return Message{}, fmt.Errorf("idempotency key longer than %d bytes: %w", sessionstore.MaxIdempotencyKeyLen, ErrInvalidKey)
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
	m, existed, err := s.store.Enqueue(sessionstore.Message{TenantID: t.ID, To: to, Text: text, IdempotencyKey: req.IdempotencyKey, Media: req.Media})
	if err != nil {
		return m, fmt.Errorf("tenant %q: %w", t.ID, err)
	}
	if existed {
		s.log.Debug("idempotent retry", zap.String("tenant", t.ID), zap.String("message", m.ID), zap.Stringer("state", m.State))
	}
	if !m.State.Finished() {
		r, err := s.runnerFor(ctx, t.ID, true)
		switch {
		case errors.Is(err, ErrUnavailable) && s.isDraining():
			return m, nil // the daemon stops: the message stays QUEUED for the next start
		case errors.Is(err, ErrNotHolder):
			// Cluster mode: the message is in the shared outbox; the node
			// holding the tenant sends it, and its end reaches this node's
			// waiters through the event log (MessageFinished).
		case err != nil:
			return m, err
		default:
			r.poke()
		}
	}
	if req.WaitAccepted {
		return m, nil
	}
	m, err = s.waitMessage(ctx, m)
	if err != nil {
		return m, err
	}
	if m.State == MessageFailed && m.ErrorReason == ReasonRecipientNotOnWhatsApp {
		return m, fmt.Errorf("message %q to %s: %w", m.ID, redact.Phone(m.To), ErrRecipientNotOnWA)
	}
	return m, nil
}

// outboxRetry is how long a runner waits before it reads the outbox again
// after a failed read.
const outboxRetry = time.Second

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
		// The store does not answer (PostgreSQL restarting): read it again
		// in a while. While Queued says messages wait, the loop's due time
		// is the pacing's and retryAt's, so without this it would spin.
		r.retryAt = maxTime(r.retryAt, time.Now().Add(outboxRetry))
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
	if r.contractReloaded() {
		r.retryAt = time.Time{} // the selectors were reloaded: a held queue tries at once
	}
	if r.page == nil || r.state() != StateReady || time.Now().Before(r.sendAt) || time.Now().Before(r.retryAt) {
		return
	}
	// Never send through a page that does not answer: probe it first (a
	// hung page is restarted; the message waits for the new one).
	r.probe()
	if r.page == nil || r.state() != StateReady {
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

// sendOne makes one attempt at m, by the rules of DESIGN.md "Sends: exactly
// once":
//
//   - The attempt is counted (durably) before anything else: every attempt
//     counts, a lookup included, so a message that cannot progress ends
//     FAILED after MaxAttempts and never blocks its tenant's queue.
//   - Prepare opens the chat and enters the text; it returns once the app's
//     editor holds it, which is after the chat's messages have loaded (fact
//     17), with the chat's outgoing bubbles noted. A message with a file
//     goes through PrepareFile instead (see prepare and media.go): the
//     file attached under its name, the text its caption; every rule that
//     follows is the same for both.
//   - A message marked clicked by an earlier attempt is looked up in those
//     bubbles first (see earlierBubble): it is clicked again only when the
//     chat shows its noted bubbles and no new, unclaimed outgoing one. One
//     that was never clicked is sent with no lookup.
//   - The clicked mark, with the noted bubbles and the time, is written
//     (fsynced) before the click. A click that did not happen (refused by
//     the page, or not made because the lease may have lapsed) restores the
//     mark as it was.
//   - After the click, the message's bubble is the new one not noted; its
//     text is a check (checkText), not the way to find it.
func (r *runner) sendOne(m Message) {
	cfg := r.s.cfg
	timeout := cfg.SendTimeout
	if m.Media != nil {
		// A file uploads after the click: the attempt has the driver's
		// allowance for its size on top (waweb.Limits.UploadAllowance).
		timeout += waweb.DefaultLimits().UploadAllowance(m.Media.Size)
	}
	// An in-flight send may finish for a while after the daemon is told to
	// stop; it is cut off after the grace (Config.StopTimeout).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), timeout)
	defer cancel()
	stopGrace := context.AfterFunc(r.ctx, func() { time.AfterFunc(cfg.sendGrace(), cancel) })
	defer stopGrace()

	log := r.log.With(zap.String("message", m.ID), zap.String("to", redact.Phone(m.To)), zap.Int("attempt", m.Attempts+1))
	now := time.Now()
	m, err := r.s.store.UpdateMessage(r.id, m.ID, func(x *Message) {
		x.State = MessageSending
		x.Attempts++
		x.StartedAt = now
	})
	if err != nil {
		log.Error("marking the message SENDING", zap.Error(err))
		r.retryAt = time.Now().Add(r.sendBackoff(m.Attempts))
		return
	}
	if m.Attempts > 1 {
		// clicked: an earlier attempt reached the click (a lookup follows);
		// else it stopped before, and this one sends with no lookup.
		log.Info("retrying a message", zap.Bool("clicked", m.Clicked))
	}
	start := time.Now()
	r.markUsed()
	if m.Media != nil {
		defer r.unstageMedia(log, m)
	}
	draft, err := r.prepare(ctx, m)
	if err != nil {
		r.beforeClick(log, m, err, start)
		return
	}
	if draft.Entries > 1 {
		log.Debug("the editor took the text late", zap.Int("entries", draft.Entries))
	}
	if m.Clicked {
		b, found, err := r.earlierBubble(m, draft)
		switch {
		case err != nil:
			r.discard(ctx, log)
			r.attemptFailed(log, m, err, start)
			return
		case found:
			r.discard(ctx, log)
			if !b.Acked {
				if err := r.page.WaitAcked(ctx, b.ID); err != nil {
					r.attemptFailed(log, m, err, start)
					return
				}
			}
			log.Info("an earlier attempt went out: not sending again", zap.String("wa_message_id", b.ID))
			r.checkText(log, b)
			r.sent(log, m, b.ID, start)
			return
		}
		log.Info("an earlier attempt was clicked but did not go out: sending again")
	}
	prev := m
	m, err = r.s.store.UpdateMessage(r.id, m.ID, func(x *Message) { x.Clicked, x.ClickedAt, x.Noted = true, time.Now(), draft.Noted })
	if err != nil {
		log.Error("marking the message clicked", zap.Error(err))
		r.discard(ctx, log)
		r.attemptFailed(log, m, err, start)
		return
	}
	// unclick restores the clicked mark as it was before this attempt, for
	// a click that was not made.
	unclick := func() {
		if m2, err := r.s.store.UpdateMessage(r.id, m.ID, func(x *Message) {
			x.Clicked, x.ClickedAt, x.Noted = prev.Clicked, prev.ClickedAt, prev.Noted
		}); err == nil {
			m = m2
		} else {
			log.Warn("restoring the clicked mark after no click", zap.Error(err))
		}
	}
	if !r.s.holds(r.id) {
		unclick()
		r.discard(ctx, log)
		r.attemptFailed(log, m, errLeaseLapsed, start)
		return
	}
	clicked, err := r.page.Click(ctx, draft)
	if !clicked {
		unclick()
		if err == nil {
			err = errors.New("the send button was not clicked")
		}
		r.beforeClick(log, m, err, start)
		return
	}
	r.contractHolds()
	if err != nil {
		r.attemptFailed(log, m, err, start)
		return
	}
	b, err := r.page.WaitAck(ctx, draft)
	if err != nil {
		r.attemptFailed(log, m, err, start)
		return
	}
	r.checkText(log, b)
	r.sent(log, m, b.ID, start)
}

// checkText reports a message's bubble whose text, as the driver rebuilds
// it, is not the message's: a drawing the driver does not know yet. The
// bubble is still the message's (the new one after its click, unclaimed),
// so the message is SENT: a mismatch is never a reason to click again.
func (r *runner) checkText(log *zap.Logger, b waweb.Bubble) {
	if b.Match {
		return
	}
	log.Warn("the message's bubble shows another text than sent (a drawing the driver does not know): taken as sent",
		zap.String("wa_message_id", b.ID))
	r.s.cfg.Observer.SendTextMismatch(r.id)
}

// earlierBubble looks, among the chat's outgoing bubbles (draft.Out), for
// the one an earlier clicked attempt at m left: a bubble that was not among
// those noted before that click, and whose id is not the WhatsApp id of
// another message of the outbox. Two messages with the same text to the
// same recipient are two messages: each takes its own bubble, the oldest
// unclaimed first. One that shows m's text is taken first; else the oldest
// new unclaimed bubble is m's all the same (a drawing the driver does not
// know: its Match is false, and the caller reports it), for a new bubble is
// never a reason to click again. When the chat shows none of the bubbles
// noted before the click, its messages have not shown: no conclusion, an
// error.
//
// Ids are compared by their sessionstore.WAKey: a page reloaded in another
// build draws the same message's id in another form (fact 20).
func (r *runner) earlierBubble(m Message, draft waweb.Draft) (waweb.Bubble, bool, error) {
	noted := make(map[string]bool, len(m.Noted))
	for _, id := range m.Noted {
		noted[sessionstore.WAKey(id)] = true
	}
	if len(noted) > 0 && !slices.ContainsFunc(draft.Noted, func(id string) bool { return noted[sessionstore.WAKey(id)] }) {
		return waweb.Bubble{}, false, fmt.Errorf("looking for an earlier attempt: the chat shows none of the %d messages it showed before the click: %w", len(m.Noted), errChatNotLoaded)
	}
	var unclaimed []waweb.Bubble
	for _, b := range draft.Out {
		if noted[sessionstore.WAKey(b.ID)] {
			continue
		}
		other, err := r.s.store.MessageByWAID(r.id, b.ID)
		switch {
		case err == nil && other.ID != m.ID:
			continue // another message's bubble
		case err != nil && !errors.Is(err, sessionstore.ErrNotFound):
			return waweb.Bubble{}, false, fmt.Errorf("looking for an earlier attempt: %w", err)
		}
		unclaimed = append(unclaimed, b)
	}
	if i := slices.IndexFunc(unclaimed, func(b waweb.Bubble) bool { return b.Match }); i >= 0 {
		return unclaimed[i], true, nil
	}
	if len(unclaimed) > 0 {
		return unclaimed[0], true, nil
	}
	return waweb.Bubble{}, false, nil
}

// errChatNotLoaded: a lookup found the chat without the messages it showed
// before; the attempt fails and counts.
var errChatNotLoaded = errors.New("the chat's messages have not shown")

// discard empties the compose box (and discards a file's preview) after a
// Prepare that is not sent.
func (r *runner) discard(ctx context.Context, log *zap.Logger) {
	if err := r.page.Discard(ctx); err != nil {
		log.Debug("emptying the compose box", zap.Error(err))
	}
}

// sent records m as SENT with its WhatsApp id.
func (r *runner) sent(log *zap.Logger, m Message, waID string, start time.Time) {
	if !r.finish(m, func(x *Message) {
		x.State, x.WAMessageID, x.SentAt, x.Error, x.ErrorReason = MessageSent, waID, time.Now(), "", ""
	}) {
		// The clicked mark stays: the next attempt, here or on the node
		// that holds the tenant now, finds the bubble and does not send
		// again.
		log.Warn("sent, but the result was not stored: the next attempt looks for the bubble", zap.String("wa_message_id", waID))
		return
	}
	log.Info("sent", zap.Duration("took", time.Since(start)))
	r.s.touch(r.id)
	r.markUsed()
}

// attemptFailed ends an attempt that did not send m: the recipient is not on
// WhatsApp (final), or a transient failure (retried after a backoff, FAILED
// after MaxAttempts).
func (r *runner) attemptFailed(log *zap.Logger, m Message, err error, start time.Time) {
	switch {
	case errors.Is(err, waweb.ErrRecipientNotOnWhatsApp):
		log.Info("recipient is not on WhatsApp")
		r.finish(m, func(x *Message) {
			x.State, x.Error, x.ErrorReason = MessageFailed, "the recipient is not on WhatsApp", ReasonRecipientNotOnWhatsApp
		})
		return
	case errors.Is(err, waweb.ErrNotLinked):
		log.Warn("the page is not linked")
		r.retryLater(m, err)
		r.probe()
		return
	}
	log.Warn("send attempt failed", zap.Error(err), zap.Bool("clicked", m.Clicked), zap.Duration("took", time.Since(start)))
	r.retryLater(m, err)
}

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
	r.retryAt = time.Now().Add(r.sendBackoff(m.Attempts))
}

// sendBackoff is the wait before the next attempt after attempts failed
// ones: the tenant's one backoff (RestartPolicy.Backoff).
func (r *runner) sendBackoff(attempts int) time.Duration {
	return r.policy.Backoff(max(attempts, 1))
}

// finish stores the end of an attempt and tells the waiting Send calls;
// false when it could not be stored (the lease was lost, in cluster mode).
func (r *runner) finish(m Message, f func(*Message)) bool {
	done, err := r.s.store.UpdateMessage(r.id, m.ID, f)
	if err != nil {
		r.log.Error("storing the message result", zap.Error(err))
		return false
	}
	// The metric first: a Send that returns on the wake-up below shows its
	// attempt in a scrape made right after it.
	if !done.StartedAt.IsZero() {
		r.s.cfg.Observer.SendFinished(r.id, time.Since(done.StartedAt), done.State)
	}
	if done.State.Finished() {
		r.s.messageDone(done)
	}
	return true
}
