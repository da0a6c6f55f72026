package webhook

// Signatures: what the sender puts in the headers of each POST, and how a
// receiver checks them (Verify).

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of every POST.
const (
	// TimestampHeader holds when this POST was made, in Unix seconds
	// (decimal): a new value at each attempt. The signatures cover it, so
	// that a receiver can refuse a request replayed later (Verify).
	TimestampHeader = "X-Wapool-Timestamp"
	// SignatureHeader holds one signature per active secret, separated by
	// commas, in the order of the secrets (the first line of
	// --webhook-secret-file first): "sha256=<hex>" or
	// "sha256=<hex>,sha256=<hex>" while a secret rotates. Each is the
	// lowercase hex HMAC-SHA256, under one secret, of the timestamp, a dot
	// and the body: timestamp + "." + body.
	SignatureHeader = "X-Wapool-Signature"
	// EventIDHeader holds the event's id (its cursor): the same on every
	// retry of one event, and the key to de-duplicate by.
	EventIDHeader = "X-Wapool-Event-Id"
)

// MaxSecrets is how many secrets may sign at once: the current one and the
// next, while a receiver moves from one to the other.
const MaxSecrets = 2

// DefaultTolerance is the age (or advance) of a timestamp that Verify
// accepts when given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	// ErrTimestamp: no X-Wapool-Timestamp, not a number, or further from now
	// than the tolerance (a replay, or a clock far off).
	ErrTimestamp = errors.New("webhook timestamp missing or outside the tolerance")
	// ErrSignature: no signature in X-Wapool-Signature was made with the
	// secret over this timestamp and body.
	ErrSignature = errors.New("webhook signature does not match")
)

// Sign returns one signature: "sha256=" and the lowercase hex HMAC-SHA256,
// under secret, of timestamp + "." + body.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// signatures returns the X-Wapool-Signature value: one Sign per secret,
// joined by commas.
func signatures(secrets [][]byte, timestamp string, body []byte) string {
	out := make([]string, len(secrets))
	for i, s := range secrets {
		out[i] = Sign(s, timestamp, body)
	}
	return strings.Join(out, ",")
}

// Verify checks a POST as a receiver should, with its own secret: the
// X-Wapool-Timestamp header is within tolerance of now (either way; 0 means
// DefaultTolerance), and one of the signatures in X-Wapool-Signature is
// Sign(secret, timestamp, body), compared in constant time. body is the
// request body exactly as received. It returns nil, or an error wrapping
// ErrTimestamp or ErrSignature.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := h.Get(TimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q: %w", TimestampHeader, ts, ErrTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s %q is %v from now, more than %v: %w", TimestampHeader, ts, d.Round(time.Second), tolerance, ErrTimestamp)
	}
	want := []byte(Sign(secret, ts, body))
	ok := false
	for _, sig := range strings.Split(h.Get(SignatureHeader), ",") {
		// Check every entry, so that the time taken does not tell which.
		if hmac.Equal(want, []byte(strings.TrimSpace(sig))) {
			ok = true
		}
	}
	if !ok {
		return ErrSignature
	}
	return nil
}
