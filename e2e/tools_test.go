package e2e

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lookTool finds a tool `make tools` installs; outside CI a missing tool skips.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not on PATH: `make test` installs it with `make tools`", name)
	}
	t.Skipf("%s not on PATH: run `make tools` (or `make test`)", name)
	return ""
}

// TestGrpcurlAndHealthProbe checks the daemon with the public tools operators
// use: grpcurl lists the services through reflection, grpc-health-probe sees
// SERVING.
func TestGrpcurlAndHealthProbe(t *testing.T) {
	grpcurl := lookTool(t, "grpcurl")
	probe := lookTool(t, "grpc-health-probe")
	d := startDaemon(t, daemonOpts{})
	out, err := exec.Command(grpcurl, "-plaintext", d.addr, "list").CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl list: %v\n%s", err, out)
	}
	for _, svc := range []string{"wapool.v1.SessionService", "grpc.health.v1.Health"} {
		if !strings.Contains(string(out), svc) {
			t.Errorf("grpcurl list lacks %s:\n%s", svc, out)
		}
	}
	out, err = exec.Command(probe, "-addr", d.addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SERVING") {
		t.Fatalf("grpc-health-probe: %v\n%s", err, out)
	}
	if code := d.stop(t, syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
