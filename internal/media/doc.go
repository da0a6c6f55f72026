// Package media keeps the files of messages (DESIGN.md fact 19, issue 25)
// by their SHA-256, outside the outbox: a message names its file in
// sessionstore.Media, and the bytes live here.
//
// Layout. On every node, <data-dir>/media/<sha256>: one file per content,
// mode 0600 in a 0700 dir, written to a temp file (".tmp-*"), fsynced,
// renamed into place and the dir fsynced, so a name that exists always holds
// all its bytes. In cluster mode the bytes are also in the shared bucket of
// the profile snapshots (--profile-store), under "_media/<sha256>" (no
// tenant id starts with "_", so no tenant's snapshots share the prefix),
// sealed with age to the snapshot keys when there are any (--snapshot-key-file);
// the name is the hash of the plaintext, checked on every fetch.
//
// Lifecycle of a file:
//
//	Send ──► Put: hash, pin, write Dir/<sha> (unless there), upload (cluster,
//	         unless there) ──► the caller enqueues its message ──► release
//	SendFile ──► PutReader: write a temp file as the chunks come, hashing;
//	         fsync; pin; rename to Dir/<sha> (or drop it: there already);
//	         upload from the file (cluster, unless there) ──► as Put
//	                                   │
//	runner ──► Local(sha): Dir/<sha>, fetched from the bucket when missing
//	                                   │
//	Sweep (hourly) ──► no kept message names it (sessionstore ReferencedMedia:
//	         pending, or finished within the retention), not pinned, not put
//	         since the sweep began, older than Grace ──► deleted (Dir; the
//	         bucket on the node that leads the sweep)
//
// The same bytes sent again (an idempotent retry, or the same invoice to
// another customer) are written and uploaded once: Put finds them.
//
// Concurrency: a Store may be used from any goroutine. mu guards the pins
// and the set of hashes put during a sweep; Sweep runs one at a time
// (sweepMu, taken before mu). A Put pins its hash before it looks for the
// file, and the sweep deletes a file only under mu, only when it is neither
// pinned nor put since the sweep read which files messages name: so a file
// that a Send on this node found, or wrote, is never deleted under it. Run
// is the one goroutine a Store has; it returns once its sweep has ended.
//
// Limit of the shared bucket: another node's Send that finds an old object
// (its last message expired) while this node's sweep deletes it would leave
// a message whose bytes are only on that node's disk; the sending node then
// finds them there (Local), unless the tenant moved. Grace keeps new
// objects out of every sweep; the window is one sweep's list-to-delete
// time, once a day per file at most.
package media
