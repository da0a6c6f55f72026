package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// statusErr builds a daemon error, with an ErrorInfo when reason is set.
func statusErr(t testing.TB, code codes.Code, msg, reason string) error {
	t.Helper()
	st := status.New(code, msg)
	if reason != "" {
		var err error
		st, err = st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "wapool.dev"})
		if err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name      string
		f         callFailure
		err       error
		reachable bool
		local     bool
		wantCode  string
		wantLine  []string // substrings of the one-line message
	}{
		{"not linked", callFailure{op: "send", tenant: "shop1"},
			statusErr(t, codes.FailedPrecondition, "tenant not linked", reasonNotLinked), true, false,
			"FAILED_PRECONDITION", []string{`tenant "shop1" is not linked: run ` + "`wapoolctl link shop1`"}},
		{"session failed", callFailure{op: "send", tenant: "shop1"},
			statusErr(t, codes.FailedPrecondition, "crash loop", reasonSessionFailed), true, false,
			"FAILED_PRECONDITION", []string{"FAILED", "crash loop", "wapoolctl status shop1"}},
		{"not on whatsapp", callFailure{op: "send", tenant: "shop1", to: "+4915100000000"},
			statusErr(t, codes.FailedPrecondition, "invalid phone", reasonNotOnWhatsApp), true, false,
			"FAILED_PRECONDITION", []string{"recipient +4915100000000 is not on WhatsApp", "country code"}},
		{"profile locked", callFailure{op: "status", tenant: "shop1"},
			statusErr(t, codes.FailedPrecondition, "locked", reasonProfileLocked), true, false,
			"FAILED_PRECONDITION", []string{"locked by another wapoold", "stop the other daemon"}},
		{"other precondition", callFailure{op: "screenshot", tenant: "shop1"},
			statusErr(t, codes.FailedPrecondition, "browser not running", ""), true, false,
			"FAILED_PRECONDITION", []string{"browser not running", "wapoolctl status shop1"}},
		{"key reused", callFailure{op: "send", tenant: "shop1", key: "order-7"},
			statusErr(t, codes.InvalidArgument, "key reused", reasonKeyReused), true, false,
			"INVALID_ARGUMENT", []string{`idempotency key "order-7"`, "new --key"}},
		{"invalid", callFailure{op: "send", tenant: "shop1"},
			statusErr(t, codes.InvalidArgument, "text is empty", ""), true, false,
			"INVALID_ARGUMENT", []string{"invalid (text is empty)", "international"}},
		{"tenant not found", callFailure{op: "status", tenant: "nope"},
			statusErr(t, codes.NotFound, "no such tenant", ""), true, false,
			"NOT_FOUND", []string{`tenant "nope" not found`, "wapoolctl list"}},
		{"message not found", callFailure{op: "get", tenant: "shop1", messageID: "m9"},
			statusErr(t, codes.NotFound, "no such message", ""), true, false,
			"NOT_FOUND", []string{`message "m9" of tenant "shop1" not found`}},
		{"daemon down", callFailure{op: "list"},
			statusErr(t, codes.Unavailable, "connection error: connection refused", ""), false, false,
			"UNAVAILABLE", []string{"the daemon is not reachable at 127.0.0.1:7440 (is wapoold running?)"}},
		{"tls", callFailure{op: "list"},
			statusErr(t, codes.Unavailable, "authentication handshake failed: tls: bad certificate", ""), false, false,
			"UNAVAILABLE", []string{"TLS handshake", "--tls-ca"}},
		{"tls closed", callFailure{op: "list", tls: true},
			statusErr(t, codes.Unavailable, "write tcp 127.0.0.1:1->127.0.0.1:7440: write: broken pipe", ""), false, false,
			"UNAVAILABLE", []string{"closed the TLS connection", "--tls-cert"}},
		{"tls daemon down", callFailure{op: "list", tls: true},
			statusErr(t, codes.Unavailable, "dial tcp: connect: connection refused", ""), false, false,
			"UNAVAILABLE", []string{"not reachable at 127.0.0.1:7440"}},
		{"restarting", callFailure{op: "send", tenant: "shop1"},
			statusErr(t, codes.Unavailable, "browser restarting", ""), true, false,
			"UNAVAILABLE", []string{`tenant "shop1"'s browser is restarting`, "retry"}},
		{"exhausted", callFailure{op: "send", tenant: "shop1"},
			statusErr(t, codes.ResourceExhausted, "queue full", ""), true, false,
			"RESOURCE_EXHAUSTED", []string{"capacity", "queue full", "retry later"}},
		{"codes ran out", callFailure{op: "link", tenant: "shop1"},
			statusErr(t, codes.DeadlineExceeded, "no scan", ""), true, false,
			"DEADLINE_EXCEEDED", []string{"codes ran out", "wapoolctl link shop1"}},
		{"our timeout on send", callFailure{op: "send", tenant: "shop1", key: "k1", timeout: 30 * time.Second},
			statusErr(t, codes.DeadlineExceeded, "context deadline exceeded", ""), true, true,
			"DEADLINE_EXCEEDED", []string{"within 30s (--timeout)", "same --key"}},
		{"our timeout on link", callFailure{op: "link", tenant: "shop1", timeout: time.Minute},
			statusErr(t, codes.DeadlineExceeded, "context deadline exceeded", ""), false, true,
			"DEADLINE_EXCEEDED", []string{"within 1m0s", "drop --timeout"}},
		{"unauthenticated", callFailure{op: "list"},
			statusErr(t, codes.Unauthenticated, "bad token", ""), true, false,
			"UNAUTHENTICATED", []string{"refused the credentials", "--token-file"}},
		{"unimplemented", callFailure{op: "list"},
			statusErr(t, codes.Unimplemented, "unknown service", ""), true, false,
			"UNIMPLEMENTED", []string{"does not offer this call"}},
		{"internal", callFailure{op: "list"},
			statusErr(t, codes.Internal, "boom", ""), true, false,
			"INTERNAL", []string{"the daemon failed (boom)", "log"}},
		{"cancelled link", callFailure{op: "link", tenant: "shop1"},
			statusErr(t, codes.Canceled, "context canceled", ""), true, false,
			"CANCELLED", []string{"link cancelled", "stays warm"}},
		{"aborted", callFailure{op: "send", tenant: "shop1"},
			statusErr(t, codes.Aborted, "conflict", ""), true, false,
			"ABORTED", []string{"aborted (conflict)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.addr = "127.0.0.1:7440"
			f.setStatus(tc.err)
			f.reachable = f.reachable || tc.reachable
			f.localDeadline = tc.local
			h := describe(&f)
			if h.Code != tc.wantCode {
				t.Errorf("code %q, want %q", h.Code, tc.wantCode)
			}
			wantReason := ""
			if d := status.Convert(tc.err).Details(); len(d) > 0 {
				wantReason = d[0].(*errdetails.ErrorInfo).GetReason()
			}
			if h.Reason != wantReason {
				t.Errorf("reason %q, want %q", h.Reason, wantReason)
			}
			line := h.line()
			if strings.Contains(line, "\n") {
				t.Errorf("message spans lines: %q", line)
			}
			for _, want := range tc.wantLine {
				if !strings.Contains(line, want) {
					t.Errorf("message %q lacks %q", line, want)
				}
			}
			if h.Detail != status.Convert(tc.err).Message() {
				t.Errorf("detail %q", h.Detail)
			}
		})
	}
}

func TestErrorMappingLocal(t *testing.T) {
	h := describe(errors.New("reading the token file: open x: no such file\nor directory"))
	if h.Code != "LOCAL" || strings.Contains(h.Message, "\n") || !strings.Contains(h.Message, "token file") {
		t.Fatalf("local error described as %+v", h)
	}
}

func TestCodeNames(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		n := codeName(c)
		if n == "" || strings.HasPrefix(n, "CODE_") || strings.ToUpper(n) != n {
			t.Errorf("code %d named %q", c, n)
		}
	}
	if codeName(codes.Code(99)) != "CODE_99" {
		t.Error("unknown code not named CODE_99")
	}
}

func errInfo(reason string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason, Domain: "wapool.dev"}
}
