// Package server is the thin gRPC adapter of wapool: it converts requests,
// calls the supervisor and maps its errors to gRPC status codes in exactly
// one function (toStatus in errors.go). It holds no state of its own.
package server

import (
	"context"

	"go.uber.org/zap"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// Server implements wapool.v1.SessionService over a Supervisor.
type Server struct {
	wapoolv1.UnimplementedSessionServiceServer
	sup *supervisor.Supervisor
	log *zap.Logger

	events eventConfig // WatchEvents (events.go)
	dead   *DeadEvents // the webhook's dead-letter list (deadevents.go); nil: its RPCs are UNIMPLEMENTED
	hooks  *Webhooks   // the webhooks of the API (webhooks.go); nil: their RPCs are UNIMPLEMENTED

	cluster Cluster    // cluster mode (cluster.go); nil on a single node
	fwd     *Forwarder // with cluster

	media    MediaStore // Send's files (media.go); nil: a Send with a file is refused
	maxMedia int64      // the largest file Send takes, bytes
}

var _ wapoolv1.SessionServiceServer = (*Server)(nil)

// New returns a Server calling sup.
func New(sup *supervisor.Supervisor, log *zap.Logger) *Server {
	return &Server{sup: sup, log: log}
}

// Link streams the link attempt's events.
func (s *Server) Link(req *wapoolv1.LinkRequest, stream wapoolv1.SessionService_LinkServer) error {
	err := s.sup.Link(stream.Context(), req.GetTenantId(), req.GetPhoneNumber(), func(ev supervisor.LinkEvent) error {
		return stream.Send(linkEvent(ev))
	})
	return toStatus(err)
}

// Send sends one message: a text, or a file whose bytes are stored first
// (media.go). SendFile streams a file (sendfile.go).
func (s *Server) Send(ctx context.Context, req *wapoolv1.SendRequest) (*wapoolv1.SendResponse, error) {
	var md *sessionstore.Media
	if req.GetMedia() != nil {
		var release func()
		var err error
		if md, release, err = s.storeMedia(ctx, req); err != nil {
			return nil, toStatus(err)
		}
		defer release()
	}
	m, err := s.send(ctx, req, md)
	if err != nil {
		return nil, err
	}
	return &wapoolv1.SendResponse{Message: m}, nil
}

// send enqueues req's message, with md its stored file (nil: a text), and
// waits as req says; Send and SendFile end here. Errors are statuses.
func (s *Server) send(ctx context.Context, req *wapoolv1.SendRequest, md *sessionstore.Media) (*wapoolv1.Message, error) {
	m, err := s.sup.Send(ctx, supervisor.SendRequest{
		TenantID:       req.GetTenantId(),
		To:             req.GetTo(),
		Text:           req.GetText(),
		IdempotencyKey: req.GetIdempotencyKey(),
		WaitAccepted:   req.GetWait() == wapoolv1.Wait_WAIT_ACCEPTED,
		Media:          md,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return message(m), nil
}

// GetMessage returns one message.
func (s *Server) GetMessage(ctx context.Context, req *wapoolv1.GetMessageRequest) (*wapoolv1.GetMessageResponse, error) {
	m, err := s.sup.GetMessage(ctx, req.GetTenantId(), req.GetMessageId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &wapoolv1.GetMessageResponse{Message: message(m)}, nil
}

// Status returns one session.
func (s *Server) Status(ctx context.Context, req *wapoolv1.StatusRequest) (*wapoolv1.StatusResponse, error) {
	ss, err := s.sup.Status(ctx, req.GetTenantId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &wapoolv1.StatusResponse{Session: session(ss)}, nil
}

// ListSessions returns every session the caller's scope covers: the others
// are left out as if they did not exist.
func (s *Server) ListSessions(ctx context.Context, _ *wapoolv1.ListSessionsRequest) (*wapoolv1.ListSessionsResponse, error) {
	all, err := s.sup.ListSessions(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &wapoolv1.ListSessionsResponse{}
	for _, ss := range all {
		if TenantAllowed(ctx, ss.TenantID) {
			resp.Sessions = append(resp.Sessions, session(ss))
		}
	}
	if s.cluster != nil {
		return s.clusterSessions(ctx, resp)
	}
	return resp, nil
}

// Logout removes a tenant.
func (s *Server) Logout(ctx context.Context, req *wapoolv1.LogoutRequest) (*wapoolv1.LogoutResponse, error) {
	if err := s.sup.Logout(ctx, req.GetTenantId()); err != nil {
		return nil, toStatus(err)
	}
	return &wapoolv1.LogoutResponse{}, nil
}

// Diagnose runs the page contract's probes on the tenant's live page.
func (s *Server) Diagnose(ctx context.Context, req *wapoolv1.DiagnoseRequest) (*wapoolv1.DiagnoseResponse, error) {
	d, err := s.sup.Diagnose(ctx, req.GetTenantId(), req.GetDeep())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &wapoolv1.DiagnoseResponse{Drawing: d.Drawing}
	for _, c := range d.Checks {
		resp.Checks = append(resp.Checks, &wapoolv1.Check{Name: c.Name, Ok: c.OK, Selector: c.Selector, Detail: c.Detail})
	}
	return resp, nil
}

// Screenshot returns what the tenant's page shows.
func (s *Server) Screenshot(ctx context.Context, req *wapoolv1.ScreenshotRequest) (*wapoolv1.ScreenshotResponse, error) {
	png, err := s.sup.Screenshot(ctx, req.GetTenantId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &wapoolv1.ScreenshotResponse{Png: png}, nil
}
