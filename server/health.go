package server

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/supervisor"
)

// TenantHealthPrefix names a tenant's health service: "tenant/<id>".
const TenantHealthPrefix = "tenant/"

// Health is the standard grpc.health.v1 service. "" and
// wapool.v1.SessionService are SERVING while the daemon works, never tied to
// one tenant. "tenant/<id>" answers whether the tenant needs a person:
// SERVING while linked and not FAILED, NOT_SERVING when UNLINKED, LINKING or
// FAILED or while its page does not match the page contract (its queue is
// held), NOT_FOUND for an unknown tenant.
type Health struct {
	*health.Server // daemon services, and tenants' statuses for Watch
	sup            *supervisor.Supervisor
}

var _ healthpb.HealthServer = (*Health)(nil)

// NewHealth returns the health service with the daemon SERVING.
func NewHealth(sup *supervisor.Supervisor) *Health {
	h := &Health{Server: health.NewServer(), sup: sup}
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus(wapoolv1.SessionService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return h
}

// TenantStatus is the health of a tenant in the given session.
func TenantStatus(s supervisor.Session) healthpb.HealthCheckResponse_ServingStatus {
	if s.PageContract != "" {
		return healthpb.HealthCheckResponse_NOT_SERVING // a person must fix the selectors
	}
	switch s.State {
	case supervisor.StateReady, supervisor.StateHibernated:
		return healthpb.HealthCheckResponse_SERVING
	case supervisor.StateStarting, supervisor.StateRestarting:
		if s.Linked {
			return healthpb.HealthCheckResponse_SERVING
		}
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

// OnChange keeps the tenants' statuses current for Watch; pass it as the
// supervisor's OnChange.
func (h *Health) OnChange(s supervisor.Session) {
	h.SetServingStatus(TenantHealthPrefix+s.TenantID, TenantStatus(s))
}

// List answers the standard server's statuses, without the tenants outside
// the caller's scope.
func (h *Health) List(ctx context.Context, req *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	resp, err := h.Server.List(ctx, req)
	if err != nil {
		return nil, err
	}
	for svc := range resp.GetStatuses() {
		if id, ok := strings.CutPrefix(svc, TenantHealthPrefix); ok && !TenantAllowed(ctx, id) {
			delete(resp.Statuses, svc)
		}
	}
	return resp, nil
}

// Check answers tenants from the supervisor and the rest from the standard
// server.
func (h *Health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	id, ok := strings.CutPrefix(req.GetService(), TenantHealthPrefix)
	if !ok {
		return h.Server.Check(ctx, req)
	}
	s, err := h.sup.Status(ctx, id)
	if err != nil {
		st := status.Convert(toStatus(err))
		if st.Code() == codes.InvalidArgument {
			return nil, status.Error(codes.NotFound, "unknown tenant")
		}
		return nil, st.Err()
	}
	return &healthpb.HealthCheckResponse{Status: TenantStatus(s)}, nil
}
