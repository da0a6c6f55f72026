package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestSelectorsOverride: --selectors replaces the page facts the driver
// relies on. Here the landing is renamed away and the "update Chrome" page
// pattern made to match the landing's text, so the daemon sees the update
// page and fails the session — which only happens if the file took effect.
func TestSelectorsOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "selectors.json")
	if err := os.WriteFile(file, []byte(`{"landing": ".renamed-landing", "update_browser_pattern": "Steps to log in"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, d := startStack(t, "--selectors", file)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := d.client().Link(ctx, &wapoolv1.LinkRequest{TenantId: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if status.Code(err) != codes.FailedPrecondition || reason(err) != "SESSION_FAILED" {
		t.Fatalf("Link with the override: %v (reason %q)", err, reason(err))
	}
	if s := sessionStatus(t, d, "s1"); s.State != wapoolv1.SessionState_SESSION_STATE_FAILED || !strings.Contains(s.LastError, "update Chrome") {
		t.Fatalf("status: %v", s)
	}
}

// TestSelectorsFileRefused: a selectors file with an unknown field stops the
// daemon at start with a clear message.
func TestSelectorsFileRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "selectors.json")
	if err := os.WriteFile(file, []byte(`{"compose_box": "footer div"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "wapoold"), "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--metrics-addr", "", "--selectors", file)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "compose_box") || !strings.Contains(string(out), "--selectors") {
		t.Fatalf("wapoold with a bad selectors file: %v\n%s", err, out)
	}
}
