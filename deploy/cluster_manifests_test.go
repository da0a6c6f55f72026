package deploy

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// clusterMinReplicas: one node drained while the others hold its tenants.
	clusterMinReplicas = 2
	// defaultLeaseTTL is wapoold's default --lease-ttl.
	defaultLeaseTTL = 15 * time.Second
	// perTenantMove is the time budgeted in deployment.yaml to move one
	// tenant with a browser off a draining node: a graceful close, then the
	// snapshot upload.
	perTenantMove = 7 * time.Second
	// drainWaitEnv is the preStop hook's bound on waiting for the drain.
	drainWaitEnv = "DRAIN_WAIT_SECONDS"
)

func clusterDir() string { return filepath.Join(kubeDir, "cluster") }

// clusterManifests is everything in deploy/kubernetes/cluster, decoded.
type clusterManifests struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	policies    []*networkingv1.NetworkPolicy
	budgets     []*policyv1.PodDisruptionBudget
	secrets     []*corev1.Secret
	kustomize   kustomizationFile
	files       []string
}

func loadClusterManifests(t *testing.T) *clusterManifests {
	t.Helper()
	d := loadDir(t, clusterDir())
	m := &clusterManifests{kustomize: d.kustomize, files: d.files}
	for _, obj := range d.objects {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployments = append(m.deployments, o)
		case *corev1.Service:
			m.services = append(m.services, o)
		case *networkingv1.NetworkPolicy:
			m.policies = append(m.policies, o)
		case *policyv1.PodDisruptionBudget:
			m.budgets = append(m.budgets, o)
		case *corev1.Secret:
			m.secrets = append(m.secrets, o)
		default:
			t.Errorf("%s: unexpected %T", clusterDir(), obj)
		}
	}
	for kind, n := range map[string]int{
		"Deployment":          len(m.deployments),
		"Service":             len(m.services),
		"NetworkPolicy":       len(m.policies),
		"PodDisruptionBudget": len(m.budgets),
		"Secret":              len(m.secrets),
	} {
		want := 1
		if kind == "Service" {
			want = 2 // one for clients, one headless for the nodes
		}
		if n != want {
			t.Errorf("%s: %d %s objects, want %d", clusterDir(), n, kind, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func (m *clusterManifests) podLabels() map[string]string {
	return m.deployments[0].Spec.Template.Labels
}

func TestClusterManifestsDecodeStrictly(t *testing.T) {
	loadClusterManifests(t)
}

func TestClusterKustomizationListsEveryManifest(t *testing.T) {
	m := loadClusterManifests(t)
	k := m.kustomize
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(clusterDir(), r)); err != nil {
			t.Errorf("kustomization resource %q: %v", r, err)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if c := slices.Compact(slices.Clone(got)); len(c) != len(got) {
		t.Errorf("kustomization lists a resource twice: %v", got)
	}
	if len(k.Images) == 0 {
		t.Error("kustomization sets no image")
	}
	checkKustomization(t, k, m.files, clusterContainer(t, m.deployments[0]))
}

func TestClusterDeployment(t *testing.T) {
	m := loadClusterManifests(t)
	d := m.deployments[0]
	pod := d.Spec.Template.Spec
	c := clusterContainer(t, d)

	replicas := int32(1) // the API's default
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	if replicas < clusterMinReplicas {
		t.Errorf("replicas = %d, want at least %d: a drained node's tenants need another node", replicas, clusterMinReplicas)
	}
	if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}

	// Rollouts: one node at a time, the new one first.
	st := d.Spec.Strategy
	if st.Type != appsv1.RollingUpdateDeploymentStrategyType || st.RollingUpdate == nil {
		t.Fatalf("strategy %+v, want RollingUpdate with explicit bounds", st)
	}
	surge := scaled(t, st.RollingUpdate.MaxSurge, replicas, true)
	unavailable := scaled(t, st.RollingUpdate.MaxUnavailable, replicas, false)
	if unavailable > 1 {
		t.Errorf("maxUnavailable %d: more than one node would drain at once", unavailable)
	}
	if surge < 1 {
		t.Errorf("maxSurge %d: the new node must come up before an old one drains", surge)
	}

	// The same confinement, probes and sizing as the single-node
	// StatefulSet.
	base := loadManifests(t).statefulSets[0]
	bc := daemonContainer(t, base)
	if !equality.Semantic.DeepEqual(pod.SecurityContext, base.Spec.Template.Spec.SecurityContext) {
		t.Errorf("pod securityContext %+v differs from the StatefulSet's %+v", pod.SecurityContext, base.Spec.Template.Spec.SecurityContext)
	}
	if !equality.Semantic.DeepEqual(c.SecurityContext, bc.SecurityContext) {
		t.Errorf("container securityContext %+v differs from the StatefulSet's %+v", c.SecurityContext, bc.SecurityContext)
	}
	for name, p := range map[string][2]*corev1.Probe{
		"startup":   {c.StartupProbe, bc.StartupProbe},
		"liveness":  {c.LivenessProbe, bc.LivenessProbe},
		"readiness": {c.ReadinessProbe, bc.ReadinessProbe},
	} {
		if !equality.Semantic.DeepEqual(p[0], p[1]) {
			t.Errorf("%s probe %+v differs from the StatefulSet's %+v", name, p[0], p[1])
		}
	}
	if p := c.ReadinessProbe; p == nil || p.GRPC == nil || p.GRPC.Port != grpcPort || p.GRPC.Service == nil || *p.GRPC.Service != readyService {
		t.Errorf("readiness probe %+v, want the daemon's gRPC health of %q", p, readyService)
	}
	if isTrue(pod.AutomountServiceAccountToken) || pod.AutomountServiceAccountToken == nil {
		t.Error("automountServiceAccountToken is not false")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if a, b := c.Resources.Requests[r], bc.Resources.Requests[r]; a.Cmp(b) != 0 {
			t.Errorf("%s request %s, the StatefulSet's %s", r, a.String(), b.String())
		}
		if a, b := c.Resources.Limits[r], bc.Resources.Limits[r]; a.Cmp(b) != 0 {
			t.Errorf("%s limit %s, the StatefulSet's %s", r, a.String(), b.String())
		}
	}
	if envValue(c, "WAPOOL_MAX_WARM") != envValue(bc, "WAPOOL_MAX_WARM") {
		t.Errorf("WAPOOL_MAX_WARM %q, the StatefulSet's %q (the shared resources follow from it)", envValue(c, "WAPOOL_MAX_WARM"), envValue(bc, "WAPOOL_MAX_WARM"))
	}
	maxWarm, err := strconv.Atoi(envValue(c, "WAPOOL_MAX_WARM"))
	if err != nil || maxWarm < 1 {
		t.Fatalf("WAPOOL_MAX_WARM %q: want a number of at least 1", envValue(c, "WAPOOL_MAX_WARM"))
	}
	if !hasPort(c, "grpc", grpcPort) || !hasPort(c, "metrics", metricsPort) {
		t.Errorf("container ports %v, want grpc %d and metrics %d", c.Ports, grpcPort, metricsPort)
	}

	// Local data is scratch: profiles come back from the bucket.
	if listen := argValue(c.Args, "--listen"); listen != fmt.Sprintf("0.0.0.0:%d", grpcPort) {
		t.Errorf("--listen %q, want all interfaces on %d", listen, grpcPort)
	}
	if argValue(c.Args, "--data-dir") != dataDir {
		t.Errorf("args %v, want --data-dir %s", c.Args, dataDir)
	}
	for _, path := range []string{dataDir, "/tmp"} {
		mnt := mountAt(c, path)
		if mnt == nil || volume(pod, mnt.Name) == nil || volume(pod, mnt.Name).EmptyDir == nil {
			t.Errorf("%s is not an emptyDir", path)
		}
	}

	// The env: identity, address, shared state, credentials.
	env := map[string]corev1.EnvVar{}
	for i, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s is set twice", e.Name)
		}
		env[e.Name] = c.Env[i]
	}
	nodeID := env["WAPOOL_NODE_ID"]
	if f := nodeID.ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("WAPOOL_NODE_ID = %+v, want a fieldRef to metadata.name", nodeID)
	}
	checkAdvertiseAddr(t, c)
	secret := m.secrets[0]
	for _, name := range []string{"WAPOOL_STORE", "WAPOOL_PROFILE_STORE"} {
		e, ok := env[name]
		switch {
		case !ok:
			t.Errorf("no %s", name)
		case e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil:
			t.Errorf("%s = %+v, want a secretKeyRef (it carries credentials)", name, e)
		default:
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != secret.Name {
				t.Errorf("%s from Secret %q, the Secret is %q", name, ref.Name, secret.Name)
			}
			if !secretHasKey(secret, ref.Key) {
				t.Errorf("%s: Secret %q has no key %q", name, secret.Name, ref.Key)
			}
			if isTrue(ref.Optional) {
				t.Errorf("%s is optional: a node without it would run alone", name)
			}
		}
	}
	sv := checkTokensVolume(t, pod, c, secret)
	var items []string
	for _, it := range sv.Items {
		items = append(items, it.Key)
	}
	if !slices.Equal(items, []string{"tokens", "snapshot-keys"}) {
		t.Errorf("the tokens volume projects keys %v, want only the tokens and the snapshot keys (the store URLs hold passwords)", items)
	}
	if v := envValue(c, "WAPOOL_SNAPSHOT_KEY_FILE"); v != "/etc/wapool/snapshot-keys" {
		t.Errorf("WAPOOL_SNAPSHOT_KEY_FILE = %q, want the projected /etc/wapool/snapshot-keys: a cluster node needs its snapshot keys", v)
	}

	// Stopping: preStop drains, then SIGTERM stops within --stop-timeout,
	// all within the grace period.
	stop := clusterStopTimeout(t, c)
	grace := time.Duration(deref64(pod.TerminationGracePeriodSeconds, 30)) * time.Second
	if grace <= stop {
		t.Errorf("terminationGracePeriodSeconds %v, want more than --stop-timeout %v", grace, stop)
	}
	waitSec, err := strconv.Atoi(envValue(c, drainWaitEnv))
	if err != nil || waitSec < 1 {
		t.Fatalf("%s %q: want the preStop's bound in seconds", drainWaitEnv, envValue(c, drainWaitEnv))
	}
	wait := time.Duration(waitSec) * time.Second
	lease := defaultLeaseTTL
	if v := envValue(c, "WAPOOL_LEASE_TTL"); v != "" {
		if lease, err = time.ParseDuration(v); err != nil {
			t.Errorf("WAPOOL_LEASE_TTL %q: %v", v, err)
		}
	}
	if need := lease + perTenantMove*time.Duration(maxWarm); wait < need {
		t.Errorf("%s %v, want at least the lease TTL %v + %v x %d tenants = %v", drainWaitEnv, wait, lease, perTenantMove, maxWarm, need)
	}
	// After SIGTERM a cluster node leaves within --stop-timeout, then stops
	// within it again (cmd/wapoold).
	if grace <= wait+2*stop {
		t.Errorf("terminationGracePeriodSeconds %v, want more than the drain wait %v + 2 x --stop-timeout %v (leave, then stop)", grace, wait, stop)
	}
	if minReady := time.Duration(d.Spec.MinReadySeconds) * time.Second; minReady < wait {
		t.Errorf("minReadySeconds %v, want at least the drain wait %v so that two drains do not overlap in a rollout", minReady, wait)
	}
	checkPreStop(t, c, envValue(c, "WAPOOL_AUTH_TOKENS"))

	for _, tsc := range pod.TopologySpreadConstraints {
		if !selects(tsc.LabelSelector, d.Spec.Template.Labels) {
			t.Errorf("topologySpreadConstraint %s selects %v, not the pods", tsc.TopologyKey, tsc.LabelSelector)
		}
	}
}

