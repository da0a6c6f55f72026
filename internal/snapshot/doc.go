// Package snapshot keeps tenants' Chrome profiles in object storage, so that
// another node of a cluster can start a tenant without re-linking WhatsApp
// (DESIGN.md, "Cluster mode").
//
// A snapshot is a tar archive, compressed with zstd, of a tenant's profile
// dir (Chrome's --user-data-dir) without its caches and junk: exclude.go
// holds the one table of what is left out. What stays is what keeps Chrome
// logged in to WhatsApp Web: IndexedDB (where the login lives), cookies,
// Local Storage, Preferences, "Local State" and the rest of the profile's
// state. The caller takes a snapshot only after Chrome closed gracefully
// (Browser.close or SIGINT, never SIGTERM or SIGKILL), so it is consistent.
//
// Lifecycle of a tenant's profile across nodes:
//
//	node A (lease epoch e): Chrome closed gracefully ──► Save(tenant, dir, {g, e})
//	                                         │ one upload, committed on Close
//	                                         ▼
//	        bucket: <tenant>/<g>-<e>.snap  (sealed: age ‖ tag; metadata: taken_at, files)
//	                                         │ the caller records g as current
//	                                         ▼ (fenced, in its store), then Prune
//	node B: Restore(tenant, dir, {g, e}) ──► Chrome starts on dir ──► … ──► Save {g+1, e'}
//	        (Delete removes every object under <tenant>/)
//
// Keying: one object per snapshot, "<tenant>/<gen>-<epoch>.snap", written
// once. Which one is current is not the bucket's to say: the caller keeps
// the generation (a counter beside the tenant's lease in PostgreSQL) and
// records it only while it holds the lease, so a node that lost its lease
// during an upload writes an object nobody reads, and cannot roll the new
// holder's profile back; no clock of one node is compared with another's.
// The archive's first entry is a manifest with the tenant, the generation,
// the epoch, the time taken and the file count, so Restore checks what it
// got against what it asked for; zstd's checksum covers the rest.
//
// Encryption (crypt.go): with keys (Options.Keys, from --snapshot-key-file)
// the archive is encrypted with age and followed by an HMAC tag bound to
// the tenant, the generation and the epoch; Restore refuses a plaintext
// object, one no key opens, and one copied under another tenant's or
// generation's key. Without keys (Options.Unencrypted) snapshots are
// plaintext. On file://, objects are 0600 and dirs 0700.
//
// Concurrency: a Store holds no mutable state of its own (the blob.Bucket it
// wraps is safe for concurrent use), so its methods may be called from any
// goroutine, and it starts no goroutine. Per tenant the caller serializes
// Save, Restore, Prune and Delete (in a cluster, the tenant's lease does).
package snapshot
