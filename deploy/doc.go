// Package deploy holds wapool's installation files, not Go code: a hardened
// systemd unit (systemd/), a container image (docker/) and Kubernetes
// manifests (kubernetes/). Its tests read them: every manifest decodes
// strictly into the k8s.io/api types (an unknown or misspelt field fails),
// and the unit and the Dockerfile carry the directives that keep the daemon
// confined. No cluster, systemd or container engine is needed.
package deploy
