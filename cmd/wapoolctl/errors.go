package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// The google.rpc.ErrorInfo reasons wapool sends in domain "wapool.dev".
const (
	reasonNotOnWhatsApp = "RECIPIENT_NOT_ON_WHATSAPP"
	reasonNotLinked     = "NOT_LINKED"
	reasonSessionFailed = "SESSION_FAILED"
	reasonKeyReused     = "IDEMPOTENCY_KEY_REUSED"
	reasonProfileLocked = "PROFILE_LOCKED"
	reasonInvalidCursor = "INVALID_CURSOR"
	reasonCursorRange   = "CURSOR_OUT_OF_RANGE"
	reasonWebhookOff    = "WEBHOOK_OFF"
	reasonMediaTooLarge = "MEDIA_TOO_LARGE"
	reasonInvalidMedia  = "INVALID_MEDIA"
	reasonMediaStore    = "MEDIA_UNAVAILABLE"
	reasonMediaOff      = "MEDIA_OFF"
)

// callFailure is a failed RPC with what is needed to explain it.
type callFailure struct {
	op        string // the command: link, send, get, status, list, logout, screenshot, drain
	tenant    string
	to        string // send only
	messageID string // get only
	key       string // send only: the idempotency key
	file      string // send only: the --file given; "" for a text
	addr      string
	tls       bool          // the connection uses TLS
	timeout   time.Duration // --timeout of the call; 0 when none

	st     *status.Status
	reason string // ErrorInfo reason; "" when none
	// reachable is true when the answer came from the daemon (the
	// connection was up, or the status carried details), false when the
	// connection itself failed.
	reachable bool
	// localDeadline is true when our own --timeout expired.
	localDeadline bool
}

func (f *callFailure) Error() string { return describe(f).line() }

// fail wraps the error of an RPC made with ctx into a callFailure.
func (c *cli) fail(ctx context.Context, err error, f callFailure) error {
	f.setStatus(err)
	f.addr = c.g.addr
	f.tls = c.g.useTLS()
	if c.g.timeout > 0 && (f.op != "link" || c.g.set["timeout"]) {
		f.timeout = c.g.timeout
	}
	if c.conn != nil && c.conn.GetState() == connectivity.Ready {
		f.reachable = true
	}
	f.localDeadline = errors.Is(ctx.Err(), context.DeadlineExceeded)
	return &f
}

// setStatus records err's status and ErrorInfo reason. A status with details
// came from the daemon, so it marks the failure reachable.
func (f *callFailure) setStatus(err error) {
	f.st = status.Convert(err)
	for _, d := range f.st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && f.reason == "" {
			f.reason = info.GetReason()
		}
	}
	f.reachable = len(f.st.Details()) > 0
}

// humanError is an error as wapoolctl shows it; it is also the JSON shape
// of errors with -o json.
type humanError struct {
	// Code is the gRPC code in upper snake case (NOT_FOUND), or LOCAL for a
	// failure on this side (a file that cannot be read or written).
	Code string `json:"code"`
	// Reason is the google.rpc.ErrorInfo reason; "" when none.
	Reason string `json:"reason"`
	// Message says what went wrong, in one line.
	Message string `json:"message"`
	// Hint says what to do about it; may be empty.
	Hint string `json:"hint,omitempty"`
	// Detail is the daemon's own status message; may be empty.
	Detail string `json:"detail,omitempty"`
}

func (h humanError) line() string {
	if h.Hint == "" {
		return h.Message
	}
	return h.Message + ": " + h.Hint
}

// describe turns any error of a command into a humanError.
func describe(err error) humanError {
	var f *callFailure
	if !errors.As(err, &f) {
		return humanError{Code: "LOCAL", Message: oneLine(err.Error(), 0)}
	}
	h := f.explain()
	h.Code = codeName(f.st.Code())
	h.Reason = f.reason
	h.Detail = oneLine(f.st.Message(), 0)
	return h
}

