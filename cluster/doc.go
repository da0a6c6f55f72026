// Package cluster runs wapoold as one node of several that share a
// PostgreSQL store and an object store of profile snapshots (DESIGN.md,
// "Cluster mode"; docs/cluster.md).
//
// A node heartbeats in the store's nodes table and places tenants by
// rendezvous hashing over the live nodes that are not draining. It runs a
// tenant's browser only while it holds the tenant's lease: Claim takes the
// lease (restoring the newest profile snapshot when the local profile is
// older) before the supervisor starts a runner, the lease is renewed every
// third of its TTL, and a tenant whose lease was not renewed in time is
// stopped before the TTL ends. The store refuses outbox writes with an old
// epoch (sessionstore's fencing), and the supervisor asks Holds right before
// a click, so a node that lost a lease, paused or cut off, never sends for
// that tenant again.
//
// Moves are planned (the node drains, or the node set changes) or forced (a
// node dies). A planned move closes the browser gracefully, uploads the
// snapshot and releases the lease; the node the hash names then acquires,
// restores and starts, with no new Link. After a death the lease expires
// and the tenant comes back from its last snapshot.
//
// The package talks to the supervisor, the store and the snapshots through
// small interfaces (Runner, Store, Snapshots), so its rules are unit-tested
// with fakes; the daemon wires the real ones.
package cluster
