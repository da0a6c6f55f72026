package server

// HTTP/JSON (--http-addr): the API for callers without a gRPC stack.
//
// grpc-gateway transcodes the proto's google.api.http routes. It calls the
// daemon's own grpc.Server over an in-memory connection, so an HTTP call
// runs exactly what a gRPC call runs: the same interceptors (metrics,
// authentication and scopes, cluster forwarding), the same handlers, the
// same errors. An error is its google.rpc.Status written as JSON (ErrorInfo
// and the other details with their "@type"), under the HTTP status of its
// code.
//
//	client ──HTTP/1.1 or h2, TLS as --listen──► http.Server (--http-addr)
//	   /openapi.json   the OpenAPI document (openapi.go)
//	   /v1/events      Server-Sent Events over WatchEvents (sse.go)
//	   /healthz        grpc.health.v1 Check ("" unless ?service=)
//	   /v1/…           grpc-gateway ──in-memory gRPC──► the grpc.Server of --listen
//
// The in-memory connection is the gateway's, not the client's: the gateway
// relays the HTTP client's address and verified certificate in metadata,
// and the authentication believes them only on that connection
// (http_peer.go). Tokens travel as on gRPC, in `Authorization: Bearer`.
//
// Ownership: a Gateway owns its http.Server (Serve blocks until it ends)
// and the gateway's gRPC client connection; Shutdown ends both. The
// grpc.Server that serves GRPCListener is the caller's: its GracefulStop
// or Stop closes that listener.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// SurfaceHTTP names the HTTP/JSON API in AuthObserver calls and metrics.
const SurfaceHTTP = "http"

// GatewayConfig configures the HTTP/JSON API. Addr and Auth are required.
type GatewayConfig struct {
	// Addr is the address to listen on, host:port (":0" picks a port).
	// The rules of --listen apply (AuthConfig.Listen): off loopback it
	// needs credentials, and tokens need TLS, unless Insecure.
	Addr string
	// Auth gives the TLS configuration (the server certificate of --listen,
	// and client certificates when mTLS) and checks Addr.
	Auth *Auth
	// MaxRequestBytes bounds a request body; 0 means 1 MiB. A larger body
	// is refused with 413 before it is read. With files (Send's media, in
	// base64) it must leave room for MaxMediaBytes in base64 (4/3) and the
	// rest of the request.
	MaxRequestBytes int64
	// MaxMediaBytes is the daemon's file limit (--max-media-bytes), named
	// in the 413's message; 0: none named.
	MaxMediaBytes int64
	// SSEHeartbeat is the time between two keep-alive comments on an idle
	// /v1/events stream; 0 means 15 s.
	SSEHeartbeat time.Duration
	// Log receives the server's errors; nil: none.
	Log *zap.Logger
}

// Gateway is the HTTP/JSON API: an http.Server in front of the daemon's
// grpc.Server. Create it with NewGateway, serve GRPCListener with the
// grpc.Server, then call Serve.
type Gateway struct {
	cfg  GatewayConfig
	lis  net.Listener      // --http-addr, TLS when configured
	mem  *bufconn.Listener // the gateway's in-memory connections to the grpc.Server
	conn *grpc.ClientConn  // over mem
	hs   *http.Server
	log  *zap.Logger
}

// memBuffer is the in-memory connection's buffer each way.
const memBuffer = 256 << 10

// NewGateway listens on cfg.Addr and prepares the gateway; nothing is
// served until Serve. Errors: ErrInsecureListen, ErrPlaintextTokens, and
// the listen error.
func NewGateway(cfg GatewayConfig) (*Gateway, error) {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 1 << 20
	}
	if cfg.SSEHeartbeat <= 0 {
		cfg.SSEHeartbeat = 15 * time.Second
	}
	if err := cfg.Auth.CheckListen(cfg.Addr); err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	g := &Gateway{cfg: cfg, log: cfg.Log, mem: bufconn.Listen(memBuffer)}
	if g.log == nil {
		g.log = zap.NewNop()
	}
	conn, err := grpc.NewClient("passthrough:///wapool-http-gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return g.mem.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
	)
	if err != nil {
		return nil, err
	}
	g.conn = conn
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, jsonMarshaler{&runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitDefaultValues: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithMetadata(relayPeer),
		runtime.WithErrorHandler(httpError),
		runtime.WithHealthzEndpoint(healthgrpc.NewHealthClient(conn)),
	)
	if err := wapoolv1.RegisterSessionServiceHandler(context.Background(), mux, conn); err != nil {
		conn.Close()
		return nil, err
	}
	routes := http.NewServeMux()
	routes.HandleFunc("GET /openapi.json", serveOpenAPI)
	routes.Handle("GET /v1/events", &sseHandler{client: wapoolv1.NewSessionServiceClient(conn), mux: mux,
		heartbeat: cfg.SSEHeartbeat, log: g.log})
	routes.Handle("/", mux)
	g.hs = &http.Server{
		Handler:           withRequestLimit(routes, cfg.MaxRequestBytes, cfg.MaxMediaBytes),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(g.log.Named("http")),
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	if tc := cfg.Auth.HTTPTLSConfig(); tc != nil {
		lis = tls.NewListener(lis, tc)
	}
	g.lis = lis
	return g, nil
}