// checkAdvertiseAddr checks that WAPOOL_ADVERTISE_ADDR is "$(V):<grpc
// port>" for an env var V, set before it, from the pod's IP.
func checkAdvertiseAddr(t *testing.T, c *corev1.Container) {
	t.Helper()
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "WAPOOL_ADVERTISE_ADDR" })
	if i < 0 {
		t.Error("no WAPOOL_ADVERTISE_ADDR")
		return
	}
	m := regexp.MustCompile(`^\[?\$\(([A-Za-z_][A-Za-z0-9_]*)\)\]?:(\d+)$`).FindStringSubmatch(c.Env[i].Value)
	if m == nil {
		t.Errorf("WAPOOL_ADVERTISE_ADDR %q, want $(POD_IP):%d", c.Env[i].Value, grpcPort)
		return
	}
	if m[2] != strconv.Itoa(grpcPort) {
		t.Errorf("WAPOOL_ADVERTISE_ADDR port %s, the gRPC port is %d", m[2], grpcPort)
	}
	// Kubernetes expands $(V) only from variables defined earlier.
	j := slices.IndexFunc(c.Env[:i], func(e corev1.EnvVar) bool { return e.Name == m[1] })
	if j < 0 {
		t.Errorf("WAPOOL_ADVERTISE_ADDR uses $(%s), not defined before it", m[1])
		return
	}
	if f := c.Env[j].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("%s = %+v, want a fieldRef to status.podIP", m[1], c.Env[j])
	}
}

