// Package grpctest serves a gRPC server on a loopback port for the length
// of a test: a fake daemon for wapoolctl, a peer node or the server under
// test for a client that dials it over the network.
package grpctest

import (
	"errors"
	"net"
	"testing"

	"google.golang.org/grpc"
)

// Serve serves gs, its services registered, on 127.0.0.1:0 and returns the
// address. When tb ends it stops gs, waits for Serve to return, and fails
// tb if Serve ended with an error other than the server having been
// stopped (a test that ends at once may stop gs before Serve began). It
// fails tb at once when it cannot listen.
func Serve(tb testing.TB, gs *grpc.Server) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gs.Serve(lis) }()
	tb.Cleanup(func() {
		gs.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}
