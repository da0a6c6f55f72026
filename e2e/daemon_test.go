package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestDaemonHealthAndGracefulStop starts the real wapoold binary, checks the
// standard health service over a real connection, sends SIGTERM and expects
// exit code 0 within 10 s.
func TestDaemonHealthAndGracefulStop(t *testing.T) {
	d := startDaemon(t, daemonOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(d.conn)
	for _, svc := range []string{"", "wapool.v1.SessionService"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("health %q: %v", svc, err)
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q = %v, want SERVING", svc, resp.Status)
		}
	}
	start := time.Now()
	code := d.stop(t, syscall.SIGTERM, 10*time.Second)
	if code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	t.Logf("stopped in %v", time.Since(start))
}
