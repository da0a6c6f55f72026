package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/grpctest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// recorder is a node's SessionService: it answers with its own name and
// records what each call carried.
type recorder struct {
	wapoolv1.UnimplementedSessionServiceServer
	name string

	mu        sync.Mutex
	calls     int
	auth      []string
	forwarded []string
	deadline  bool
}

func (r *recorder) note(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	_, hasDeadline := ctx.Deadline()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.auth = append(r.auth, md.Get("authorization")...)
	r.forwarded = append(r.forwarded, md.Get(forwardedHeader)...)
	r.deadline = hasDeadline
}

func (r *recorder) Status(ctx context.Context, req *wapoolv1.StatusRequest) (*wapoolv1.StatusResponse, error) {
	r.note(ctx)
	return &wapoolv1.StatusResponse{Session: &wapoolv1.Session{TenantId: req.GetTenantId(), Node: r.name}}, nil
}

func (r *recorder) Link(req *wapoolv1.LinkRequest, stream grpc.ServerStreamingServer[wapoolv1.LinkResponse]) error {
	r.note(stream.Context())
	for _, code := range []string{"c1", "c2", r.name} {
		if err := stream.Send(&wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_Qr{Qr: &wapoolv1.QRCode{Code: code}}}); err != nil {
			return err
		}
	}
	return status.Error(codes.DeadlineExceeded, "codes ran out")
}

// fixedRoute sends tenant "far" to addr; everything else stays.
type fixedRoute struct{ addr string }

func (f fixedRoute) Route(tenant string) (string, error) {
	if tenant == "far" {
		return f.addr, nil
	}
	return "", nil
}

func serveNode(t *testing.T, r wapoolv1.SessionServiceServer, opts ...grpc.ServerOption) string {
	t.Helper()
	gs := grpc.NewServer(opts...)
	wapoolv1.RegisterSessionServiceServer(gs, r)
	return grpctest.Serve(t, gs)
}

// statusOfFar asks the node at addr (plaintext) for tenant "far"'s status,
// within 10 s.
func statusOfFar(t *testing.T, addr string) (*wapoolv1.StatusResponse, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return wapoolv1.NewSessionServiceClient(conn).Status(ctx, &wapoolv1.StatusRequest{TenantId: "far"})
}

