// Package sessionstore keeps wapool's tenants on disk: their ids, Chrome
// profile directories, metadata, the per-profile lock, and the durable outbox
// of messages with its idempotency index and its index of WhatsApp message
// ids.
//
// # Layout
//
//	<DataDir>/                 0700, refused when world-writable
//	  wapool.db                0600, bbolt: tenants, outbox, idempotency keys, event log
//	  profiles/<tenant>/       0700, Chrome --user-data-dir (Options.ProfilesDir may point elsewhere,
//	    .wapool.lock           0600  e.g. a Selenium-era chrome_data/ whose <user_id>/ dirs are adopted)
//	  cache/<tenant>/          0700, Chrome --disk-cache-dir; deletable at any time
//	  tmp/<tenant>/            0700, TMPDIR of the tenant's Chrome (or $TMPDIR/wapool-<hash8> when too long)
//
// Every path is built from a tenant id only after ValidateTenantID accepted
// it, so nothing outside ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ reaches the
// filesystem.
//
// # Lifecycle
//
//	Open ──► EnsureDirs / LockProfile(id) ──► … run the tenant … ──► Unlock ──► Close
//	  │                                                                       ▲
//	  └── a second Open of the same wapool.db (this or another process) fails ┘
//	      after Options.LockTimeout with an error wrapping ErrLocked
//
// A message in the outbox moves through these states (Enqueue creates it;
// the caller drives every later transition with UpdateMessage):
//
//	QUEUED ──► SENDING ──► SENT
//	   ▲          │  └───► FAILED
//	   └──────────┘ transient failure: back to QUEUED for a retry
//
// QUEUED and SENDING messages are "pending": they count against
// Options.QueueLimit and Pending returns them in FIFO (Seq) order, also after
// a restart. Finished (SENT, FAILED) messages and their idempotency keys are
// kept for Options.IdempotencyRetention after creation, then PurgeExpired
// removes them. FailPending moves all of a tenant's pending messages to
// FAILED at once (on Logout).
//
// For sending exactly once, an attempt sets Message.Clicked and
// Message.Noted with UpdateMessage just before it clicks send, and the
// bubble's data-id goes in Message.WAMessageID: within a tenant that id
// names one message at most (ErrWAIDClaimed), and MessageByWAID looks it up.
// A database from before that index gets it built at Open.
//
// # The event log
//
// Every message state change is appended to the event log in the same
// transaction as the change (Enqueue, UpdateMessage, FailPending); session
// state changes are appended by the supervisor. Each event has a cursor
// (the database's id and a sequence) that orders the log; readers list the
// events after a cursor and subscribe to the ones committed later, with no
// gap between the two. Events older than the retention (7 days) are purged;
// a consumer's delivered position (the webhook's) is kept in the store too.
//
// # Concurrency and ownership
//
// A Store is safe for concurrent use. Every method is one bbolt transaction:
// bbolt serializes writers and gives readers a consistent snapshot, so a
// read-modify-write (UpdateTenant, UpdateMessage, Enqueue's idempotency
// check) is atomic. The callbacks of UpdateTenant and UpdateMessage run inside
// the write transaction: keep them short and never call the Store from them
// (that would deadlock). Store.mu guards only the set of profile locks this
// Store holds. Durability: every write commits with fsync (bbolt's NoSync
// stays false), so a message Enqueue returned survives a crash.
//
// The Store owns no goroutine. The caller owns each ProfileLock it got and
// must Unlock it; Close does not release profile locks.
package sessionstore