// checkPreStop checks that the preStop hook drains this node through the
// local daemon with the daemon's tokens, bounded by the drain wait.
func checkPreStop(t *testing.T, c *corev1.Container, tokens string) {
	t.Helper()
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil {
		t.Error("no preStop exec hook: a rollout would not drain the node first")
		return
	}
	script := strings.Join(c.Lifecycle.PreStop.Exec.Command, " ")
	line := regexp.MustCompile(`\bwapoolctl\b.*\sdrain\s.*`).FindString(script)
	if line == "" {
		t.Errorf("preStop %q does not run wapoolctl drain", script)
		return
	}
	// The node to drain is this pod: a variable from metadata.name,
	// expanded by the shell (Kubernetes does not expand $(VAR) in hooks).
	var nameVars []string
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
			nameVars = append(nameVars, e.Name)
		}
	}
	drained := regexp.MustCompile(`\sdrain\s+"?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"?`).FindStringSubmatch(line)
	switch {
	case strings.Contains(line, "drain $(") || strings.Contains(line, `drain "$(`):
		t.Errorf("preStop %q: Kubernetes does not expand $(VAR) in a hook; the shell would run it as a command", line)
	case drained == nil || !slices.Contains(nameVars, drained[1]):
		t.Errorf("preStop %q does not drain the pod's own name (env %v from metadata.name)", line, nameVars)
	}
	if addr := argInScript(line, "--addr"); addr != fmt.Sprintf("127.0.0.1:%d", grpcPort) {
		t.Errorf("preStop drain --addr %q, want this pod's daemon on loopback 127.0.0.1:%d (wapoolctl sends a token in clear text to loopback only)", addr, grpcPort)
	}
	if tf := argInScript(line, "--token-file"); tf != tokens {
		t.Errorf("preStop drain --token-file %q, want the daemon's tokens %s", tf, tokens)
	}
	if !strings.Contains(script, drainWaitEnv) {
		t.Errorf("preStop does not bound its wait by %s", drainWaitEnv)
	}
}

