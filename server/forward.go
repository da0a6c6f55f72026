package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Router tells where a call about a tenant is served (cluster mode,
// *cluster.Node): "" for this node, else another node's gRPC address.
type Router interface {
	Route(tenantID string) (addr string, err error)
}

// forwardedHeader marks a call one node forwarded to another: the receiver
// serves it itself, so a call is forwarded at most once even while two
// nodes disagree for a moment about who holds a tenant.
const forwardedHeader = "wapool-forwarded-by"

// routed lists the calls that go to the node holding the tenant: those that
// drive its browser. The others read the shared store and are answered by
// any node.
var routed = map[string]bool{
	"/wapool.v1.SessionService/Link":       true,
	"/wapool.v1.SessionService/Send":       true,
	"/wapool.v1.SessionService/SendFile":   true,
	"/wapool.v1.SessionService/Status":     true,
	"/wapool.v1.SessionService/Logout":     true,
	"/wapool.v1.SessionService/Screenshot": true,
	"/wapool.v1.SessionService/Diagnose":   true,
}

// Forwarder sends calls about a tenant held by another node to that node,
// with the caller's deadline and credentials (its metadata), and relays the
// answer, streams included (Link). Put its interceptors after
// authentication, so that only authenticated calls are forwarded; the
// receiving node checks the credentials again.
type Forwarder struct {
	router Router
	self   string   // this node's id, sent in forwardedHeader
	tls    *NodeTLS // nil: plaintext between nodes

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by address
}

// ForwarderOption configures a Forwarder.
type ForwarderOption func(*Forwarder)

// WithNodeTLS makes the Forwarder dial the other nodes over TLS with the
// node's own certificate (the daemon serves TLS: the other nodes do too).
// Without it, node-to-node calls are plaintext.
func WithNodeTLS(n *NodeTLS) ForwarderOption {
	return func(f *Forwarder) { f.tls = n }
}

// NewForwarder returns a Forwarder for the node named self.
func NewForwarder(r Router, self string, opts ...ForwarderOption) *Forwarder {
	f := &Forwarder{router: r, self: self, conns: map[string]*grpc.ClientConn{}}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Close closes the connections to the other nodes.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, c := range f.conns {
		c.Close()
		delete(f.conns, addr)
	}
	return nil
}

// conn returns the connection to addr, dialled once: over TLS with the
// node's own certificate when the nodes serve TLS, else plaintext inside
// the cluster's network. The callers' tokens ride along.
func (f *Forwarder) conn(addr string) (*grpc.ClientConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.conns[addr]; ok {
		return c, nil
	}
	creds := insecure.NewCredentials()
	if f.tls != nil {
		creds = f.tls.credentials()
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	f.conns[addr] = c
	return c, nil
}

// target returns the address to forward the call to, "" to serve it here.
func (f *Forwarder) target(ctx context.Context, method string, req any) (string, error) {
	if !routed[method] {
		return "", nil
	}
	if f.forwarded(ctx) {
		return "", nil
	}
	tenant := tenantOf(req)
	if tenant == "" {
		return "", nil // the handler reports the bad request
	}
	addr, err := f.router.Route(tenant)
	if err != nil {
		return "", status.Errorf(codes.Unavailable, "finding the node of tenant %q: %v", tenant, err)
	}
	return addr, nil
}

// tenantOf returns the tenant a routed request names: its tenant_id, or
// that of SendFile's header; "" when none.
func tenantOf(req any) string {
	switch r := req.(type) {
	case interface{ GetTenantId() string }:
		return r.GetTenantId()
	case *wapoolv1.SendFileRequest:
		return r.GetHeader().GetTenantId()
	}
	return ""
}

// outgoing carries the caller's metadata (credentials included) and
// deadline (ctx's) to the next node, marked as forwarded.
func (f *Forwarder) outgoing(ctx context.Context) context.Context {
	in, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for k, v := range in {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "user-agent" || k == "te" {
			continue
		}
		out[k] = v
	}
	out.Set(forwardedHeader, f.self)
	return metadata.NewOutgoingContext(ctx, out)
}

// followHops bounds how often a call follows its tenant from node to node
// when it lands on a node the tenant has just left (TENANT_MOVING).
const followHops = 3

// UnaryInterceptor forwards unary calls. A routed call that finds its
// tenant gone (it waited out a move, here or on the node it was sent to) is
// routed again, up to followHops times; a call forwarded to this node is
// served here and answers TENANT_MOVING for the sender to follow. A call
// that is not routed runs once, whatever it answers: running it again
// would not route it elsewhere, and a PruneSessions run twice answers only
// for what its first run left.
func (f *Forwarder) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !routed[info.FullMethod] {
		return handler(ctx, req)
	}
	for hop := 1; ; hop++ {
		addr, err := f.target(ctx, info.FullMethod, req)
		if err != nil {
			return nil, err
		}
		resp, err := f.unaryTo(ctx, addr, req, info, handler)
		if !moving(err) || f.forwarded(ctx) || hop == followHops {
			return resp, err
		}
	}
}

// unaryTo serves the call here (addr "") or on the node at addr.
func (f *Forwarder) unaryTo(ctx context.Context, addr string, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if addr == "" {
		return handler(ctx, req)
	}
	reply, err := newOutput(info.FullMethod)
	if err != nil {
		return nil, err
	}
	c, err := f.conn(addr)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "connecting to node %s: %v", addr, err)
	}
	if err := c.Invoke(f.outgoing(ctx), info.FullMethod, req, reply); err != nil {
		return nil, err // the holder's status, as it is
	}
	return reply, nil
}

// forwarded tells whether another node forwarded this call here.
func (f *Forwarder) forwarded(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(forwardedHeader)) > 0
}

