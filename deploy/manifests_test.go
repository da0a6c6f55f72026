package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	kubeDir      = "kubernetes"
	grpcPort     = 7440
	metricsPort  = 9464
	dataDir      = "/var/lib/wapool"
	readyService = "wapool.v1.SessionService"
	daemonName   = "wapoold"
	stopTimeout  = 20 // seconds: wapoold's default --stop-timeout
	// Memory per --max-warm: at least (request) the daemon and lean
	// browsers on a fresh app; at most (limit) wapoold's own budget, which
	// picks the default --max-warm (cmd/wapoold).
	daemonMemMi    = 200
	perWarmMemMi   = 100
	reserveMemMi   = 1024
	perBudgetMemMi = 300
	kustomization  = "kustomization.yaml"
)

// manifests is everything in deploy/kubernetes (the single-node
// deployment), decoded; the cluster variant in its subdirectory has its own
// tests (cluster_manifests_test.go).
type manifests struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	policies     []*networkingv1.NetworkPolicy
	secrets      []*corev1.Secret
	kustomize    kustomizationFile
	files        []string // the manifest files, kustomization.yaml aside
}

// kustomizationFile holds the fields deploy/kubernetes/kustomization.yaml
// may use; any other field fails the strict decode (kustomize's own types
// are not a dependency of wapool).
type kustomizationFile struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// decoder decodes YAML strictly into the k8s.io/api types, as the API
// server does: unknown fields, duplicate fields and fields in the wrong case
// are errors.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, corev1.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
}()

// decodeDoc decodes one YAML document into its typed object.
func decodeDoc(doc []byte) (runtime.Object, error) {
	obj, _, err := decoder.Decode(doc, nil, nil)
	return obj, err // a strict decoding error comes with an object: still an error
}

// splitDocs returns the non-empty YAML documents of b.
func splitDocs(b []byte) ([][]byte, error) {
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if hasContent(doc) {
			docs = append(docs, doc)
		}
	}
}

// hasContent reports whether a YAML document has more than comments.
func hasContent(doc []byte) bool {
	for line := range strings.Lines(string(doc)) {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return true
		}
	}
	return false
}

// decodedDir is one kustomize directory: its kustomization.yaml and every
// object of its manifests, decoded strictly.
type decodedDir struct {
	kustomize kustomizationFile
	files     []string // the manifest files, kustomization.yaml aside
	objects   []runtime.Object
}

