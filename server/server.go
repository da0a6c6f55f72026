// Package server is the thin gRPC adapter of wapool: it validates requests,
// calls the supervisor and maps its errors to gRPC status codes in exactly
// one place (errors.go).
package server

import (
	"go.uber.org/zap"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Server implements wapool.v1.SessionService.
type Server struct {
	wapoolv1.UnimplementedSessionServiceServer
	log *zap.Logger
}

var _ wapoolv1.SessionServiceServer = (*Server)(nil)

// New returns a Server.
func New(log *zap.Logger) *Server { return &Server{log: log} }