// StreamInterceptor forwards streaming calls: it reads the first request
// to learn the tenant, then either serves the stream here or relays it to
// the holder. A server stream (Link) is relayed message by message, and
// follows a moving tenant while the client has seen nothing; a client
// stream (SendFile: a header, then the file's chunks) is relayed chunk by
// chunk as they come, never held whole, and goes to one node only: its
// chunks, once relayed, cannot be sent again elsewhere (the holder's Send
// never answers TENANT_MOVING: a message for a tenant that moved waits in
// the shared outbox for its new holder).
func (f *Forwarder) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !routed[info.FullMethod] {
		return handler(srv, ss)
	}
	req, err := newInput(info.FullMethod)
	if err != nil {
		return err
	}
	if err := ss.RecvMsg(req); err != nil {
		if errors.Is(err, io.EOF) {
			return handler(srv, ss) // no request: the handler says so
		}
		return err
	}
	if info.IsClientStream {
		addr, err := f.target(ss.Context(), info.FullMethod, req)
		if err != nil {
			return err
		}
		if addr == "" {
			return handler(srv, &replayStream{ServerStream: ss, first: req})
		}
		return f.relayClient(ss, addr, req, info)
	}
	for hop := 1; ; hop++ {
		addr, err := f.target(ss.Context(), info.FullMethod, req)
		if err != nil {
			return err
		}
		rs := &replayStream{ServerStream: ss, first: req}
		if addr == "" {
			err = handler(srv, rs)
		} else {
			err = f.relay(rs, addr, req, info)
		}
		// Follow the tenant only while the client has seen nothing.
		if !moving(err) || rs.sent || f.forwarded(ss.Context()) || hop == followHops {
			return err
		}
	}
}

// relay runs the stream on the node at addr and relays its messages to ss.
func (f *Forwarder) relay(ss *replayStream, addr string, req proto.Message, info *grpc.StreamServerInfo) error {
	c, err := f.conn(addr)
	if err != nil {
		return status.Errorf(codes.Unavailable, "connecting to node %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(f.outgoing(ss.Context()))
	defer cancel()
	cs, err := c.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, info.FullMethod)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(req); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	for {
		out, err := newOutput(info.FullMethod)
		if err != nil {
			return err
		}
		if err := cs.RecvMsg(out); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if !ss.sent {
			// The holder's headers go first (a Link has none of its own
			// before its first event).
			if md, err := cs.Header(); err == nil && len(md) > 0 {
				if err := ss.SendHeader(md); err != nil {
					return err
				}
			}
		}
		if err := ss.SendMsg(out); err != nil {
			return err
		}
	}
}

// relayClient runs a client stream (SendFile) on the node at addr: the
// first request, then each one ss receives as it comes, then the holder's
// answer (or status) back to ss. When ss breaks (the client cancelled),
// the holder's stream is cancelled too: it stores nothing.
func (f *Forwarder) relayClient(ss grpc.ServerStream, addr string, first proto.Message, info *grpc.StreamServerInfo) error {
	c, err := f.conn(addr)
	if err != nil {
		return status.Errorf(codes.Unavailable, "connecting to node %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(f.outgoing(ss.Context()))
	defer cancel()
	cs, err := c.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, info.FullMethod)
	if err != nil {
		return err
	}
	// Until either side ends: ss.RecvMsg answers io.EOF when the client
	// has sent everything, cs.SendMsg when the holder has ended the call
	// (its status then comes from RecvMsg below).
	err = cs.SendMsg(first)
	for err == nil {
		next, nerr := newInput(info.FullMethod)
		if nerr != nil {
			return nerr
		}
		if err = ss.RecvMsg(next); err == nil {
			err = cs.SendMsg(next)
		}
	}
	if !errors.Is(err, io.EOF) {
		return err // the client's stream broke: cancel ends the holder's
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	out, err := newOutput(info.FullMethod)
	if err != nil {
		return err
	}
	if err := cs.RecvMsg(out); err != nil {
		return err // the holder's status, as it is
	}
	if md, err := cs.Header(); err == nil && len(md) > 0 {
		if err := ss.SendHeader(md); err != nil {
			return err
		}
	}
	return ss.SendMsg(out)
}

// replayStream hands the handler the request the interceptor already read,
// and tells whether the handler sent anything.
type replayStream struct {
	grpc.ServerStream
	first proto.Message
	read  bool
	sent  bool
}

func (s *replayStream) SendMsg(m any) error {
	s.sent = true
	return s.ServerStream.SendMsg(m)
}

// moving tells whether err is a local handler's "another node holds the
// tenant" (the tenant moved while the call waited).
func moving(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reasonTenantMoving {
			return true
		}
	}
	return false
}

func (s *replayStream) RecvMsg(m any) error {
	if !s.read {
		s.read = true
		proto.Merge(m.(proto.Message), s.first)
		return nil
	}
	return s.ServerStream.RecvMsg(m)
}

// newInput and newOutput make an empty request or response of a method
// ("/pkg.Service/Method") from the registered descriptors.
func newInput(method string) (proto.Message, error)  { return newMessage(method, true) }
func newOutput(method string) (proto.Message, error) { return newMessage(method, false) }

func newMessage(method string, input bool) (proto.Message, error) {
	name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", "."))
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "forwarding %s: %v", method, err)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return nil, status.Errorf(codes.Internal, "forwarding %s: not a method", method)
	}
	msg := md.Output()
	if input {
		msg = md.Input()
	}
	t, err := protoregistry.GlobalTypes.FindMessageByName(msg.FullName())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "forwarding %s: %v", method, fmt.Errorf("%s: %w", msg.FullName(), err))
	}
	return t.New().Interface(), nil
}
