package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/wapool/wapool/internal/grpctest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Tenants of the fake with a scripted Link.
const (
	tenantExpire = "expire" // one QR, then DEADLINE_EXCEEDED
	tenantHang   = "hang"   // one QR, then waits until the stream is cancelled
	linkedPhone  = "4915112345678"
	fakeMaxMedia = 1000 // the fake's --max-media-bytes
	fakePairing  = "WXYZ2345"
)

// fakeService is a hand-written SessionService: just enough state to answer
// wapoolctl like the daemon does. mu guards the fields that follow it.
type fakeService struct {
	wapoolv1.UnimplementedSessionServiceServer

	mu        sync.Mutex
	sessions  map[string]*wapoolv1.Session
	messages  map[string]*wapoolv1.Message // by id
	keys      map[string]*wapoolv1.Message // by tenant+"/"+key
	sends     []*wapoolv1.SendRequest
	links     []*wapoolv1.LinkRequest
	qrCodes   []string // codes sent by the last QR link, in order
	cancelled bool     // a hang link saw its stream cancelled
	shot      []byte
	inactive  []string                         // the tenants PruneSessions answers, whatever the request
	prunes    []*wapoolv1.PruneSessionsRequest // every PruneSessions request, in order
	drained   []string                         // the nodes DrainNode was asked to drain
	chunks    int                              // SendFile chunks received
}

func newFakeService(t *testing.T) *fakeService {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{0, 128, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return &fakeService{
		sessions: map[string]*wapoolv1.Session{
			"shop1": {TenantId: "shop1", State: wapoolv1.SessionState_SESSION_STATE_READY, Phone: "4915199999999", Linked: true,
				Browser:    &wapoolv1.Browser{Running: true, Pid: 4242, StartedAt: timestamppb.New(now.Add(-time.Hour)), Restarts: 2, LastExit: "signal: killed"},
				LastActive: timestamppb.New(now.Add(-3 * time.Minute)), Queued: 1, ProfileBytes: 12 << 20},
			"shop2": {TenantId: "shop2", State: wapoolv1.SessionState_SESSION_STATE_UNLINKED,
				Browser: &wapoolv1.Browser{}, LastError: "logged out\nfrom the phone"},
		},
		messages: map[string]*wapoolv1.Message{},
		keys:     map[string]*wapoolv1.Message{},
		shot:     buf.Bytes(),
	}
}

// serve runs svc on a real gRPC server on 127.0.0.1:0 until the test ends.
func serve(t *testing.T, svc wapoolv1.SessionServiceServer, opts ...grpc.ServerOption) string {
	t.Helper()
	srv := grpc.NewServer(opts...)
	wapoolv1.RegisterSessionServiceServer(srv, svc)
	return grpctest.Serve(t, srv)
}

func withReason(code codes.Code, msg, reason string) error {
	st, _ := status.New(code, msg).WithDetails(errInfo(reason))
	return st.Err()
}

func (f *fakeService) Link(req *wapoolv1.LinkRequest, stream grpc.ServerStreamingServer[wapoolv1.LinkResponse]) error {
	f.mu.Lock()
	f.links = append(f.links, req)
	s := f.sessions[req.GetTenantId()]
	f.mu.Unlock()
	send := func(ev *wapoolv1.LinkResponse) error { return stream.Send(ev) }
	qr := func(seq, valid uint32) *wapoolv1.LinkResponse {
		code := whatsappLikeCode(fmt.Sprintf("%s-%d", req.GetTenantId(), seq))
		f.mu.Lock()
		f.qrCodes = append(f.qrCodes, code)
		f.mu.Unlock()
		return &wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_Qr{Qr: &wapoolv1.QRCode{
			Code: code, Png: []byte("not shown"), Sequence: seq, ValidSeconds: valid}}}
	}
	linked := &wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_Linked{Linked: &wapoolv1.Linked{Phone: linkedPhone}}}
	switch {
	case s != nil && s.GetLinked():
		return send(&wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_Linked{Linked: &wapoolv1.Linked{
			Phone: s.GetPhone(), AlreadyLinked: true}}})
	case req.GetTenantId() == tenantExpire:
		if err := send(qr(1, 60)); err != nil {
			return err
		}
		return status.Error(codes.DeadlineExceeded, "the QR codes ran out")
	case req.GetTenantId() == tenantHang:
		if err := send(qr(1, 60)); err != nil {
			return err
		}
		<-stream.Context().Done()
		f.mu.Lock()
		f.cancelled = true
		f.mu.Unlock()
		return stream.Context().Err()
	case req.GetPhoneNumber() != "":
		if err := send(&wapoolv1.LinkResponse{Event: &wapoolv1.LinkResponse_PairingCode{PairingCode: &wapoolv1.PairingCode{
			Code: fakePairing, Sequence: 1, ValidSeconds: 180}}}); err != nil {
			return err
		}
	default:
		if err := send(qr(1, 60)); err != nil {
			return err
		}
		if err := send(qr(2, 20)); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.sessions[req.GetTenantId()] = &wapoolv1.Session{TenantId: req.GetTenantId(),
		State: wapoolv1.SessionState_SESSION_STATE_READY, Phone: linkedPhone, Linked: true, Browser: &wapoolv1.Browser{Running: true}}
	f.mu.Unlock()
	return send(linked)
}

