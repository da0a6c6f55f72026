package server

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/supervisor"
)

// TestToStatusClasses: each error class reaches the client as its code and
// reason, wrapped as the supervisor wraps it.
func TestToStatusClasses(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{supervisor.ErrInvalidKey, codes.InvalidArgument, "INVALID_IDEMPOTENCY_KEY"},
		{supervisor.ErrInvalidText, codes.InvalidArgument, "INVALID_TEXT"},
		{supervisor.ErrNoCapacity, codes.ResourceExhausted, "NO_CAPACITY"},
		{supervisor.ErrQueueFull, codes.ResourceExhausted, "QUEUE_FULL"},
		{supervisor.ErrNotRunning, codes.FailedPrecondition, "BROWSER_NOT_RUNNING"},
		{supervisor.ErrUnavailable, codes.Unavailable, ""},
		{&pgconn.PgError{Code: "57P01"}, codes.Unavailable, ""}, // PostgreSQL shutting down: retry
		{errors.New("something else"), codes.Internal, ""},
	} {
		st := status.Convert(toStatus(fmt.Errorf("tenant %q: %w", "t1", tc.err)))
		var reason string
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.Reason
			}
		}
		if st.Code() != tc.code || reason != tc.reason {
			t.Errorf("%v: %v %q, want %v %q", tc.err, st.Code(), reason, tc.code, tc.reason)
		}
	}
}
