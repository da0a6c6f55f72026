package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestNonLoopbackWithoutCredentialsRefused: the daemon will not listen on a
// network address with no way to authenticate callers.
func TestNonLoopbackWithoutCredentialsRefused(t *testing.T) {
	cmd := exec.Command(filepath.Join(binDir, "wapoold"), "--listen", "0.0.0.0:0", "--data-dir", t.TempDir(), "--metrics-addr", "")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--insecure") {
		t.Fatalf("wapoold on 0.0.0.0 without credentials: %v\n%s", err, out)
	}
}

// TestBearerTokens: with --auth-tokens a missing or wrong token is
// UNAUTHENTICATED, the right one works, the daemon's health stays open for
// probes, and SIGHUP re-reads the file.
func TestBearerTokens(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# ops\nfirst-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, daemonOpts{args: []string{"--auth-tokens", tokens}})
	c := d.client()
	call := func(token string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		_, err := c.ListSessions(ctx, &wapoolv1.ListSessionsRequest{})
		return err
	}
	if err := call(""); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	if err := call("wrong-token"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token: %v", err)
	}
	if err := call("first-token-0123456789"); err != nil {
		t.Fatalf("right token: %v", err)
	}
	hc := healthpb.NewHealthClient(d.conn)
	if r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("daemon health without a token: %v, %v", r, err)
	}

	if err := os.WriteFile(tokens, []byte("second-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new token accepted", 10*time.Second, func() bool { return call("second-token-0123456789") == nil })
	if err := call("first-token-0123456789"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("old token after SIGHUP: %v", err)
	}
	if code := d.stop(t, syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
