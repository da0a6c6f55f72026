package cluster

import "github.com/cespare/xxhash/v2"

// owner returns, of the nodes, the one rendezvous hashing gives the tenant:
// the node with the highest hash of (node, tenant). Every node computes the
// same owner from the same node set, and when a node joins or leaves, only
// the tenants it wins or held change hands. "" when nodes is empty.
func owner(tenantID string, nodes []string) string {
	var best string
	var bestScore uint64
	for _, n := range nodes {
		score := xxhash.Sum64String(n + "\x00" + tenantID)
		if best == "" || score > bestScore || (score == bestScore && n < best) {
			best, bestScore = n, score
		}
	}
	return best
}
