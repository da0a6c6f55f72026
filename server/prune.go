package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// PruneSessions deletes the tenants inactive for longer than inactive_for,
// by the supervisor's rule (Supervisor.Prune, also run by --prune-inactive).
func (s *Server) PruneSessions(ctx context.Context, req *wapoolv1.PruneSessionsRequest) (*wapoolv1.PruneSessionsResponse, error) {
	d := req.GetInactiveFor()
	if d == nil || d.CheckValid() != nil || d.AsDuration() <= 0 {
		return nil, status.Error(codes.InvalidArgument, "inactive_for: want a positive duration")
	}
	if s.cluster != nil && !req.GetDryRun() {
		return s.clusterPrune(ctx, d.AsDuration())
	}
	ids, err := s.sup.Prune(ctx, d.AsDuration(), req.GetDryRun())
	if err != nil {
		return nil, toStatus(err)
	}
	return &wapoolv1.PruneSessionsResponse{TenantIds: ids}, nil
}

// clusterPrune picks the tenants by the same rule, then logs each out
// where it is held, as a Logout call would go.
func (s *Server) clusterPrune(ctx context.Context, inactiveFor time.Duration) (*wapoolv1.PruneSessionsResponse, error) {
	ids, err := s.sup.Prune(ctx, inactiveFor, true)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &wapoolv1.PruneSessionsResponse{}
	for _, id := range ids {
		if err := s.logoutWhereHeld(ctx, id); err != nil {
			return resp, err
		}
		resp.TenantIds = append(resp.TenantIds, id)
	}
	return resp, nil
}

// logoutWhereHeld logs the tenant out on the node that holds it. Like the
// Forwarder does for a Logout call, it follows a tenant that moved while
// the Logout waited (TENANT_MOVING), up to followHops times: a prune that
// meets a planned move still prunes the tenant where it went.
func (s *Server) logoutWhereHeld(ctx context.Context, id string) error {
	for hop := 1; ; hop++ {
		addr, err := s.cluster.Route(id)
		if err != nil {
			return status.Errorf(codes.Unavailable, "finding the node of tenant %q: %v", id, err)
		}
		if addr == "" {
			err = toStatus(s.sup.Logout(ctx, id))
		} else {
			var c *grpc.ClientConn
			if c, err = s.fwd.conn(addr); err == nil {
				_, err = wapoolv1.NewSessionServiceClient(c).Logout(s.fwd.outgoing(ctx), &wapoolv1.LogoutRequest{TenantId: id})
			}
		}
		if !moving(err) || hop == followHops {
			return err
		}
	}
}
