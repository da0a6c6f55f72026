// Package webhook delivers a durable log of events to one HTTP endpoint, in
// order and at least once: each event is POSTed as its JSON body with a
// timestamp, signed with HMAC-SHA256 over the timestamp and the body (see
// sign.go), and retried with exponential backoff and jitter until the
// endpoint answers 2xx, up to a number of attempts; an event that used them
// all is parked in a dead-letter list, and the events behind it go on. It
// knows nothing of wapool's types: a Source hands it deliveries (an id and
// a body), stores how far they were acknowledged, and keeps the
// dead-letter list.
//
// # Lifecycle
//
//	New ──► Run(ctx) ──► Source.Position ──► ┌► Source.Redeliveries: each one asked for, as below;
//	                                         │     2xx: Source.Redelivered; else parked again
//	                                         │  Source.Next (waits for events, or a redelivery)
//	                                         │     │ each delivery, in order:
//	                                         │     ▼
//	                                         │   POST ──2xx──────────────────────► delivered
//	                                         │     │ ──401/403/404/410: paused ──► back off, POST again (no attempt spent)
//	                                         │     └─else (5xx, other 4xx, network, timeout):
//	                                         │        Ack what is done, back off, POST again
//	                                         │        ── MaxAttempts spent ──► Source.Park ─► parked
//	                                         └── Ack the batch ◄──────────────────┘
//	ctx ends ──► Run acks what was delivered and returns
//
// Nothing is dropped: an event is acknowledged once delivered, or once it is
// stored in the dead-letter list. An event whose POST was cut by a daemon
// stop or crash is not acknowledged, so the next Run sends it again:
// receivers de-duplicate by the X-Wapool-Event-Id header.
//
// # Concurrency
//
// Run is the sender's only goroutine, and it is the caller's: Run returns
// once it has stopped, having started nothing that outlives it; it alone
// touches the pause state. mu guards the secrets, which SetSecrets may
// replace from another goroutine.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults of the zero Config fields.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = time.Minute
	DefaultBatch       = 64
	DefaultMaxAttempts = 10
)

// Delivery is one event to POST.
type Delivery struct {
	ID   string // sent as X-Wapool-Event-Id; the position Ack stores
	Body []byte // the JSON body, sent as is
}

// DeadLetter is a delivery that used all its attempts.
type DeadLetter struct {
	Delivery
	// Attempts is how many POSTs failed (refusals that paused delivery
	// not counted).
	Attempts int
	// LastError is why the last one failed: "HTTP 500", or the network
	// error, the URL's credentials left out. Never a body.
	LastError string
}

// Source is the durable log the sender reads, and its dead-letter list.
type Source interface {
	// Position returns the id of the last delivery acknowledged; the sender
	// starts after it.
	Position(ctx context.Context) (string, error)
	// Next waits until there are deliveries after the id `after` and returns
	// up to max of them, in order; it returns ctx's error when ctx ends. It
	// may return none (nil error) to let the sender look for redeliveries,
	// e.g. when one was asked for.
	Next(ctx context.Context, after string, max int) ([]Delivery, error)
	// Ack stores id as delivered (durably): everything up to it is done.
	Ack(id string) error
	// Park stores d in the dead-letter list (durably), replacing an entry of
	// the same id and clearing its redelivery request. The sender acks past
	// d only after Park returned nil.
	Park(d DeadLetter) error
	// Redeliveries returns up to max entries of the dead-letter list whose
	// redelivery was asked for, oldest first.
	Redeliveries(ctx context.Context, max int) ([]Delivery, error)
	// Redelivered removes the entry id from the dead-letter list: it was
	// delivered.
	Redelivered(id string) error
}

// Observer counts outcomes, for metrics. Its methods must not block.
type Observer interface {
	Delivered() // an event was acknowledged with a 2xx
	Retried()   // a POST failed (or was refused) and will be made again
	Parked()    // an event used its attempts and went to the dead-letter list
	// Paused reports that the endpoint refuses deliveries (401, 403, 404 or
	// 410: true) and, later, that it answered something else (false).
	Paused(paused bool)
}

