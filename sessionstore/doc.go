// Package sessionstore keeps wapool's tenants: their ids, Chrome profile
// directories, metadata, the per-profile lock, the durable outbox of
// messages with its idempotency index and its index of WhatsApp message ids,
// the event log, and (cluster mode) tenant leases and the nodes.
//
// # Backends
//
// The metadata (tenants, the outbox, the event log, consumer positions,
// leases, nodes) lives in one of two backends, chosen by Options.URL:
//
//   - "" (the default): the local bbolt file DataDir/wapool.db, for one node.
//   - postgres://…: a PostgreSQL database shared by the nodes of a cluster
//     (pg*.go). Open applies the schema migrations of pgschema/ (versioned in
//     schema_migrations, under an advisory lock so nodes starting together
//     take turns). Rows hold the Go structs as JSON with the tags bbolt uses,
//     so both backends behave alike; one conformance suite runs over both.
//
// Profiles, caches, tmp dirs and profile locks stay local under DataDir
// with either backend. Every metadata method of Store branches to the
// PostgreSQL code when Store.pg is set and runs the bbolt code otherwise.
//
// # Layout
//
//	<DataDir>/                 0700, refused when world-writable
//	  wapool.db                0600, bbolt: tenants, outbox, idempotency keys, event log, leases, nodes
//	                                 (absent with PostgreSQL)
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
// a consumer's delivered position (the webhook's) is kept in the store too,
// and so is its dead-letter list: the events it gave up delivering, with
// their bodies, until they are redelivered (deadevents.go).
// With PostgreSQL the log is the cluster's: every node's subscribers get the
// events of all nodes, in order (pgevents.go).
//
// # Leases and fencing (cluster mode)
//
// With Options.NodeID set, a node runs a tenant only while it holds the
// tenant's lease (AcquireLease, RenewLeases well inside the TTL,
// ReleaseLease). Each take of a lease after it was free, released or
// expired raises its epoch by one; the Store remembers the epoch it got as
// its fence for the tenant (Fence). The supervisor's outbox writes of a
// tenant — UpdateMessage, FailPending and AppendSessionEvent — are fenced:
// inside their own transaction the lease must still name this node with the
// fenced epoch and be unexpired, else they fail with ErrFenced and write
// nothing (no fence at all: ErrFenced too). So a node that lost its lease,
// paused or partitioned, can never change the outbox, whatever it believes.
// Enqueue, PutTenant, UpdateTenant, DeleteTenant, PurgeExpired and reads
// are not fenced: any node may accept a message; the holder sends it. With
// PostgreSQL the database's clock decides expiry, so node clocks do not
// matter; the messages table keeps each row's last fenced writer's epoch.
// With NodeID "" (one node) nothing is fenced and the lease and node
// methods fail with ErrNoNodeID.
//
//	AcquireLease ──► epoch e (fence) ──► fenced writes ok ──► RenewLeases … ──► ReleaseLease
//	                                        │
//	      lease expired or taken (epoch e+1) └──► ErrFenced; RenewLeases drops the fence
//
// Nodes register a row (RegisterNode), heartbeat it (Heartbeat) and read the
// live ones (Nodes) for placement; SetDraining marks one as leaving.
//
// # Concurrency and ownership
//
// A Store is safe for concurrent use. Every method is one transaction. bbolt
// serializes writers and gives readers a consistent snapshot; PostgreSQL
// locks the rows a read-modify-write changes (SELECT … FOR UPDATE, and a
// per-tenant row that serializes Enqueue's idempotency check and queue
// count, also between nodes). Either way a read-modify-write (UpdateTenant,
// UpdateMessage, Enqueue) is atomic. The callbacks of UpdateTenant and
// UpdateMessage run inside the write transaction: keep them short and never
// call the Store from them (that would deadlock). Store.mu guards the
// profile locks and the lease fences this Store holds. Durability: every
// write commits with fsync before it returns (bbolt's NoSync stays false;
// PostgreSQL commits synchronously unless its server is told otherwise), so
// a message Enqueue returned survives a crash.
//
// A bbolt Store owns no goroutine. A PostgreSQL Store owns one, its event
// listener, started by Open and ended by Close, which waits for it. The
// caller owns each ProfileLock it got and must Unlock it; Close does not
// release profile locks.
package sessionstore
