package grpctest

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
)

func TestServe(t *testing.T) {
	gs := grpc.NewServer()
	healthgrpc.RegisterHealthServer(gs, health.NewServer())
	addr := Serve(t, gs)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthgrpc.NewHealthClient(conn).Check(context.Background(), &healthgrpc.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("Check on %s: %v, %v", addr, resp, err)
	}
}

// A test that ends at once stops the server before its Serve may have
// begun; that is not a failure of the test.
func TestServeEndsAtOnce(t *testing.T) {
	for i := range 200 {
		ok := t.Run("", func(t *testing.T) { Serve(t, grpc.NewServer()) })
		if !ok {
			t.Fatalf("run %d failed", i)
		}
	}
}
