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
//	node A: Chrome closed gracefully ──► Save(tenant, dir)
//	                                         │ one upload, committed on Close
//	                                         ▼
//	        bucket: <tenant>/snapshot.tar.zst  (metadata: taken_at, files)
//	                                         │ Newest: one HEAD, no download
//	                                         ▼
//	node B: Restore(tenant, dir) ──► Chrome starts on dir ──► … ──► Save
//	        (Delete removes every object under <tenant>/)
//
// Keying: one object per tenant, <tenant>/snapshot.tar.zst, overwritten by
// each Save. Object stores replace an object whole when its upload commits,
// so a reader sees the old snapshot or the new one, never half; there is no
// listing or pruning on the hot path, and no clock of one node is compared
// with another's. The archive's first entry is a manifest with the tenant,
// the time taken and the file count, so Restore checks what it got against
// what Save wrote; zstd's checksum covers the rest.
//
// Concurrency: a Store holds no mutable state of its own (the blob.Bucket it
// wraps is safe for concurrent use), so its methods may be called from any
// goroutine, and it starts no goroutine. Per tenant the caller serializes
// Save, Restore and Delete (in a cluster, the tenant's lease does): two Saves
// at once leave whichever committed last.
package snapshot