// argInScript returns the word after flag in a shell script, or "".
func argInScript(script, flag string) string {
	f := strings.Fields(script)
	for i, w := range f {
		if v, ok := strings.CutPrefix(w, flag+"="); ok {
			return v
		}
		if w == flag && i+1 < len(f) {
			return strings.Trim(f[i+1], `"'`)
		}
	}
	return ""
}

// clusterStopTimeout is the --stop-timeout the container sets (args, then
// env), or wapoold's default.
func clusterStopTimeout(t *testing.T, c *corev1.Container) time.Duration {
	t.Helper()
	v := argValue(c.Args, "--stop-timeout")
	if v == "" {
		v = envValue(c, "WAPOOL_STOP_TIMEOUT")
	}
	if v == "" {
		return stopTimeout * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("--stop-timeout %q: %v", v, err)
	}
	return d
}

func TestClusterServices(t *testing.T) {
	m := loadClusterManifests(t)
	c := clusterContainer(t, m.deployments[0])
	var headless, clients []*corev1.Service
	for _, svc := range m.services {
		if !matches(svc.Spec.Selector, m.podLabels()) {
			t.Errorf("Service %q selects %v, not the pods %v", svc.Name, svc.Spec.Selector, m.podLabels())
		}
		p := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "grpc" })
		if p < 0 || svc.Spec.Ports[p].Port != grpcPort || !targets(c, svc.Spec.Ports[p].TargetPort, grpcPort) {
			t.Errorf("Service %q has no grpc port %d to the container's %d", svc.Name, grpcPort, grpcPort)
		}
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = append(headless, svc)
		} else {
			clients = append(clients, svc)
		}
	}
	if len(headless) != 1 {
		t.Fatalf("%d headless Services (clusterIP: None), want 1 for the nodes", len(headless))
	}
	if len(clients) != 1 || (clients[0].Spec.Type != "" && clients[0].Spec.Type != corev1.ServiceTypeClusterIP) {
		t.Fatalf("want one ClusterIP Service for clients besides the headless one, got %d", len(clients))
	}
	if !headless[0].Spec.PublishNotReadyAddresses {
		t.Errorf("headless Service %q: publishNotReadyAddresses is false; a draining node still holds tenants", headless[0].Name)
	}
	if headless[0].Name == clients[0].Name {
		t.Errorf("both Services are named %q", headless[0].Name)
	}
}

