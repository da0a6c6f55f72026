package sessionstore

import "errors"

// Sentinel errors; check them with errors.Is. Errors returned by the Store
// wrap them and quote the tenant, message or key they concern.
var (
	// ErrInvalidTenantID: the id does not match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.
	ErrInvalidTenantID = errors.New("invalid tenant id")
	// ErrNotFound: no such tenant or message.
	ErrNotFound = errors.New("not found")
	// ErrLocked: a tenant profile (or the database) is held by another process
	// or by another lock of this one.
	ErrLocked = errors.New("profile locked by another process")
	// ErrIdempotencyKeyReused: the key already names a message of the tenant
	// with a different recipient or text.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different message")
	// ErrQueueFull: the tenant already has Options.QueueLimit pending messages.
	ErrQueueFull = errors.New("queue full")
	// ErrInvalidMessage: Enqueue got a message without recipient or text, an
	// over-long idempotency key, or UpdateMessage set an unknown state.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrWAIDClaimed: UpdateMessage would give a message a WhatsApp message id
	// (Message.WAMessageID) that another message of the tenant already
	// carries. One bubble is one message: nothing was stored.
	ErrWAIDClaimed = errors.New("WhatsApp message id already claimed by another message")
	// ErrInsecureDir: a directory the store would use is world-writable or,
	// for a temporary directory outside DataDir, owned by another user.
	ErrInsecureDir = errors.New("insecure directory")
)
