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

// TestTokensRefusedAtStart: a token shorter than 32 characters refuses the
// file, and tokens on a network address without TLS are refused, both
// with a message that says why (and never the token).
func TestTokensRefusedAtStart(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("short-token-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(binDir, "wapoold"), "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--metrics-addr", "",
		"--auth-tokens", tokens).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "at least 32 characters") || strings.Contains(string(out), "short-token-0123") {
		t.Fatalf("wapoold with a short token: %v\n%s", err, out)
	}
	if err := os.WriteFile(tokens, []byte(firstToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(filepath.Join(binDir, "wapoold"), "--listen", "0.0.0.0:0", "--data-dir", t.TempDir(), "--metrics-addr", "",
		"--auth-tokens", tokens).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs TLS") {
		t.Fatalf("wapoold with tokens on 0.0.0.0 without TLS: %v\n%s", err, out)
	}
}

const (
	firstToken  = "first-token-0123456789abcdef-0123"
	secondToken = "second-token-0123456789abcdef-012"
	scopedToken = "scoped-token-0123456789abcdef-012"
)

// TestBearerTokens: with --auth-tokens a missing or wrong token is
// UNAUTHENTICATED, the right one works (a bare token as before scopes: every
// tenant), a token scoped to a-* gets PERMISSION_DENIED on b-1, the
// daemon's health stays open for probes, and SIGHUP re-reads the file.
func TestBearerTokens(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# ops\n"+firstToken+"\n"+scopedToken+" tenants=a-* role=send\n"), 0o600); err != nil {
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
	if err := call(firstToken); err != nil {
		t.Fatalf("right token: %v", err)
	}
	if err := call(scopedToken); err != nil {
		t.Fatalf("scoped token, ListSessions: %v", err)
	}
	status1 := func(token, tenant string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		_, err := c.Status(ctx, &wapoolv1.StatusRequest{TenantId: tenant})
		return err
	}
	if err := status1(scopedToken, "b-1"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("token scoped to a-*, Status b-1: %v, want PERMISSION_DENIED", err)
	}
	if err := status1(scopedToken, "a-1"); status.Code(err) != codes.NotFound {
		t.Fatalf("token scoped to a-*, Status of a-1 (no such tenant): %v, want NOT_FOUND", err)
	}
	if err := status1(firstToken, "b-1"); status.Code(err) != codes.NotFound {
		t.Fatalf("bare token, Status of b-1 (no such tenant): %v, want NOT_FOUND", err)
	}
	hc := healthpb.NewHealthClient(d.conn)
	if r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("daemon health without a token: %v, %v", r, err)
	}

	if err := os.WriteFile(tokens, []byte(secondToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new token accepted", 10*time.Second, func() bool { return call(secondToken) == nil })
	if err := call(firstToken); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("old token after SIGHUP: %v", err)
	}
	if code := d.stop(t, syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