// loadDir decodes the kustomize directory dir. A subdirectory holding its
// own kustomization.yaml is a variant, checked by its own tests; any other
// subdirectory is an error.
func loadDir(t *testing.T, dir string) *decodedDir {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	d := &decodedDir{}
	sawKustomization := false
	for _, path := range paths {
		name := filepath.Base(path)
		if fi, err := os.Stat(path); err != nil {
			t.Fatal(err)
		} else if fi.IsDir() {
			if _, err := os.Stat(filepath.Join(path, kustomization)); err != nil {
				t.Errorf("%s: a directory that is no kustomize variant (%v)", path, err)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if name == kustomization {
			sawKustomization = true
			if err := yaml.UnmarshalStrict(b, &d.kustomize); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			continue
		}
		if ext := filepath.Ext(name); ext != ".yaml" {
			t.Errorf("%s: a manifest ends in .yaml (found %q)", path, ext)
			continue
		}
		d.files = append(d.files, name)
		docs, err := splitDocs(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(docs) == 0 {
			t.Errorf("%s: no document", path)
		}
		for i, doc := range docs {
			obj, err := decodeDoc(doc)
			if err != nil {
				t.Errorf("%s document %d: %v", path, i+1, err)
				continue
			}
			d.objects = append(d.objects, obj)
		}
	}
	if !sawKustomization {
		t.Errorf("%s: no %s", dir, kustomization)
	}
	if t.Failed() {
		t.FailNow()
	}
	return d
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	d := loadDir(t, kubeDir)
	m := &manifests{kustomize: d.kustomize, files: d.files}
	for _, obj := range d.objects {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			m.statefulSets = append(m.statefulSets, o)
		case *corev1.Service:
			m.services = append(m.services, o)
		case *networkingv1.NetworkPolicy:
			m.policies = append(m.policies, o)
		case *corev1.Secret:
			m.secrets = append(m.secrets, o)
		default:
			t.Errorf("%s: unexpected %T", kubeDir, obj)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	for kind, n := range map[string]int{
		"StatefulSet":   len(m.statefulSets),
		"Service":       len(m.services),
		"NetworkPolicy": len(m.policies),
		"Secret":        len(m.secrets),
	} {
		if n != 1 {
			t.Errorf("%d %s objects, want 1", n, kind)
		}
	}
}

// The decoder is what catches typos: prove it does.
func TestManifestsStrictDecodeCatchesTypos(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(kubeDir, "statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeDoc(b); err != nil {
		t.Fatalf("the manifest itself: %v", err)
	}
	for name, edit := range map[string][2]string{
		"unknown field":   {"terminationGracePeriodSeconds:", "terminationGracePeriod:"},
		"wrong case":      {"readOnlyRootFilesystem:", "ReadOnlyRootFilesystem:"},
		"wrong type":      {"replicas: 1", `replicas: "one"`},
		"duplicate field": {"replicas: 1", "replicas: 1\n  replicas: 1"},
		"misplaced field": {"  serviceName: wapool", "  serviceName: wapool\n  fsGroup: 10001"},
	} {
		changed := strings.Replace(string(b), edit[0], edit[1], 1)
		if changed == string(b) {
			t.Fatalf("%s: %q not in the manifest", name, edit[0])
		}
		if _, err := decodeDoc([]byte(changed)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestManifestsKustomizationListsEveryManifest(t *testing.T) {
	m := loadManifests(t)
	checkKustomization(t, m.kustomize, m.files, daemonContainer(t, m.statefulSets[0]))
}

// checkKustomization checks that k is a Kustomization whose resources are
// the manifest files, and that each image it sets names the image of the
// daemon's container c.
func checkKustomization(t *testing.T, k kustomizationFile, files []string, c *corev1.Container) {
	t.Helper()
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization is %s %s", k.APIVersion, k.Kind)
	}
	got := slices.Sorted(slices.Values(k.Resources))
	want := slices.Sorted(slices.Values(files))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, want the manifests %v", got, want)
	}
	for _, img := range k.Images {
		if img.Name != c.Image && !strings.HasPrefix(c.Image, img.Name+":") {
			t.Errorf("kustomization image %q matches no container image (%q)", img.Name, c.Image)
		}
	}
}

func TestManifestsStatefulSet(t *testing.T) {
	m := loadManifests(t)
	ss := m.statefulSets[0]
	pod := ss.Spec.Template.Spec
	c := daemonContainer(t, ss)

	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", ss.Spec.Replicas)
	}
	if !matches(ss.Spec.Selector.MatchLabels, ss.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", ss.Spec.Selector.MatchLabels, ss.Spec.Template.Labels)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 30 || *g <= stopTimeout {
		t.Errorf("terminationGracePeriodSeconds = %v, want 30 (above the %d s graceful stop)", g, stopTimeout)
	}

	// Probes: native gRPC on the daemon's port.
	if !hasPort(c, "grpc", grpcPort) {
		t.Errorf("no container port grpc %d", grpcPort)
	}
	probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
	if c.StartupProbe != nil {
		probes["startup"] = c.StartupProbe
	}
	for name, p := range probes {
		if p == nil || p.GRPC == nil || p.GRPC.Port != grpcPort {
			t.Errorf("%s probe %+v: want grpc on port %d", name, p, grpcPort)
		}
	}
	if p := c.LivenessProbe; p != nil && p.GRPC != nil && p.GRPC.Service != nil && *p.GRPC.Service != "" {
		t.Errorf("liveness probe asks %q, want the daemon's health \"\"", *p.GRPC.Service)
	}
	if p := c.ReadinessProbe; p != nil && p.GRPC != nil && (p.GRPC.Service == nil || *p.GRPC.Service != readyService) {
		t.Errorf("readiness probe service %v, want %q", p.GRPC.Service, readyService)
	}

	// Data: the claim template mounted at /var/lib/wapool, kept on delete.
	mount := mountAt(c, dataDir)
	if mount == nil {
		t.Fatalf("nothing mounted at %s", dataDir)
	}
	if !slices.ContainsFunc(ss.Spec.VolumeClaimTemplates, func(pvc corev1.PersistentVolumeClaim) bool { return pvc.Name == mount.Name }) {
		t.Errorf("%s is volume %q, not a volumeClaimTemplate", dataDir, mount.Name)
	}
	if p := ss.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("persistentVolumeClaimRetentionPolicy = %+v, want whenDeleted Retain", p)
	}
	if !slices.Contains(c.Args, dataDir) {
		t.Errorf("args %v do not name %s", c.Args, dataDir)
	}

	// Confinement: non-root (the image's user), read-only root, /tmp writable.
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("missing securityContext")
	}
	if !isTrue(psc.RunAsNonRoot) && !isTrue(csc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	if uid := dockerfileUID(t); psc.RunAsUser == nil || fmt.Sprint(*psc.RunAsUser) != uid {
		t.Errorf("runAsUser = %s, want the image's user %s", deref(psc.RunAsUser), uid)
	}
	if psc.FSGroup == nil {
		t.Error("no fsGroup: the volume would not be writable by the user")
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if tmp := mountAt(c, "/tmp"); tmp == nil || volume(pod, tmp.Name) == nil || volume(pod, tmp.Name).EmptyDir == nil {
		t.Error("/tmp is not an emptyDir")
	}

	// Credentials: the listen address is not loopback, so a tokens file
	// from the Secret.
	listen := argValue(c.Args, "--listen")
	if !strings.HasPrefix(listen, "0.0.0.0:") {
		t.Errorf("--listen %q, want all interfaces in a pod", listen)
	}
	checkTokensVolume(t, pod, c, m.secrets[0])

	// Resources follow --max-warm.
	var maxWarm int
	if _, err := fmt.Sscan(envValue(c, "WAPOOL_MAX_WARM"), &maxWarm); err != nil || maxWarm < 1 {
		t.Fatalf("WAPOOL_MAX_WARM %q: %v", envValue(c, "WAPOOL_MAX_WARM"), err)
	}
	want := resource.MustParse(fmt.Sprintf("%dMi", daemonMemMi+perWarmMemMi*maxWarm))
	req, lim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
	if req.Cmp(want) < 0 {
		t.Errorf("memory request %s for max-warm %d, want at least %s", req.String(), maxWarm, want.String())
	}
	budget := resource.MustParse(fmt.Sprintf("%dMi", reserveMemMi+perBudgetMemMi*maxWarm))
	if lim.Cmp(budget) < 0 || lim.Cmp(req) < 0 {
		t.Errorf("memory limit %s for max-warm %d, want at least wapoold's budget %s and the request %s", lim.String(), maxWarm, budget.String(), req.String())
	}
}

func TestManifestsServiceAndNetworkPolicy(t *testing.T) {
	m := loadManifests(t)
	ss, svc, np := m.statefulSets[0], m.services[0], m.policies[0]
	c := daemonContainer(t, ss)
	labels := ss.Spec.Template.Labels

	if svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("service type %q", svc.Spec.Type)
	}
	if !matches(svc.Spec.Selector, labels) {
		t.Errorf("service selector %v does not select %v", svc.Spec.Selector, labels)
	}
	if ss.Spec.ServiceName != svc.Name {
		t.Errorf("serviceName %q, Service is %q", ss.Spec.ServiceName, svc.Name)
	}
	for name, port := range map[string]int32{"grpc": grpcPort, "metrics": metricsPort} {
		i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == name })
		if i < 0 {
			t.Errorf("service has no port %q", name)
			continue
		}
		p := svc.Spec.Ports[i]
		if p.Port != port || !targets(c, p.TargetPort, port) {
			t.Errorf("service port %q = %d -> %s, want %d to the container's %d", name, p.Port, p.TargetPort.String(), port, port)
		}
	}

	if !matches(np.Spec.PodSelector.MatchLabels, labels) {
		t.Errorf("network policy selects %v, not the pod %v", np.Spec.PodSelector.MatchLabels, labels)
	}
	for _, pt := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
		if !slices.Contains(np.Spec.PolicyTypes, pt) {
			t.Errorf("policyTypes %v lack %s", np.Spec.PolicyTypes, pt)
		}
	}
	var in, out []networkingv1.NetworkPolicyPort
	for _, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Errorf("an ingress rule allows every source: %+v", r)
		}
		in = append(in, r.Ports...)
	}
	for _, r := range np.Spec.Egress {
		out = append(out, r.Ports...)
	}
	for _, p := range []int{grpcPort, metricsPort} {
		if !hasPolicyPort(in, corev1.ProtocolTCP, p) {
			t.Errorf("ingress lacks TCP %d", p)
		}
	}
	if len(in) != 2 {
		t.Errorf("ingress ports %v, want only %d and %d", in, grpcPort, metricsPort)
	}
	for _, p := range []struct {
		proto corev1.Protocol
		port  int
	}{{corev1.ProtocolUDP, 53}, {corev1.ProtocolTCP, 53}, {corev1.ProtocolTCP, 443}} {
		if !hasPolicyPort(out, p.proto, p.port) {
			t.Errorf("egress lacks %s %d", p.proto, p.port)
		}
	}
}

