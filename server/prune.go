package server

import (
	"context"

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
	ids, err := s.sup.Prune(ctx, d.AsDuration(), req.GetDryRun())
	if err != nil {
		return nil, toStatus(err)
	}
	return &wapoolv1.PruneSessionsResponse{TenantIds: ids}, nil
}
