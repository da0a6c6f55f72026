package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// readmeBlocks returns the README's code blocks marked
// `<!-- client-test: NAME -->` by name.
func readmeBlocks(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- client-test: ([a-z-]+) -->\n```[a-z]*\n(.*?)\n```")
	out := map[string]string{}
	for _, m := range re.FindAllSubmatch(b, -1) {
		out[string(m[1])] = string(m[2])
	}
	return out
}

// needTool skips the test when a client's tool is missing, except in CI
// (CI=true), where `make test` installs them all: there it fails.
func needTool(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (make test installs it)", what)
	}
	t.Skipf("%s is missing: run make test, which installs it", what)
}

func hasCommand(name string) bool { _, err := exec.LookPath(name); return err == nil }

// debianPython is Debian's python3, where python3-grpcio installs grpc.
const debianPython = "/usr/bin/python3"

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestREADMEClients runs the README's client examples against a running
// daemon with a token: curl (Send, Status, the event stream), Node's fetch,
// and Python with grpcio on stubs generated here by the README's own
// command. Each Send goes out once.
func TestREADMEClients(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	blocks := readmeBlocks(t)
	for _, name := range []string{"curl-send", "curl-events", "node", "python-stubs", "python"} {
		if blocks[name] == "" {
			t.Fatalf("the README has no block marked client-test: %s", name)
		}
	}
	needTool(t, "curl", hasCommand("curl"))
	needTool(t, "node", hasCommand("node"))
	needTool(t, "protoc and grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc)", hasCommand("protoc") && hasCommand("grpc_python_plugin"))
	needTool(t, "Debian's python3 with grpc (python3-grpcio)", exec.Command(debianPython, "-c", "import grpc").Run() == nil)

	tokens := writeTokens(t, firstToken)
	f, d := startStack(t, "--auth-tokens", tokens, "--http-addr", "127.0.0.1:0")
	newHTTPAPI(t, d).linkHTTP(f, "shop-42", accountA, firstToken)
	env := append(os.Environ(), "WAPOOL_HTTP=http://"+d.httpAddr(t), "WAPOOL_GRPC="+d.addr, "TOKEN="+firstToken)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(name, dir string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		t.Logf("%s:\n%s", name, out)
		return string(out)
	}

	// The event stream first, so that it sees the sends.
	ectx, ecancel := context.WithCancel(ctx)
	events := exec.CommandContext(ectx, "bash", "-c", blocks["curl-events"])
	var eventsOut lockedBuffer
	events.Env, events.Stdout, events.Stderr = env, &eventsOut, &eventsOut
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ecancel(); _ = events.Wait() }()
	waitFor(t, "the event stream in place", 20*time.Second, func() bool { return strings.Contains(eventsOut.String(), "retry:") })

	out := run("curl-send", "", "bash", "-ec", blocks["curl-send"])
	if !strings.Contains(out, `"MESSAGE_STATE_SENT"`) || !strings.Contains(out, `"SESSION_STATE_READY"`) {
		t.Fatalf("curl: Send and Status answered:\n%s", out)
	}
	waitFor(t, "the SENT event on the curl stream", 20*time.Second, func() bool {
		return strings.Contains(eventsOut.String(), "data: ") && strings.Contains(eventsOut.String(), "MESSAGE_STATE_SENT")
	})
	if !regexp.MustCompile(`(?m)^id: \S+\ndata: \{`).MatchString(eventsOut.String()) {
		t.Errorf("the event stream:\n%s", eventsOut.String())
	}

	dir := t.TempDir()
	script := filepath.Join(dir, "send.mjs")
	if err := os.WriteFile(script, []byte(blocks["node"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run("node", dir, "node", script); !strings.Contains(out, "MESSAGE_STATE_SENT") {
		t.Fatalf("node: %s", out)
	}

	// The stubs, generated from the repository's root as the README says:
	// here, a directory that links to its proto/ and third_party/.
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"proto", "third_party"} {
		if err := os.Symlink(filepath.Join(root, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	run("python-stubs", dir, "bash", "-ec", blocks["python-stubs"])
	if err := os.WriteFile(filepath.Join(dir, "send.py"), []byte(blocks["python"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run("python", dir, debianPython, "send.py"); !strings.Contains(out, "MESSAGE_STATE_SENT") {
		t.Fatalf("python: %s", out)
	}

	if got := received(f, accountA, contact1); len(got) != 3 {
		t.Errorf("fakewa received %d messages, want 3 (curl, node, python)", len(got))
	}
}