func TestClusterPodDisruptionBudget(t *testing.T) {
	m := loadClusterManifests(t)
	pdb, d := m.budgets[0], m.deployments[0]
	if !selects(pdb.Spec.Selector, m.podLabels()) {
		t.Errorf("PDB selector %v does not select the pods %v", pdb.Spec.Selector, m.podLabels())
	}
	replicas := *d.Spec.Replicas
	var allowed int32
	switch s := pdb.Spec; {
	case s.MaxUnavailable != nil && s.MinAvailable != nil:
		t.Fatal("PDB sets both maxUnavailable and minAvailable")
	case s.MaxUnavailable != nil:
		allowed = scaled(t, s.MaxUnavailable, replicas, false)
	case s.MinAvailable != nil:
		allowed = replicas - scaled(t, s.MinAvailable, replicas, true)
	default:
		t.Fatal("PDB sets neither maxUnavailable nor minAvailable")
	}
	if allowed != 1 {
		t.Errorf("the PDB allows %d of %d nodes to be evicted at once, want 1 (0 blocks every drain of a machine; more drains several nodes at once)", allowed, replicas)
	}
}

func TestClusterNetworkPolicy(t *testing.T) {
	m := loadClusterManifests(t)
	np := m.policies[0]
	pods := m.podLabels()
	if !matches(np.Spec.PodSelector.MatchLabels, pods) {
		t.Errorf("network policy selects %v, not the pods %v", np.Spec.PodSelector.MatchLabels, pods)
	}
	for _, pt := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
		if !slices.Contains(np.Spec.PolicyTypes, pt) {
			t.Errorf("policyTypes %v lack %s", np.Spec.PolicyTypes, pt)
		}
	}
	// peerIsNode: a peer that is the wapool pods of this namespace.
	peerIsNode := func(p networkingv1.NetworkPolicyPeer) bool {
		return p.NamespaceSelector == nil && p.IPBlock == nil && p.PodSelector != nil && selects(p.PodSelector, pods)
	}
	var in, out []networkingv1.NetworkPolicyPort
	nodeIn, nodeOut := false, false
	for _, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Errorf("an ingress rule allows every source: %+v", r)
		}
		in = append(in, r.Ports...)
		if slices.ContainsFunc(r.From, peerIsNode) && hasPolicyPort(r.Ports, corev1.ProtocolTCP, grpcPort) {
			nodeIn = true
		}
	}
	for _, r := range np.Spec.Egress {
		out = append(out, r.Ports...)
		if slices.ContainsFunc(r.To, peerIsNode) && hasPolicyPort(r.Ports, corev1.ProtocolTCP, grpcPort) {
			nodeOut = true
		}
	}
	if !nodeIn || !nodeOut {
		t.Errorf("node-to-node gRPC (TCP %d) between the pods: ingress %v, egress %v; want both", grpcPort, nodeIn, nodeOut)
	}
	for _, p := range []int{grpcPort, metricsPort} {
		if !hasPolicyPort(in, corev1.ProtocolTCP, p) {
			t.Errorf("ingress lacks TCP %d", p)
		}
	}
	for _, p := range []struct {
		proto corev1.Protocol
		port  int
	}{{corev1.ProtocolUDP, 53}, {corev1.ProtocolTCP, 53}, {corev1.ProtocolTCP, 5432}, {corev1.ProtocolTCP, 443}} {
		if !hasPolicyPort(out, p.proto, p.port) {
			t.Errorf("egress lacks %s %d", p.proto, p.port)
		}
	}
}

