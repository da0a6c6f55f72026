package server

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/supervisor"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of wapool's reasons.
const ErrorDomain = "wapool.dev"

// errorClasses maps each supervisor error class to its code and, where a
// client must branch, its ErrorInfo reason. The first match wins.
var errorClasses = []struct {
	err    error
	code   codes.Code
	reason string
}{
	{supervisor.ErrIdempotencyKeyReused, codes.InvalidArgument, "IDEMPOTENCY_KEY_REUSED"},
	{supervisor.ErrInvalidTenantID, codes.InvalidArgument, "INVALID_TENANT_ID"},
	{supervisor.ErrInvalidPhone, codes.InvalidArgument, "INVALID_PHONE"},
	{supervisor.ErrInvalidText, codes.InvalidArgument, "INVALID_TEXT"},
	{supervisor.ErrNotFound, codes.NotFound, ""},
	{supervisor.ErrRecipientNotOnWA, codes.FailedPrecondition, supervisor.ReasonRecipientNotOnWhatsApp},
	{supervisor.ErrNotLinked, codes.FailedPrecondition, "NOT_LINKED"},
	{supervisor.ErrSessionFailed, codes.FailedPrecondition, "SESSION_FAILED"},
	{supervisor.ErrProfileLocked, codes.FailedPrecondition, "PROFILE_LOCKED"},
	{supervisor.ErrQueueFull, codes.ResourceExhausted, "QUEUE_FULL"},
	{supervisor.ErrCodesExhausted, codes.DeadlineExceeded, "LINK_CODES_EXHAUSTED"},
	{supervisor.ErrUnavailable, codes.Unavailable, ""},
	{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
	{context.Canceled, codes.Canceled, ""},
}

// toStatus is the one place where domain errors become gRPC statuses.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, c := range errorClasses {
		if !errors.Is(err, c.err) {
			continue
		}
		st := status.New(c.code, err.Error())
		if c.reason != "" {
			if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: c.reason, Domain: ErrorDomain}); derr == nil {
				st = d
			}
		}
		return st.Err()
	}
	return status.Error(codes.Internal, err.Error())
}