// Config configures a Sender. URL and Secrets are required.
type Config struct {
	// URL receives the POSTs: http or https. Its user info and query are
	// never logged.
	URL string
	// Secrets are the HMAC-SHA256 keys: one, or two while a secret rotates
	// (each signs; see SignatureHeader). At most MaxSecrets, none empty.
	Secrets [][]byte
	// Client makes the requests. nil: an http.Client with DefaultTimeout per
	// request that does not follow redirects (a 3xx is retried like a 5xx).
	Client *http.Client
	// MinBackoff is the wait before the first retry of an event; each further
	// retry doubles it, up to MaxBackoff. Each wait is drawn in [d/2, d] (equal
	// jitter). A Retry-After header (408, 429, 503) lengthens a wait, still
	// bounded by MaxBackoff. 0: DefaultMinBackoff (500 ms) and
	// DefaultMaxBackoff (1 min). A pause (401/403/404/410) backs off the same
	// way, with no limit on the number of POSTs.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is how many failed POSTs of one event (5xx, other 4xx,
	// network errors, timeouts; not pauses) park it in the dead-letter
	// list. 0: DefaultMaxAttempts (10: about 3 minutes with the default
	// backoff).
	MaxAttempts int
	// Batch is how many events one Source.Next returns at most; they are
	// acknowledged together. 0: DefaultBatch (64).
	Batch int
	// Observer counts outcomes; nil: none.
	Observer Observer
	// Log receives delivery problems (never a body); nil: no logs.
	Log *zap.Logger
	// Rand returns a number in [0, 1) for the jitter; nil: math/rand/v2.
	Rand func() float64
	// Now is the clock of X-Wapool-Timestamp; nil: time.Now.
	Now func() time.Time
}

// Sender delivers a Source's events to Config.URL.
type Sender struct {
	cfg Config
	src Source

	// paused: the endpoint's last answer was a refusal (Observer.Paused).
	// Run's goroutine alone reads and writes it.
	paused bool

	mu      sync.Mutex // guards secrets
	secrets [][]byte
}

// New checks cfg and returns a Sender; Run starts it.
func New(cfg Config, src Source) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook url %q: want an http:// or https:// URL", redact(cfg.URL))
	}
	secrets, err := checkSecrets(cfg.Secrets)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("webhook: no source")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg, src: src, secrets: secrets}, nil
}

type nopObserver struct{}

func (nopObserver) Delivered()  {}
func (nopObserver) Retried()    {}
func (nopObserver) Parked()     {}
func (nopObserver) Paused(bool) {}

// checkSecrets returns a copy of secrets: 1 to MaxSecrets, none empty.
func checkSecrets(secrets [][]byte) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhook: no secret")
	}
	if len(secrets) > MaxSecrets {
		return nil, fmt.Errorf("webhook: %d secrets; at most %d sign at once", len(secrets), MaxSecrets)
	}
	out := make([][]byte, len(secrets))
	for i, s := range secrets {
		if len(s) == 0 {
			return nil, errors.New("webhook: a secret is empty")
		}
		out[i] = bytes.Clone(s)
	}
	return out, nil
}

// SetSecrets replaces the signing keys (e.g. on SIGHUP); the next POST uses
// them. Secrets that New would refuse are refused, and the old ones kept.
func (s *Sender) SetSecrets(secrets [][]byte) error {
	c, err := checkSecrets(secrets)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = c
	return nil
}

func (s *Sender) currentSecrets() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets
}