func TestClusterSecretShipsPlaceholders(t *testing.T) {
	m := loadClusterManifests(t)
	s := m.secrets[0]
	if len(s.Data) != 0 {
		t.Errorf("Secret %q ships data %v: keep real values out of the repository", s.Name, slices.Sorted(maps.Keys(s.Data)))
	}
	for key, v := range s.StringData {
		if !strings.Contains(v, "REPLACE") {
			t.Errorf("Secret %q key %q does not say to replace it", s.Name, key)
		}
	}
	c := clusterContainer(t, m.deployments[0])
	keyOf := func(env string) string {
		for _, e := range c.Env {
			if e.Name == env && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				return e.ValueFrom.SecretKeyRef.Key
			}
		}
		return ""
	}
	if store := s.StringData[keyOf("WAPOOL_STORE")]; !strings.HasPrefix(store, "postgres://") && !strings.HasPrefix(store, "postgresql://") {
		t.Errorf("WAPOOL_STORE example %q, want a postgres:// URL", store)
	}
	ps := s.StringData[keyOf("WAPOOL_PROFILE_STORE")]
	if u, err := url.Parse(ps); err != nil || !slices.Contains([]string{"s3", "gs", "azblob"}, u.Scheme) {
		t.Errorf("WAPOOL_PROFILE_STORE example %q, want an s3://, gs:// or azblob:// URL (%v)", ps, err)
	}
	tokensKey := filepath.Base(envValue(c, "WAPOOL_AUTH_TOKENS"))
	for _, it := range volume(m.deployments[0].Spec.Template.Spec, "tokens").Secret.Items {
		if it.Path == tokensKey {
			tokensKey = it.Key
		}
	}
	for line := range strings.Lines(s.StringData[tokensKey]) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("Secret %q key %q ships a token line: replace it with a placeholder comment", s.Name, tokensKey)
		}
	}
}

// Every WAPOOL_* variable the manifests set is the twin of a wapoold flag.
func TestManifestsEnvNamesAreFlags(t *testing.T) {
	twins := wapooldEnvTwins(t)
	base := loadManifests(t).statefulSets[0]
	cluster := loadClusterManifests(t).deployments[0]
	for where, c := range map[string]*corev1.Container{
		"statefulset.yaml":        daemonContainer(t, base),
		"cluster/deployment.yaml": clusterContainer(t, cluster),
	} {
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "WAPOOL_") {
				checkEnvTwin(t, twins, where, e.Name)
			}
		}
	}
}

// Helpers.

func clusterContainer(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == daemonName })
	if i < 0 {
		t.Fatalf("no container %q", daemonName)
	}
	return &cs[i]
}

// selects reports whether a non-empty label selector selects labels.
func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false // an empty selector selects every pod of the namespace
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}

// scaled resolves an int-or-percent against replicas (percentages round up
// for surge and minAvailable, down for unavailability, as Kubernetes does).
func scaled(t *testing.T, v *intstr.IntOrString, replicas int32, roundUp bool) int32 {
	t.Helper()
	if v == nil {
		t.Fatal("an unset int-or-percent: spell out the bound")
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(replicas), roundUp)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

func secretHasKey(s *corev1.Secret, key string) bool {
	if _, ok := s.StringData[key]; ok {
		return true
	}
	_, ok := s.Data[key]
	return ok
}

func deref64(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}