func (f *fakeService) Send(_ context.Context, req *wapoolv1.SendRequest) (*wapoolv1.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, req)
	s := f.sessions[req.GetTenantId()]
	switch {
	case s == nil:
		return nil, status.Error(codes.NotFound, "unknown tenant")
	case !s.GetLinked():
		return nil, withReason(codes.FailedPrecondition, "tenant is not linked", reasonNotLinked)
	case strings.TrimSpace(req.GetText()) == "" && req.GetMedia() == nil:
		return nil, status.Error(codes.InvalidArgument, "text is empty")
	case len(req.GetMedia().GetData()) > fakeMaxMedia:
		return nil, withReason(codes.InvalidArgument, fmt.Sprintf("the file has %d bytes, more than the daemon's limit of %d bytes", len(req.GetMedia().GetData()), fakeMaxMedia), reasonMediaTooLarge)
	case req.GetMedia() != nil && len(req.GetMedia().GetData()) == 0:
		return nil, withReason(codes.InvalidArgument, "invalid file: the file is empty", reasonInvalidMedia)
	case strings.HasPrefix(req.GetTo(), "000"):
		return nil, withReason(codes.FailedPrecondition, "phone number shared via url is invalid", reasonNotOnWhatsApp)
	}
	if k := req.GetIdempotencyKey(); k != "" {
		if m := f.keys[req.GetTenantId()+"/"+k]; m != nil {
			return nil, withReason(codes.InvalidArgument, "key reused", reasonKeyReused)
		}
	}
	id := fmt.Sprintf("m%d", len(f.messages)+1)
	m := &wapoolv1.Message{Id: id, TenantId: req.GetTenantId(), To: strings.TrimPrefix(req.GetTo(), "+"),
		CreatedAt: timestamppb.Now(), IdempotencyKey: req.GetIdempotencyKey()}
	if md := req.GetMedia(); md != nil {
		sum := sha256.Sum256(md.GetData())
		m.Media = &wapoolv1.MessageMedia{Filename: md.GetFilename(), MimeType: md.GetMimeType(), Size: int64(len(md.GetData())),
			Sha256: hex.EncodeToString(sum[:]), AsDocument: md.GetAsDocument() || md.GetMimeType() != "image/png"}
	}
	switch {
	case req.GetWait() == wapoolv1.Wait_WAIT_ACCEPTED:
		m.State = wapoolv1.MessageState_MESSAGE_STATE_QUEUED
	case req.GetText() == "please fail":
		m.State, m.Error, m.Attempts = wapoolv1.MessageState_MESSAGE_STATE_FAILED, "no tick within 60s", 3
	default:
		m.State, m.Attempts, m.SentAt = wapoolv1.MessageState_MESSAGE_STATE_SENT, 1, timestamppb.Now()
		m.WaMessageId = "true_" + m.GetTo() + "@c.us_3EB0" + id
	}
	f.messages[id] = m
	if k := req.GetIdempotencyKey(); k != "" {
		f.keys[req.GetTenantId()+"/"+k] = m
	}
	return &wapoolv1.SendResponse{Message: m}, nil
}

// SendFile gathers the chunks (refusing them once past the fake's limit,
// as the daemon does) and answers as Send; chunks counts them.
func (f *fakeService) SendFile(stream grpc.ClientStreamingServer[wapoolv1.SendFileRequest, wapoolv1.SendFileResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	req := first.GetHeader()
	if req == nil || req.GetMedia() == nil || len(req.GetMedia().GetData()) > 0 {
		return status.Error(codes.InvalidArgument, "bad header")
	}
	var data []byte
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		c := m.GetChunk()
		if len(c) == 0 || len(c) > 1<<20 {
			return status.Errorf(codes.InvalidArgument, "bad chunk of %d bytes", len(c))
		}
		if data = append(data, c...); len(data) > fakeMaxMedia {
			return withReason(codes.InvalidArgument, fmt.Sprintf("the file has at least %d bytes, more than the daemon's limit of %d bytes", len(data), fakeMaxMedia), reasonMediaTooLarge)
		}
		f.mu.Lock()
		f.chunks++
		f.mu.Unlock()
	}
	req.Media.Data = data
	resp, err := f.Send(stream.Context(), req)
	if err != nil {
		return err
	}
	return stream.SendAndClose(&wapoolv1.SendFileResponse{Message: resp.GetMessage()})
}