// GRPCListener is the listener of the gateway's in-memory connections: the
// daemon's grpc.Server must serve it (grpc.Server.Serve), with the
// credentials of Auth.ServerOptions, which tell these connections apart.
func (g *Gateway) GRPCListener() net.Listener { return gatewayListener{g.mem} }

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() net.Addr { return g.lis.Addr() }

// Serve serves HTTP until Shutdown; it returns nil then.
func (g *Gateway) Serve() error {
	err := g.hs.Serve(g.lis)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits until ctx ends for the calls in flight
// (Link and /v1/events streams end when the grpc.Server stops), then
// closes what is left and the gateway's gRPC connection.
func (g *Gateway) Shutdown(ctx context.Context) {
	if err := g.hs.Shutdown(ctx); err != nil {
		_ = g.hs.Close()
	}
	_ = g.conn.Close()
}

// withRequestLimit bounds request bodies, as MaxRecvMsgSize bounds gRPC
// requests; the refusal names the file limit (mediaLimit, when not 0).
func withRequestLimit(h http.Handler, limit, mediaLimit int64) http.Handler {
	msg := fmt.Sprintf("the request body is larger than %d bytes", limit)
	if mediaLimit > 0 {
		msg += fmt.Sprintf(" (a file, base64 in the JSON, may have at most %d bytes: %s, --max-media-bytes)", mediaLimit, binaryBytes(mediaLimit))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			httpStatusError(w, r, status.New(codes.InvalidArgument, msg), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

// jsonMarshaler writes proto3 JSON as the webhooks and `wapoolctl -o json`
// do (lowerCamelCase names, enums as names, zero values written, unset
// messages left out) and names a stream's content newline-delimited JSON.
type jsonMarshaler struct{ *runtime.JSONPb }

// StreamContentType is the Content-Type of a server stream (Link).
func (jsonMarshaler) StreamContentType(any) string { return "application/x-ndjson" }

// incomingHeader forwards the headers grpc-gateway forwards by default
// (the standard ones prefixed "grpcgateway-", and Grpc-Metadata-* as
// metadata), except metadata that only the daemon sets: the relayed peer
// (http_peer.go), the caller scope nodes relay, and a second authorization.
func incomingHeader(key string) (string, bool) {
	if md, ok := strings.CutPrefix(strings.ToLower(key), "grpc-metadata-"); ok && (strings.HasPrefix(md, "wapool-") || md == "authorization") {
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// httpError writes a call's error as grpc-gateway does (the JSON of its
// google.rpc.Status under the HTTP status of its code), with the headers an
// HTTP client expects: `WWW-Authenticate: Bearer` on 401, and Retry-After
// when the status carries a RetryInfo.
func httpError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, &errorHeaders{ResponseWriter: w, st: st}, r, err)
}

// httpStatusError writes st as JSON with the HTTP status code, outside
// grpc-gateway (a body refused before it reaches it).
func httpStatusError(w http.ResponseWriter, _ *http.Request, st *status.Status, code int) {
	b, err := protojson.Marshal(st.Proto())
	if err != nil {
		http.Error(w, st.Message(), code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// errorHeaders sets the error's headers just before the status line goes
// out, over what grpc-gateway's handler set.
type errorHeaders struct {
	http.ResponseWriter
	st *status.Status
}

func (e *errorHeaders) WriteHeader(code int) {
	setErrorHeaders(e.Header(), e.st)
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorHeaders) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// setErrorHeaders sets WWW-Authenticate for UNAUTHENTICATED and Retry-After
// (whole seconds, rounded up) from a RetryInfo.
func setErrorHeaders(h http.Header, st *status.Status) {
	if st.Code() == codes.Unauthenticated {
		h.Set("Www-Authenticate", `Bearer realm="wapool"`)
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			secs := (ri.GetRetryDelay().AsDuration() + time.Second - 1) / time.Second
			h.Set("Retry-After", fmt.Sprint(max(int64(secs), 1)))
		}
	}
}

// gatewayListener hands the grpc.Server the gateway's in-memory
// connections, marked so that the credentials tell them apart.
type gatewayListener struct{ *bufconn.Listener }

func (l gatewayListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &gatewayConn{Conn: c}, nil
}