func TestManifestsSecretShipsNoToken(t *testing.T) {
	m := loadManifests(t)
	s := m.secrets[0]
	if len(s.Data) != 0 {
		t.Errorf("Secret %q ships data %v: keep real tokens out of the repository", s.Name, slices.Sorted(maps.Keys(s.Data)))
	}
	for key, v := range s.StringData {
		for line := range strings.Lines(v) {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				t.Errorf("Secret %q key %q ships a token line: replace it with a placeholder comment", s.Name, key)
			}
		}
		if !strings.Contains(v, "REPLACE") {
			t.Errorf("Secret %q key %q does not say to replace it", s.Name, key)
		}
	}
}

// Helpers.

func daemonContainer(t *testing.T, ss *appsv1.StatefulSet) *corev1.Container {
	t.Helper()
	cs := ss.Spec.Template.Spec.Containers
	i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == daemonName })
	if i < 0 {
		t.Fatalf("no container %q", daemonName)
	}
	return &cs[i]
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func hasPort(c *corev1.Container, name string, port int32) bool {
	return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == name && p.ContainerPort == port })
}

func targets(c *corev1.Container, target intstr.IntOrString, port int32) bool {
	if target.Type == intstr.String {
		return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == target.StrVal && p.ContainerPort == port })
	}
	return target.IntVal == port
}