// Run delivers events until ctx ends, then returns nil after acknowledging
// what was delivered. Source errors are logged and retried with backoff.
func (s *Sender) Run(ctx context.Context) error {
	log := s.cfg.Log
	var pos string
	for attempt := 1; ; attempt++ {
		var err error
		if pos, err = s.src.Position(ctx); err == nil {
			break
		}
		log.Error("webhook: reading the delivered position", zap.Error(err))
		if !s.sleep(ctx, s.backoff(attempt, 0)) {
			return nil
		}
	}
	log.Info("webhook: delivering", zap.String("url", redact(s.cfg.URL)), zap.String("after", pos),
		zap.Int("max_attempts", s.cfg.MaxAttempts))
	acked := pos
	ack := func() {
		if pos == acked {
			return
		}
		if err := s.src.Ack(pos); err != nil {
			log.Error("webhook: storing the delivered position", zap.Error(err))
			return
		}
		acked = pos
	}
	defer ack()
	defer func() {
		if s.paused { // this Run no longer delivers: it is not paused either
			s.paused = false
			s.cfg.Observer.Paused(false)
		}
	}()
	failures := 0
	for {
		if !s.redeliver(ctx) {
			return nil
		}
		batch, err := s.src.Next(ctx, pos, s.cfg.Batch)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			log.Error("webhook: reading events", zap.Error(err))
			if !s.sleep(ctx, s.backoff(failures, 0)) {
				return nil
			}
			continue
		}
		failures = 0
		for _, d := range batch {
			res, dead := s.deliver(ctx, d, ack)
			switch res {
			case stopped:
				return nil
			case exhausted:
				if !s.park(ctx, dead) {
					return nil
				}
			}
			pos = d.ID
		}
		ack()
	}
}

// redeliver POSTs the dead letters whose redelivery was asked for, until
// none is left; false when ctx ended. A store error ends the round (logged):
// the next round tries again.
func (s *Sender) redeliver(ctx context.Context) bool {
	log := s.cfg.Log
	for {
		ds, err := s.src.Redeliveries(ctx, s.cfg.Batch)
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			log.Error("webhook: reading the dead-letter list", zap.Error(err))
			return true
		}
		if len(ds) == 0 {
			return true
		}
		for _, d := range ds {
			res, dead := s.deliver(ctx, d, func() {})
			switch res {
			case stopped:
				return false
			case exhausted:
				if !s.park(ctx, dead) {
					return false
				}
			default:
				log.Info("webhook: a dead letter was redelivered", zap.String("event", d.ID))
				if err := s.src.Redelivered(d.ID); err != nil {
					// It stays listed and comes again: at least once.
					log.Error("webhook: removing a redelivered event from the dead-letter list", zap.String("event", d.ID), zap.Error(err))
					return true
				}
			}
		}
	}
}

// park stores dead in the dead-letter list, trying again with backoff until
// it is stored (true) or ctx ends (false): the sender never moves past an
// event that is neither delivered nor parked.
func (s *Sender) park(ctx context.Context, dead DeadLetter) bool {
	log := s.cfg.Log.With(zap.String("event", dead.ID))
	for attempt := 1; ; attempt++ {
		err := s.src.Park(dead)
		if err == nil {
			break
		}
		log.Error("webhook: storing an event in the dead-letter list", zap.Error(err))
		if !s.sleep(ctx, s.backoff(attempt, 0)) {
			return false
		}
	}
	s.cfg.Observer.Parked()
	log.Error("webhook: event parked in the dead-letter list; the next events go on (wapoolctl events dead lists it, wapoolctl events redeliver sends it again)",
		zap.Int("attempts", dead.Attempts), zap.String("last_error", dead.LastError))
	return true
}

// outcome of one POST, or of the delivery of one event.
type outcome int

const (
	delivered outcome = iota // 2xx
	retry                    // network error, timeout, 3xx, 5xx, a 4xx but those below: counts as an attempt
	pause                    // 401, 403, 404, 410: the endpoint is not ready for us; no attempt spent
	exhausted                // (delivery) every attempt failed
	stopped                  // (delivery) ctx ended
)

// classify sorts an HTTP status code.
func classify(code int) outcome {
	switch {
	case code >= 200 && code < 300:
		return delivered
	case code == http.StatusUnauthorized || code == http.StatusForbidden ||
		code == http.StatusNotFound || code == http.StatusGone:
		return pause
	}
	return retry
}

