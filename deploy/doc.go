// Package deploy holds wapool's installation files, not Go code: a hardened
// systemd unit (systemd/), a container image (docker/) and Kubernetes
// manifests (kubernetes/ for one node, kubernetes/cluster/ for a cluster).
// Its tests read them: every manifest decodes strictly into the k8s.io/api
// types (an unknown or misspelt field fails), the unit and the Dockerfile
// carry the directives that keep the daemon confined, and the cluster
// variant's drain, grace period and wiring add up. No cluster, systemd or
// container engine is needed.
package deploy