// explain is the table from gRPC code and reason to words.
func (f *callFailure) explain() humanError {
	detail := oneLine(f.st.Message(), 300)
	withDetail := func(s string) string {
		if detail == "" {
			return s
		}
		return s + " (" + detail + ")"
	}
	t := f.tenant
	switch f.st.Code() {
	case codes.InvalidArgument:
		if f.reason == reasonInvalidCursor && strings.HasPrefix(f.op, "events") {
			return humanError{
				Message: withDetail("not a cursor this daemon wrote"),
				Hint:    "pass cursors as `wapoolctl events dead` prints them (the first column)",
			}
		}
		if f.reason == reasonInvalidCursor {
			return humanError{
				Message: withDetail("--after is not a cursor this daemon wrote"),
				Hint:    "pass the cursor of an event as watch prints it (in [brackets] at the end of its line), or leave --after out to watch from now",
			}
		}
		switch f.reason {
		case reasonMediaTooLarge:
			return humanError{
				Message: withDetail(fmt.Sprintf("%s is larger than the daemon takes", f.file)),
				Hint:    "send a smaller file, or raise the daemon's --max-media-bytes",
			}
		case reasonInvalidMedia:
			return humanError{
				Message: withDetail(fmt.Sprintf("the daemon refused the file %s", f.file)),
				Hint:    "a file of at least one byte, whose name has 1 to 255 bytes and no control character",
			}
		}
		if f.reason == reasonKeyReused {
			return humanError{
				Message: fmt.Sprintf("idempotency key %q was already used for a different message", f.key),
				Hint:    "use a new --key, or repeat the same recipient and text to get the first message back",
			}
		}
		return humanError{
			Message: withDetail("the daemon refused the request as invalid"),
			Hint:    "tenant ids match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$, numbers are international (+4915112345678), text is 1 to 65,536 characters",
		}
	case codes.NotFound:
		if f.op == "events redeliver" {
			return humanError{
				Message: withDetail("an event named is not in the dead-letter list; none was marked for redelivery"),
				Hint:    "`wapoolctl events dead` lists the cursors; an event delivered since has left the list",
			}
		}
		if f.op == "drain" {
			return humanError{
				Message: withDetail("node not found"),
				Hint:    "name a node by its --node-id; `wapoolctl list` shows where each tenant runs",
			}
		}
		if f.op == "get" {
			return humanError{
				Message: withDetail(fmt.Sprintf("message %q of tenant %q not found", f.messageID, t)),
				Hint:    "check the id that send printed and the tenant",
			}
		}
		return humanError{
			Message: fmt.Sprintf("tenant %q not found", t),
			Hint:    fmt.Sprintf("see `wapoolctl list`; `wapoolctl link %s` creates and links it", t),
		}
	case codes.FailedPrecondition:
		switch f.reason {
		case reasonNotLinked:
			return humanError{
				Message: fmt.Sprintf("tenant %q is not linked", t),
				Hint:    fmt.Sprintf("run `wapoolctl link %s`", t),
			}
		case reasonSessionFailed:
			return humanError{
				Message: withDetail(fmt.Sprintf("tenant %q's session has FAILED", t)),
				Hint:    fmt.Sprintf("see `wapoolctl status %s` for the last error; `wapoolctl link %s` starts it again", t, t),
			}
		case reasonNotOnWhatsApp:
			return humanError{
				Message: fmt.Sprintf("recipient %s is not on WhatsApp", f.to),
				Hint:    "check the number: international format, country code first",
			}
		case reasonWebhookOff:
			return humanError{
				Message: "this daemon has no webhook: nothing would send the events again",
				Hint:    "start wapoold with --webhook-url and --webhook-secret-file",
			}
		case reasonMediaOff:
			return humanError{Message: withDetail("this daemon takes no files"), Hint: "send a text, or upgrade wapoold"}
		case reasonProfileLocked:
			return humanError{
				Message: fmt.Sprintf("tenant %q's profile is locked by another wapoold", t),
				Hint:    "stop the other daemon that uses this data dir, or point this one elsewhere",
			}
		}
		return humanError{
			Message: withDetail(fmt.Sprintf("tenant %q cannot do that now", t)),
			Hint:    fmt.Sprintf("see `wapoolctl status %s`", t),
		}
	case codes.Unavailable:
		if !f.reachable {
			if strings.Contains(detail, "handshake") || strings.Contains(detail, "tls:") || strings.Contains(detail, "x509") {
				return humanError{
					Message: withDetail(fmt.Sprintf("the TLS handshake with the daemon at %s failed", f.addr)),
					Hint:    "check --tls-ca, --tls-cert, --tls-key and --tls-server-name",
				}
			}
			if f.tls && !strings.Contains(detail, "connection refused") && !strings.Contains(detail, "no such host") {
				// TLS 1.3: a daemon that refuses our client certificate may
				// just drop the connection after the handshake.
				return humanError{
					Message: withDetail(fmt.Sprintf("the daemon at %s closed the TLS connection", f.addr)),
					Hint:    "a daemon that requires a client certificate drops connections without one it accepts: check --tls-cert and --tls-key",
				}
			}
			return humanError{
				Message: fmt.Sprintf("the daemon is not reachable at %s (is wapoold running?)", f.addr),
				Hint:    "start it, or point --addr / WAPOOL_ADDR at it; a daemon that requires TLS needs --tls-ca",
			}
		}
		if f.reason == reasonMediaStore {
			return humanError{
				Message: withDetail("the daemon could not store the file"),
				Hint:    "retry later with the same --key; see wapoold's log",
			}
		}
		return humanError{
			Message: withDetail(fmt.Sprintf("tenant %q's browser is restarting", t)),
			Hint:    "retry in a few seconds",
		}
	case codes.ResourceExhausted:
		if f.file != "" && f.reason == "" && strings.Contains(detail, "larger than max") {
			// gRPC's own refusal: the request is past the daemon's receive
			// limit, which follows its --max-media-bytes.
			return humanError{
				Message: withDetail(fmt.Sprintf("%s is larger than the daemon takes", f.file)),
				Hint:    "send a smaller file, or raise the daemon's --max-media-bytes",
			}
		}
		return humanError{
			Message: withDetail("the daemon is out of capacity"),
			Hint:    "the tenant's queue is full or no browser slot is free: retry later",
		}
	case codes.DeadlineExceeded:
		if f.localDeadline || f.op != "link" {
			return f.timedOut()
		}
		if t == "" {
			t = "<tenant>"
		}
		return humanError{
			Message: "the link codes ran out before the phone linked",
			Hint:    fmt.Sprintf("run `wapoolctl link %s` again and scan (or enter) the code sooner", t),
		}
	case codes.OutOfRange:
		if f.reason == reasonCursorRange {
			md := cursorInfo(f.st)
			h := humanError{Message: "the daemon's event log does not hold that cursor: its events were purged (kept 7 days), or it comes from another data dir"}
			if start := md["start_cursor"]; start != "" {
				h.Hint = fmt.Sprintf("read every event kept with --after %s (the oldest is %s), or leave --after out to watch from now", start, dash(md["oldest_cursor"]))
			}
			return h
		}
	case codes.Unauthenticated:
		return humanError{
			Message: withDetail("the daemon refused the credentials"),
			Hint:    "give a token with --token-file, --token or WAPOOL_TOKEN, or a client certificate with --tls-cert and --tls-key",
		}
	case codes.PermissionDenied:
		return humanError{Message: withDetail("permission denied"), Hint: "these credentials may not do that"}
	case codes.Canceled:
		if f.op == "link" {
			return humanError{Message: "link cancelled", Hint: fmt.Sprintf("the browser stays warm; run `wapoolctl link %s` to continue", t)}
		}
		return humanError{Message: "cancelled"}
	case codes.Unimplemented:
		return humanError{
			Message: withDetail(fmt.Sprintf("the daemon at %s does not offer this call", f.addr)),
			Hint:    "wapoolctl and wapoold versions differ, or --addr is not a wapoold",
		}
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return humanError{Message: withDetail("the daemon failed"), Hint: "see wapoold's log"}
	}
	return humanError{Message: withDetail(strings.ToLower(strings.ReplaceAll(codeName(f.st.Code()), "_", " ")))}
}

func (f *callFailure) timedOut() humanError {
	h := humanError{Message: "no answer from the daemon in time"}
	if f.timeout > 0 {
		h.Message = fmt.Sprintf("no answer from the daemon within %s (--timeout)", f.timeout)
	}
	switch f.op {
	case "send":
		h.Hint = "the message may still go out: retry with the same --key (it never sends twice) or raise --timeout"
		if f.key == "" {
			h.Hint = "the message may still go out: check `wapoolctl status` before retrying; use --key to retry safely"
		}
	case "link":
		h.Hint = "drop --timeout: link waits until the phone links"
	default:
		h.Hint = "raise --timeout, or see `wapoolctl list` for a busy tenant"
	}
	return h
}

// codeName spells a gRPC code as the protos do: NOT_FOUND.
func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", uint32(c))
}

var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}
