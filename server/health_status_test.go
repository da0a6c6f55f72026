package server

import (
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/wapool/wapool/supervisor"
)

// TestTenantStatusPageContract: a linked READY tenant is SERVING, and
// NOT_SERVING while its page does not match the page contract (its queue
// is held until a person fixes the selectors).
func TestTenantStatusPageContract(t *testing.T) {
	ready := supervisor.Session{TenantID: "shop", State: supervisor.StateReady, Linked: true}
	if got := TenantStatus(ready); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("READY: %v", got)
	}
	ready.PageContract = "send_button"
	if got := TenantStatus(ready); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("READY with a broken page contract: %v, want NOT_SERVING", got)
	}
}