// A call about a tenant held elsewhere reaches the holder with the
// caller's credentials and deadline, once, and its answer (streams
// included, status and all) comes back as the holder gave it.
func TestForwarderSendsCallsToTheHolder(t *testing.T) {
	far := &recorder{name: "far-node"}
	farAddr := serveNode(t, far)
	// The far node forwards too, but never a forwarded call back.
	farFwd := NewForwarder(fixedRoute{addr: "127.0.0.1:1"}, "far-node")
	defer farFwd.Close()
	far2 := &recorder{name: "far-node"}
	farAddr2 := serveNode(t, far2, grpc.ChainUnaryInterceptor(farFwd.UnaryInterceptor), grpc.ChainStreamInterceptor(farFwd.StreamInterceptor))

	for _, target := range []struct {
		addr string
		rec  *recorder
	}{{farAddr, far}, {farAddr2, far2}} {
		near := &recorder{name: "near-node"}
		fwd := NewForwarder(fixedRoute{addr: target.addr}, "near-node")
		defer fwd.Close()
		nearAddr := serveNode(t, near, grpc.ChainUnaryInterceptor(fwd.UnaryInterceptor), grpc.ChainStreamInterceptor(fwd.StreamInterceptor))
		conn, err := grpc.NewClient(nearAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := wapoolv1.NewSessionServiceClient(conn)
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer t0ken"), 10*time.Second)
		defer cancel()

		resp, err := c.Status(ctx, &wapoolv1.StatusRequest{TenantId: "far"})
		if err != nil || resp.GetSession().GetNode() != "far-node" {
			t.Fatalf("Status of far through near: %v, %v", resp, err)
		}
		resp, err = c.Status(ctx, &wapoolv1.StatusRequest{TenantId: "here"})
		if err != nil || resp.GetSession().GetNode() != "near-node" {
			t.Fatalf("Status of a local tenant: %v, %v", resp, err)
		}
		stream, err := c.Link(ctx, &wapoolv1.LinkRequest{TenantId: "far"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			ev, err := stream.Recv()
			if err != nil {
				if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() != "codes ran out" {
					t.Errorf("Link stream ended with %v, want the holder's DEADLINE_EXCEEDED", err)
				}
				break
			}
			got = append(got, ev.GetQr().GetCode())
		}
		if len(got) != 3 || got[2] != "far-node" {
			t.Errorf("Link events %v, want c1 c2 far-node", got)
		}

		r := target.rec
		r.mu.Lock()
		if r.calls != 2 || len(r.auth) != 2 || r.auth[0] != "Bearer t0ken" || !r.deadline {
			t.Errorf("holder saw %d calls, authorization %v, deadline %v; want 2, the caller's token, a deadline", r.calls, r.auth, r.deadline)
		}
		if len(r.forwarded) != 2 || r.forwarded[0] != "near-node" {
			t.Errorf("forwarded-by %v, want near-node", r.forwarded)
		}
		r.mu.Unlock()
		near.mu.Lock()
		if near.calls != 1 {
			t.Errorf("near served %d calls itself, want 1 (its own tenant)", near.calls)
		}
		near.mu.Unlock()
	}
}

func (r *recorder) Logout(ctx context.Context, _ *wapoolv1.LogoutRequest) (*wapoolv1.LogoutResponse, error) {
	r.note(ctx)
	return &wapoolv1.LogoutResponse{}, nil
}

// movingRecorder answers every Status and Logout with TENANT_MOVING, as a
// node does that the tenant has just left.
type movingRecorder struct{ recorder }

func (r *movingRecorder) Status(ctx context.Context, _ *wapoolv1.StatusRequest) (*wapoolv1.StatusResponse, error) {
	r.note(ctx)
	return nil, toStatus(fmt.Errorf("node c places the tenant: %w", supervisor.ErrNotHolder))
}

func (r *movingRecorder) Logout(ctx context.Context, _ *wapoolv1.LogoutRequest) (*wapoolv1.LogoutResponse, error) {
	r.note(ctx)
	return nil, toStatus(fmt.Errorf("node c places the tenant: %w", supervisor.ErrNotHolder))
}

// routes answers each Route from a list, the last one again once it runs out.
type routes struct {
	mu    sync.Mutex
	addrs []string
}

func (r *routes) Route(string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.addrs[0]
	if len(r.addrs) > 1 {
		r.addrs = r.addrs[1:]
	}
	return a, nil
}

// A call that reaches a node the tenant has just left follows it to the
// next holder, and the client sees only that holder's answer.
func TestForwarderFollowsAMovingTenant(t *testing.T) {
	left := &movingRecorder{recorder{name: "left"}}
	leftAddr := serveNode(t, left)
	next := &recorder{name: "next"}
	nextAddr := serveNode(t, next)
	fwd := NewForwarder(&routes{addrs: []string{leftAddr, nextAddr}}, "entry")
	defer fwd.Close()
	entryAddr := serveNode(t, &recorder{name: "entry"}, grpc.ChainUnaryInterceptor(fwd.UnaryInterceptor))
	resp, err := statusOfFar(t, entryAddr)
	if err != nil || resp.GetSession().GetNode() != "next" {
		t.Fatalf("Status: %v, %v; want next's answer", resp, err)
	}
	if left.calls != 1 || next.calls != 1 {
		t.Errorf("calls: left %d, next %d; want 1 and 1", left.calls, next.calls)
	}
}

// routedCluster is a Cluster whose Route answers from a list.
type routedCluster struct{ *routes }

func (routedCluster) NodeID() string             { return "entry" }
func (routedCluster) Nodes() []sessionstore.Node { return nil }
func (routedCluster) Drain(string) error         { return nil }

// A prune's Logout that reaches a node the tenant has just left follows the
// tenant to its next holder, as a Logout call does, and the prune goes on.
func TestPruneLogoutFollowsAMovingTenant(t *testing.T) {
	left := &movingRecorder{recorder{name: "left"}}
	leftAddr := serveNode(t, left)
	next := &recorder{name: "next"}
	nextAddr := serveNode(t, next)
	fwd := NewForwarder(nil, "entry")
	defer fwd.Close()
	s := &Server{}
	s.SetCluster(routedCluster{&routes{addrs: []string{leftAddr, nextAddr}}}, fwd)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.logoutWhereHeld(ctx, "far"); err != nil {
		t.Fatalf("logout of a tenant that moved: %v, want it logged out at its next holder", err)
	}
	for _, r := range []*recorder{&left.recorder, next} {
		r.mu.Lock()
		if r.calls != 1 {
			t.Errorf("%s served %d Logouts, want 1", r.name, r.calls)
		}
		r.mu.Unlock()
	}
}

// A call the Forwarder does not route (PruneSessions) runs once even when
// it answers TENANT_MOVING: a second run would answer only for what the
// first one left.
func TestForwarderRunsAnUnroutedCallOnce(t *testing.T) {
	fwd := NewForwarder(&routes{addrs: []string{""}}, "entry")
	defer fwd.Close()
	runs := 0
	handler := func(context.Context, any) (any, error) {
		runs++
		return nil, toStatus(fmt.Errorf("tenant %q: %w", "t1", supervisor.ErrNotHolder))
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/wapool.v1.SessionService/PruneSessions"}
	_, err := fwd.UnaryInterceptor(context.Background(), &wapoolv1.PruneSessionsRequest{}, info, handler)
	if !moving(err) || runs != 1 {
		t.Fatalf("PruneSessions ran %d times and answered %v; want once, its own TENANT_MOVING", runs, err)
	}
}
