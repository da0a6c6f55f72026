package supervisor

import (
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// State is a tenant's session state.
type State int

// Session states; see the package doc for the transitions.
const (
	StateUnknown State = iota
	StateStarting
	StateUnlinked
	StateLinking
	StateReady
	StateHibernated
	StateRestarting
	StateFailed
)

var stateNames = [...]string{"UNKNOWN", "STARTING", "UNLINKED", "LINKING", "READY", "HIBERNATED", "RESTARTING", "FAILED"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// Session is a snapshot of one tenant.
type Session struct {
	TenantID   string
	State      State
	Phone      string // digits; "" when unknown
	Linked     bool
	LastActive time.Time
	LastError  string

	Running   bool // a Chrome runs for the tenant
	PID       int
	StartedAt time.Time
	Restarts  int    // browser restarts after a death since the daemon started
	LastExit  string // how the previous Chrome ended
	// MemoryBytes is the PSS of the browser's process tree, read when the
	// session is, at most MemorySampleEvery (1 min) old; 0 when not running.
	MemoryBytes uint64
	Recycles    int // graceful restarts for memory since the daemon started

	Queued       int   // messages QUEUED or SENDING
	ProfileBytes int64 // disk use of the profile
	// PageContract names the page contract's check (a Selectors key such
	// as "send_button") that the tenant's page fails, while its queue is
	// held for it; "" while the contract holds (contract.go).
	PageContract string

	// Cluster mode: the node running the tenant ("" when none runs it), and
	// when its newest profile snapshot was taken (zero when none).
	Node       string
	SnapshotAt time.Time
	// StaleRestore is set when the profile was last restored from a
	// snapshot older than the tenant's last activity (noteRestore); nil
	// otherwise.
	StaleRestore *StaleRestore
}

// StaleRestore is a restore from a snapshot older than the tenant's last
// activity: when, the snapshot's time, the activity's, and Behind.
type StaleRestore = sessionstore.StaleRestore

// Message is one message of the outbox.
type Message = sessionstore.Message

// MessageState is where a message is in its life.
type MessageState = sessionstore.MessageState

// Message states.
const (
	MessageQueued  = sessionstore.StateQueued
	MessageSending = sessionstore.StateSending
	MessageSent    = sessionstore.StateSent
	MessageFailed  = sessionstore.StateFailed
)

// LinkEvent is one event of a link attempt; exactly one field is set.
type LinkEvent struct {
	QR      *QRCode
	Pairing *PairingCode
	Linked  *Linked
}

// QRCode is a QR code the page shows.
type QRCode struct {
	Code     string
	PNG      []byte
	Sequence uint32
	ValidFor time.Duration
}

// PairingCode is a code to enter on the phone.
type PairingCode struct {
	Code     string
	Sequence uint32
	ValidFor time.Duration
}

// Linked ends a link attempt.
type Linked struct {
	Phone         string
	AlreadyLinked bool
}
