package server

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
)

// errNotACluster: a cluster call on a daemon that runs alone.
var errNotACluster = errors.New("not a cluster")

// Cluster is this node's membership in a cluster (*cluster.Node).
type Cluster interface {
	Router
	NodeID() string
	// Nodes returns the live nodes.
	Nodes() []sessionstore.Node
	// Drain tells a node to move its tenants away.
	Drain(nodeID string) error
}

// SetCluster turns on cluster mode: calls about a tenant held elsewhere are
// forwarded through f, ListSessions gathers every node's sessions, and
// DrainNode works.
func (s *Server) SetCluster(c Cluster, f *Forwarder) {
	s.cluster, s.fwd = c, f
}

// DrainNode marks a node draining; it moves its tenants away.
func (s *Server) DrainNode(ctx context.Context, req *wapoolv1.DrainNodeRequest) (*wapoolv1.DrainNodeResponse, error) {
	if s.cluster == nil {
		return nil, toStatus(fmt.Errorf("this daemon runs alone (no --store postgres://…), there is no node to drain: %w", errNotACluster))
	}
	if req.GetNodeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "node_id is required")
	}
	if err := s.cluster.Drain(req.GetNodeId()); err != nil {
		if errors.Is(err, sessionstore.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "node %q is not in the cluster", req.GetNodeId())
		}
		return nil, status.Errorf(codes.Unavailable, "draining node %q: %v", req.GetNodeId(), err)
	}
	s.log.Info("node told to drain", zap.String("drain_node", req.GetNodeId()))
	return &wapoolv1.DrainNodeResponse{}, nil
}

// clusterSessions completes this node's view of every tenant with the
// sessions the other live nodes run: a forwarded ListSessions (from another
// node) answers with this node's view only.
func (s *Server) clusterSessions(ctx context.Context, local *wapoolv1.ListSessionsResponse) (*wapoolv1.ListSessionsResponse, error) {
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(forwardedHeader)) > 0 {
		return local, nil
	}
	byID := make(map[string]int, len(local.Sessions))
	for i, ss := range local.Sessions {
		byID[ss.GetTenantId()] = i
	}
	for _, n := range s.cluster.Nodes() {
		if n.ID == s.cluster.NodeID() {
			continue
		}
		c, err := s.fwd.conn(n.Addr)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "node %s: %v", n.ID, err)
		}
		other, err := wapoolv1.NewSessionServiceClient(c).ListSessions(s.fwd.outgoing(ctx), &wapoolv1.ListSessionsRequest{})
		if err != nil {
			return nil, fmt.Errorf("listing the sessions of node %s: %w", n.ID, err)
		}
		for _, ss := range other.GetSessions() {
			if i, ok := byID[ss.GetTenantId()]; ok && ss.GetNode() != "" {
				local.Sessions[i] = ss // the running node knows best
			}
		}
	}
	return local, nil
}
