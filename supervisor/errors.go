package supervisor

import (
	"errors"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// Error classes. Domain errors wrap one of these with the tenant or message
// id quoted; the server maps each class to one gRPC code.
var (
	ErrInvalidTenantID      = sessionstore.ErrInvalidTenantID       // INVALID_ARGUMENT
	ErrInvalidPhone         = errors.New("invalid phone number")    // INVALID_ARGUMENT
	ErrInvalidText          = errors.New("invalid text")            // INVALID_ARGUMENT
	ErrInvalidKey           = errors.New("invalid idempotency key") // INVALID_ARGUMENT, reason INVALID_IDEMPOTENCY_KEY
	ErrIdempotencyKeyReused = sessionstore.ErrIdempotencyKeyReused  // INVALID_ARGUMENT, reason IDEMPOTENCY_KEY_REUSED
	ErrNotFound             = sessionstore.ErrNotFound              // NOT_FOUND
	ErrNotLinked            = errors.New("not linked")              // FAILED_PRECONDITION, reason NOT_LINKED
	ErrSessionFailed        = errors.New("session failed")          // FAILED_PRECONDITION, reason SESSION_FAILED
	ErrRecipientNotOnWA     = waweb.ErrRecipientNotOnWhatsApp       // FAILED_PRECONDITION, reason RECIPIENT_NOT_ON_WHATSAPP
	ErrProfileLocked        = sessionstore.ErrLocked                // FAILED_PRECONDITION, reason PROFILE_LOCKED
	ErrUnavailable          = errors.New("temporarily unavailable") // UNAVAILABLE: retry
	ErrQueueFull            = sessionstore.ErrQueueFull             // RESOURCE_EXHAUSTED, reason QUEUE_FULL
	ErrNoCapacity           = errors.New("no free browser slot")    // RESOURCE_EXHAUSTED, reason NO_CAPACITY
	ErrNotRunning           = errors.New("no running browser")      // FAILED_PRECONDITION, reason BROWSER_NOT_RUNNING
	ErrCodesExhausted       = errors.New("link codes ran out")      // DEADLINE_EXCEEDED
)

// Reasons stored with FAILED messages, as the API's ErrorInfo spells them.
const (
	ReasonRecipientNotOnWhatsApp = "RECIPIENT_NOT_ON_WHATSAPP"
	ReasonSendFailed             = "SEND_FAILED"
	ReasonLoggedOut              = "LOGGED_OUT" // the tenant was logged out (Logout) first
	// ReasonUnconfirmed: the message was clicked, then its tenant's profile
	// was restored from a snapshot older than the click, which cannot show
	// whether it went out. It is never clicked again: it may have gone out.
	ReasonUnconfirmed = "UNCONFIRMED"
)
