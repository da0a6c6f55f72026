package server

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of wapool's reasons.
const ErrorDomain = "wapool.dev"

// reasonTenantMoving: another node holds the tenant (cluster mode); the
// forwarder follows it, a client retries.
const reasonTenantMoving = "TENANT_MOVING"

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
	{supervisor.ErrInvalidKey, codes.InvalidArgument, "INVALID_IDEMPOTENCY_KEY"},
	{errMediaTooLarge, codes.InvalidArgument, "MEDIA_TOO_LARGE"},
	{errInvalidMedia, codes.InvalidArgument, "INVALID_MEDIA"},
	{errMediaOff, codes.FailedPrecondition, "MEDIA_OFF"},
	{errMediaUnavailable, codes.Unavailable, "MEDIA_UNAVAILABLE"},
	{errBadStream, codes.InvalidArgument, "INVALID_STREAM"},
	{supervisor.ErrInvalidCursor, codes.InvalidArgument, "INVALID_CURSOR"},
	{supervisor.ErrCursorOutOfRange, codes.OutOfRange, "CURSOR_OUT_OF_RANGE"},
	{supervisor.ErrSlowConsumer, codes.ResourceExhausted, "SLOW_CONSUMER"},
	{supervisor.ErrNotFound, codes.NotFound, ""},
	{supervisor.ErrRecipientNotOnWA, codes.FailedPrecondition, supervisor.ReasonRecipientNotOnWhatsApp},
	{supervisor.ErrNotLinked, codes.FailedPrecondition, "NOT_LINKED"},
	{supervisor.ErrSessionFailed, codes.FailedPrecondition, "SESSION_FAILED"},
	{supervisor.ErrProfileLocked, codes.FailedPrecondition, "PROFILE_LOCKED"},
	{supervisor.ErrQueueFull, codes.ResourceExhausted, "QUEUE_FULL"},
	{supervisor.ErrNoCapacity, codes.ResourceExhausted, "NO_CAPACITY"},
	{supervisor.ErrNotRunning, codes.FailedPrecondition, "BROWSER_NOT_RUNNING"},
	{supervisor.ErrCodesExhausted, codes.DeadlineExceeded, "LINK_CODES_EXHAUSTED"},
	{supervisor.ErrNotHolder, codes.Unavailable, reasonTenantMoving},
	{errNotACluster, codes.FailedPrecondition, "NOT_A_CLUSTER"},
	{errWebhookOff, codes.FailedPrecondition, "WEBHOOK_OFF"},
	{errInvalidWebhook, codes.InvalidArgument, "INVALID_WEBHOOK"},
	{sessionstore.ErrWebhookExists, codes.AlreadyExists, "WEBHOOK_EXISTS"},
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
			info := &errdetails.ErrorInfo{Reason: c.reason, Domain: ErrorDomain, Metadata: errorMetadata(err)}
			if d, derr := st.WithDetails(info); derr == nil {
				st = d
			}
		}
		return st.Err()
	}
	if sessionstore.Unavailable(err) {
		return status.Error(codes.Unavailable, err.Error()) // the store did not answer: retry
	}
	return status.Error(codes.Internal, err.Error())
}

// errorMetadata is the ErrorInfo metadata of the errors that tell a client
// where to go on: the cursors of WatchEvents (see WatchEventsRequest.after
// in the proto), the file size limit of Send. nil for the others.
func errorMetadata(err error) map[string]string {
	var re *supervisor.CursorRangeError
	if errors.As(err, &re) {
		return map[string]string{"cursor": re.Cursor, "oldest_cursor": re.Oldest, "start_cursor": re.Start}
	}
	var se *supervisor.SlowConsumerError
	if errors.As(err, &se) {
		return map[string]string{"cursor": se.Cursor}
	}
	var me *MediaTooLargeError
	if errors.As(err, &me) {
		return map[string]string{"max_media_bytes": strconv.FormatInt(me.Max, 10)}
	}
	return nil
}