// deliver POSTs d until it is delivered, or it failed MaxAttempts times
// (exhausted, with the dead letter to park), or ctx ends (stopped). Refusals
// pause: they are retried with backoff and spend no attempt. Before each
// wait it calls flush, so that what was delivered before is acknowledged
// even if this event takes long.
func (s *Sender) deliver(ctx context.Context, d Delivery, flush func()) (outcome, DeadLetter) {
	log := s.cfg.Log.With(zap.String("event", d.ID))
	attempts, refusals := 0, 0
	for {
		code, retryAfter, err := s.post(ctx, d)
		if ctx.Err() != nil {
			return stopped, DeadLetter{}
		}
		class := retry
		if err == nil {
			class = classify(code)
		}
		if class != pause && s.paused {
			s.paused = false
			s.cfg.Observer.Paused(false)
			log.Info("webhook: the endpoint accepts deliveries again; resuming", zap.Int("status", code))
		}
		var wait time.Duration
		switch class {
		case delivered:
			s.cfg.Observer.Delivered()
			if attempts+refusals > 0 {
				log.Info("webhook: delivered after retries", zap.Int("attempts", attempts+refusals+1))
			}
			return delivered, DeadLetter{}
		case pause:
			refusals++
			wait = s.backoff(refusals, retryAfter)
			if !s.paused {
				s.paused = true
				s.cfg.Observer.Paused(true)
				log.Warn("webhook: the endpoint refuses deliveries (wrong URL, secret or a deploy?); paused, nothing is dropped: retrying with backoff",
					zap.String("url", redact(s.cfg.URL)), zap.Int("status", code), zap.Duration("in", wait))
			} else {
				log.Debug("webhook: still refused; retrying", zap.Int("status", code), zap.Duration("in", wait))
			}
		default:
			attempts++
			if attempts >= s.cfg.MaxAttempts {
				return exhausted, DeadLetter{Delivery: d, Attempts: attempts, LastError: failure(code, err)}
			}
			wait = s.backoff(attempts, retryAfter)
			log.Warn("webhook: delivery failed; retrying", zap.Int("status", code), zap.Error(err),
				zap.Int("attempt", attempts), zap.Int("max_attempts", s.cfg.MaxAttempts), zap.Duration("in", wait))
		}
		s.cfg.Observer.Retried()
		flush()
		if !s.sleep(ctx, wait) {
			return stopped, DeadLetter{}
		}
	}
}

// failure says why a POST failed, for the dead-letter list.
func failure(code int, err error) string {
	if err != nil {
		return err.Error()
	}
	return "HTTP " + strconv.Itoa(code)
}

// maxResponseRead bounds how much of a response body is read (and dropped)
// so that the connection can be reused.
const maxResponseRead = 64 << 10

// post makes one POST of d and returns the status code and the Retry-After
// wait it asked for (0 when none).
func (s *Sender) post(ctx context.Context, d Delivery) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wapool-webhook/1")
	req.Header.Set(EventIDHeader, d.ID)
	ts := strconv.FormatInt(s.cfg.Now().Unix(), 10)
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, signatures(s.currentSecrets(), ts, d.Body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, 0, redactError(err, s.cfg.URL)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), time.Now()), nil
}

// retryAfter parses a Retry-After value: seconds, or an HTTP date. 0 when
// absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait before retry number attempt (1 for the first):
// d = MinBackoff·2^(attempt-1), at most MaxBackoff, drawn in [d/2, d]; at
// least the endpoint's Retry-After, still at most MaxBackoff.
func (s *Sender) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := s.cfg.MaxBackoff
	if shift := attempt - 1; shift < 32 {
		d = min(s.cfg.MinBackoff<<max(shift, 0), s.cfg.MaxBackoff)
	}
	if d <= 0 { // overflow
		d = s.cfg.MaxBackoff
	}
	wait := d/2 + time.Duration(s.cfg.Rand()*float64(d/2))
	return min(max(wait, retryAfter), s.cfg.MaxBackoff)
}

// sleep waits d; false when ctx ended first.
func (s *Sender) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// redact drops the user info, query and fragment of a URL for logs: each
// may hold a credential.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// redactError returns err with the URL raw redacted wherever it shows:
// net/http's errors quote the URL they were asked for, query included.
func redactError(err error, raw string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: redact(ue.URL), Err: ue.Err}
	}
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil {
		for _, secret := range []string{raw, u.RawQuery, u.Fragment, u.User.String()} {
			if secret != "" && strings.Contains(msg, secret) {
				msg = strings.ReplaceAll(msg, secret, "[redacted]")
			}
		}
		if msg != err.Error() {
			return errors.New(msg)
		}
	}
	return err
}