func (f *fakeService) GetMessage(_ context.Context, req *wapoolv1.GetMessageRequest) (*wapoolv1.GetMessageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.messages[req.GetMessageId()]
	if m == nil || m.GetTenantId() != req.GetTenantId() {
		return nil, status.Error(codes.NotFound, "no such message")
	}
	return &wapoolv1.GetMessageResponse{Message: m}, nil
}

func (f *fakeService) Status(_ context.Context, req *wapoolv1.StatusRequest) (*wapoolv1.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[req.GetTenantId()]
	if s == nil {
		return nil, status.Error(codes.NotFound, "unknown tenant")
	}
	return &wapoolv1.StatusResponse{Session: s}, nil
}

func (f *fakeService) ListSessions(context.Context, *wapoolv1.ListSessionsRequest) (*wapoolv1.ListSessionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &wapoolv1.ListSessionsResponse{}
	for _, s := range f.sessions {
		resp.Sessions = append(resp.Sessions, s)
	}
	sort.Slice(resp.Sessions, func(i, j int) bool { return resp.Sessions[i].GetTenantId() < resp.Sessions[j].GetTenantId() })
	return resp, nil
}

// DrainNode knows the nodes of the sessions; any other is NOT_FOUND.
func (f *fakeService) DrainNode(_ context.Context, req *wapoolv1.DrainNodeRequest) (*wapoolv1.DrainNodeResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if s.GetNode() != "" && s.GetNode() == req.GetNodeId() {
			f.drained = append(f.drained, req.GetNodeId())
			return &wapoolv1.DrainNodeResponse{}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "node %q is not in the cluster", req.GetNodeId())
}

func (f *fakeService) Logout(_ context.Context, req *wapoolv1.LogoutRequest) (*wapoolv1.LogoutResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions[req.GetTenantId()] == nil {
		return nil, status.Error(codes.NotFound, "unknown tenant")
	}
	delete(f.sessions, req.GetTenantId())
	return &wapoolv1.LogoutResponse{}, nil
}

// PruneSessions answers with f.inactive (the daemon's rule is the
// supervisor's, tested there) and deletes them unless it is a dry run.
func (f *fakeService) PruneSessions(_ context.Context, req *wapoolv1.PruneSessionsRequest) (*wapoolv1.PruneSessionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prunes = append(f.prunes, req)
	resp := &wapoolv1.PruneSessionsResponse{TenantIds: f.inactive}
	if !req.GetDryRun() {
		for _, id := range f.inactive {
			delete(f.sessions, id)
		}
		f.inactive = nil
	}
	return resp, nil
}

// Diagnose answers shop1 with every check passing (the deep form adds
// chat_link) and shop3 with a broken send_button; a tenant without a
// running browser gets FAILED_PRECONDITION.
func (f *fakeService) Diagnose(_ context.Context, req *wapoolv1.DiagnoseRequest) (*wapoolv1.DiagnoseResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := req.GetTenantId()
	if id == "shop3" {
		return &wapoolv1.DiagnoseResponse{Drawing: "2026", Checks: []*wapoolv1.Check{
			{Name: "page_state", Ok: true, Detail: "the main screen: linked (fact 4)"},
			{Name: "send_button", Selector: `footer button[aria-label="Send"]`, Detail: `no send button while the box holds text (fact 8); around it: <footer><div role="button">…</div></footer>`},
		}}, nil
	}
	s := f.sessions[id]
	if s == nil {
		return nil, status.Error(codes.NotFound, "unknown tenant")
	}
	if !s.GetBrowser().GetRunning() {
		return nil, status.Error(codes.FailedPrecondition, "the browser is not running")
	}
	resp := &wapoolv1.DiagnoseResponse{Drawing: "older", Checks: []*wapoolv1.Check{
		{Name: "page_state", Ok: true, Detail: "the main screen: linked (fact 4)"},
		{Name: "compose", Ok: true, Selector: `footer div[contenteditable="true"]`, Detail: "the open chat's compose box (fact 7)"},
	}}
	if req.GetDeep() {
		resp.Checks = append(resp.Checks, &wapoolv1.Check{Name: "chat_link", Ok: true, Detail: "the tenant's own chat opened"})
	}
	return resp, nil
}

func (f *fakeService) Screenshot(_ context.Context, req *wapoolv1.ScreenshotRequest) (*wapoolv1.ScreenshotResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[req.GetTenantId()]
	if s == nil {
		return nil, status.Error(codes.NotFound, "unknown tenant")
	}
	if !s.GetBrowser().GetRunning() {
		return nil, status.Error(codes.FailedPrecondition, "the browser is not running")
	}
	return &wapoolv1.ScreenshotResponse{Png: f.shot}, nil
}
