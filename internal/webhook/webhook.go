// Package webhook delivers a durable log of events to one HTTP endpoint, in
// order and at least once: each event is POSTed as its JSON body, signed
// with HMAC-SHA256 over the body, and retried with exponential backoff and
// jitter until the endpoint answers 2xx. It knows nothing of wapool's types:
// a Source hands it deliveries (an id and a body) and stores how far they
// were acknowledged.
//
// # Lifecycle
//
//	New ──► Run(ctx) ──► Source.Position ──► ┌► Source.Next (waits for events)
//	                                         │     │ each delivery, in order:
//	                                         │     ▼
//	                                         │   POST ──2xx──────────────► delivered
//	                                         │     │ ──4xx, not 408/429──► dropped (final)
//	                                         │     └─else (5xx, 408, 429, network, timeout):
//	                                         │        Ack what is done, back off, POST again
//	                                         └── Ack the batch ◄──────────┘
//	ctx ends ──► Run acks what was delivered and returns
//
// An event whose POST was cut by a daemon stop or crash is not acknowledged,
// so the next Run sends it again: receivers de-duplicate by the
// X-Wapool-Event-Id header.
//
// # Concurrency
//
// Run is the sender's only goroutine, and it is the caller's: Run returns
// once it has stopped, having started nothing that outlives it. mu guards
// the secret, which SetSecret may replace from another goroutine.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Headers of every POST.
const (
	// SignatureHeader holds "sha256=" and the lowercase hex HMAC-SHA256 of
	// the body under the shared secret.
	SignatureHeader = "X-Wapool-Signature"
	// EventIDHeader holds the event's id (its cursor): the same on every
	// retry of one event, and the key to de-duplicate by.
	EventIDHeader = "X-Wapool-Event-Id"
)

// Defaults of the zero Config fields.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = time.Minute
	DefaultBatch      = 64
)

// Delivery is one event to POST.
type Delivery struct {
	ID   string // sent as X-Wapool-Event-Id; the position Ack stores
	Body []byte // the JSON body, sent as is
}

// Source is the durable log the sender reads.
type Source interface {
	// Position returns the id of the last delivery acknowledged; the sender
	// starts after it.
	Position(ctx context.Context) (string, error)
	// Next waits until there are deliveries after the id `after` and returns
	// up to max of them, in order; it returns ctx's error when ctx ends.
	Next(ctx context.Context, after string, max int) ([]Delivery, error)
	// Ack stores id as delivered (durably): everything up to it is done.
	Ack(id string) error
}

// Observer counts outcomes, for metrics. Its methods must not block.
type Observer interface {
	Delivered() // an event was acknowledged with a 2xx
	Retried()   // a POST failed and will be made again
	Dropped()   // an event was refused with a final 4xx: never sent again
}

// Config configures a Sender. URL and Secret are required.
type Config struct {
	// URL receives the POSTs: http or https.
	URL string
	// Secret is the HMAC-SHA256 key; not empty.
	Secret []byte
	// Client makes the requests. nil: an http.Client with DefaultTimeout per
	// request that does not follow redirects (a 3xx is retried like a 5xx).
	Client *http.Client
	// MinBackoff is the wait before the first retry of an event; each further
	// retry doubles it, up to MaxBackoff. Each wait is drawn in [d/2, d] (equal
	// jitter). A Retry-After header (408, 429, 503) lengthens a wait, still
	// bounded by MaxBackoff. 0: DefaultMinBackoff (500 ms) and
	// DefaultMaxBackoff (1 min).
	MinBackoff, MaxBackoff time.Duration
	// Batch is how many events one Source.Next returns at most; they are
	// acknowledged together. 0: DefaultBatch (64).
	Batch int
	// Observer counts outcomes; nil: none.
	Observer Observer
	// Log receives delivery problems (never a body); nil: no logs.
	Log *zap.Logger
	// Rand returns a number in [0, 1) for the jitter; nil: math/rand/v2.
	Rand func() float64
}

// Sender delivers a Source's events to Config.URL.
type Sender struct {
	cfg Config
	src Source

	mu     sync.Mutex // guards secret
	secret []byte
}

// New checks cfg and returns a Sender; Run starts it.
func New(cfg Config, src Source) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook url %q: want an http:// or https:// URL", cfg.URL)
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook: the secret is empty")
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
	return &Sender{cfg: cfg, src: src, secret: bytes.Clone(cfg.Secret)}, nil
}

type nopObserver struct{}

func (nopObserver) Delivered() {}
func (nopObserver) Retried()   {}
func (nopObserver) Dropped()   {}

// SetSecret replaces the signing key (e.g. on SIGHUP); the next POST uses it.
// An empty secret is ignored.
func (s *Sender) SetSecret(secret []byte) {
	if len(secret) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secret = bytes.Clone(secret)
}

func (s *Sender) currentSecret() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secret
}

// Sign returns the X-Wapool-Signature value of body: "sha256=" and the
// lowercase hex HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports, in constant time, whether signature (the
// X-Wapool-Signature header) signs body under secret. For receivers.
func Verify(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
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
	log.Info("webhook: delivering", zap.String("url", redact(s.cfg.URL)), zap.String("after", pos))
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
	failures := 0
	for {
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
			if !s.deliver(ctx, d, ack) {
				return nil
			}
			pos = d.ID
		}
		ack()
	}
}

// outcome of one POST.
type outcome int

const (
	delivered outcome = iota // 2xx
	retry                    // network error, timeout, 3xx, 408, 429, 5xx
	drop                     // any other 4xx: final
)

// classify sorts an HTTP status code.
func classify(code int) outcome {
	switch {
	case code >= 200 && code < 300:
		return delivered
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		return retry
	case code >= 400 && code < 500:
		return drop
	}
	return retry
}

// deliver POSTs d until it is delivered or dropped (true), or ctx ends
// (false). Before its first wait it calls flush, so that what was delivered
// before is acknowledged even if this event takes long.
func (s *Sender) deliver(ctx context.Context, d Delivery, flush func()) bool {
	log := s.cfg.Log.With(zap.String("event", d.ID))
	for attempt := 1; ; attempt++ {
		code, retryAfter, err := s.post(ctx, d)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			switch classify(code) {
			case delivered:
				s.cfg.Observer.Delivered()
				if attempt > 1 {
					log.Info("webhook: delivered after retries", zap.Int("attempts", attempt))
				}
				return true
			case drop:
				s.cfg.Observer.Dropped()
				log.Warn("webhook: the endpoint refused the event; dropped, not retried", zap.Int("status", code))
				return true
			}
		}
		s.cfg.Observer.Retried()
		wait := s.backoff(attempt, retryAfter)
		log.Warn("webhook: delivery failed; retrying", zap.Int("status", code), zap.Error(err), zap.Int("attempt", attempt), zap.Duration("in", wait))
		flush()
		if !s.sleep(ctx, wait) {
			return false
		}
	}
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
	req.Header.Set(SignatureHeader, Sign(s.currentSecret(), d.Body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, 0, err
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

// redact drops the user info and query of a URL for logs: either may hold
// a credential.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