func hasPolicyPort(ports []networkingv1.NetworkPolicyPort, proto corev1.Protocol, port int) bool {
	return slices.ContainsFunc(ports, func(p networkingv1.NetworkPolicyPort) bool {
		return p.Protocol != nil && *p.Protocol == proto && p.Port != nil && p.Port.IntValue() == port
	})
}

// checkTokensVolume checks that WAPOOL_AUTH_TOKENS names a file on a
// read-only volume of secret, from a key the Secret has, mode 0440, and
// returns that volume.
func checkTokensVolume(t *testing.T, pod corev1.PodSpec, c *corev1.Container, secret *corev1.Secret) *corev1.SecretVolumeSource {
	t.Helper()
	tokens := envValue(c, "WAPOOL_AUTH_TOKENS")
	if tokens == "" {
		t.Fatal("no WAPOOL_AUTH_TOKENS: a non-loopback listen refuses to start without credentials")
	}
	tm := mountAt(c, filepath.Dir(tokens))
	if tm == nil || !tm.ReadOnly {
		t.Fatalf("%s: no read-only mount at %s", tokens, filepath.Dir(tokens))
	}
	sv := volume(pod, tm.Name)
	if sv == nil || sv.Secret == nil {
		t.Fatalf("%s is not a Secret volume", filepath.Dir(tokens))
	}
	if sv.Secret.SecretName != secret.Name {
		t.Errorf("tokens volume secretName %q, the Secret is %q", sv.Secret.SecretName, secret.Name)
	}
	key := filepath.Base(tokens)
	for _, it := range sv.Secret.Items {
		if it.Path == key {
			key = it.Key
		}
	}
	if !secretHasKey(secret, key) {
		t.Errorf("Secret %q has no key %q for %s", secret.Name, key, tokens)
	}
	if mode := sv.Secret.DefaultMode; mode == nil || *mode != 0o440 {
		t.Errorf("tokens file mode %s, want 0440 (owner and fsGroup read)", deref(mode))
	}
	return sv.Secret
}

func mountAt(c *corev1.Container, path string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == path {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func volume(pod corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// argValue returns the value of flag in args ("--flag value" or
// "--flag=value").
func argValue(args []string, flag string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func isTrue(b *bool) bool { return b != nil && *b }

// deref formats a pointer's value, or "unset".
func deref[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
