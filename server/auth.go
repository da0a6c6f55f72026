package server

// Auth: how clients prove who they are.
//
// Two kinds of credentials, usable together:
//
//   - mTLS (--tls-cert, --tls-key, --tls-client-ca): the TLS handshake requires
//     a client certificate signed by the client CA. It guards every method,
//     health included, because it acts before any request is read.
//   - bearer tokens (--auth-tokens FILE): every call carries the metadata
//     "authorization: Bearer <token>". When a tokens file is given, tokens are
//     required on every address, loopback included.
//
// On a loopback listen address no credentials are needed. On any other address
// NewAuth refuses to go on with neither kind unless --insecure is given.
//
// Health stays open. With tokens, grpc.health.v1.Health Check and Watch of the
// daemon's own services ("" and wapool.v1.SessionService) need no token, so
// kubelet's native gRPC probes (which send no metadata) work. Everything else
// of the health service needs a token: "tenant/<id>" reveals whether a tenant
// exists and is linked, and List would enumerate every tenant id. mTLS cannot
// make such an exception; kubelet's gRPC probes speak no TLS at all, so a
// cluster that probes natively uses tokens.
//
// Concurrency: mu guards the loaded credentials (token digests and the TLS
// config). Interceptors and TLS handshakes read them under the read lock;
// Reload loads everything first and swaps under the write lock, so a call
// sees either the old set or the new one, never a mix.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

var (
	// ErrInsecureListen: a non-loopback listen address with neither tokens
	// nor mTLS, and Insecure not set.
	ErrInsecureListen = errors.New("non-loopback listen address needs --auth-tokens or --tls-cert/--tls-key/--tls-client-ca (or --insecure)")
	// ErrPartialTLS: some but not all of TLSCert, TLSKey, TLSClientCA.
	ErrPartialTLS = errors.New("--tls-cert, --tls-key and --tls-client-ca go together")
	// ErrNoTokens: the tokens file holds no token.
	ErrNoTokens = errors.New("tokens file holds no token")
)

// AuthConfig says how clients prove who they are. The zero value (no listen
// address, no credentials) is refused by NewAuth: an empty host is not
// loopback.
type AuthConfig struct {
	// Listen is the address wapoold listens on, host:port. Loopback means a
	// host in 127.0.0.0/8, ::1 or "localhost"; an empty host (":7440")
	// listens on every interface and is not loopback.
	Listen string
	// TokensFile (--auth-tokens) holds one token per line; blank lines and
	// lines starting with "#" are ignored, surrounding spaces trimmed. A
	// token holds no whitespace. "" means no tokens.
	TokensFile string
	// TLSCert, TLSKey and TLSClientCA (--tls-cert, --tls-key,
	// --tls-client-ca) are PEM files: the server's certificate chain, its
	// key, and the CA(s) that sign client certificates. All three turn on
	// mTLS; none leaves the server plaintext; a partial set is an error.
	TLSCert, TLSKey, TLSClientCA string
	// Insecure (--insecure) allows a non-loopback Listen with neither tokens
	// nor mTLS. Default false.
	Insecure bool
}

// Auth holds the loaded credentials. Reload re-reads the files (the daemon
// calls it on SIGHUP). Its methods are safe for concurrent use.
type Auth struct {
	cfg AuthConfig

	mu      sync.RWMutex          // mu guards the fields that follow
	tokens  []([sha256.Size]byte) // digests of the accepted tokens; nil without a tokens file
	tlsConf *tls.Config           // server TLS with client certificates; nil without mTLS
}

// NewAuth loads the credentials cfg names and checks that the listen address
// is allowed without them. Errors: ErrPartialTLS, ErrInsecureListen,
// ErrNoTokens, and wrapped file errors.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	tlsSet := 0
	for _, f := range []string{cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA} {
		if f != "" {
			tlsSet++
		}
	}
	if tlsSet != 0 && tlsSet != 3 {
		return nil, ErrPartialTLS
	}
	if cfg.TokensFile == "" && tlsSet == 0 && !cfg.Insecure && !IsLoopbackAddr(cfg.Listen) {
		return nil, fmt.Errorf("listen %q: %w", cfg.Listen, ErrInsecureListen)
	}
	a := &Auth{cfg: cfg}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload re-reads the tokens file and the TLS files. On any error it keeps
// the credentials it had (a broken file neither locks everybody out nor
// opens the door) and returns the error. Without files it does nothing.
func (a *Auth) Reload() error {
	var tokens [][sha256.Size]byte
	var tlsConf *tls.Config
	var err error
	if a.cfg.TokensFile != "" {
		if tokens, err = readTokens(a.cfg.TokensFile); err != nil {
			return err
		}
	}
	if a.cfg.TLSCert != "" {
		if tlsConf, err = loadTLS(a.cfg); err != nil {
			return err
		}
	}
	a.mu.Lock()
	a.tokens, a.tlsConf = tokens, tlsConf
	a.mu.Unlock()
	return nil
}

// Mode describes the credentials in force, for the startup log: "mtls",
// "tokens", "mtls+tokens", "none (loopback)" or "none (insecure)". It never
// names a token.
func (a *Auth) Mode() string {
	switch {
	case a.cfg.TLSCert != "" && a.cfg.TokensFile != "":
		return "mtls+tokens"
	case a.cfg.TLSCert != "":
		return "mtls"
	case a.cfg.TokensFile != "":
		return "tokens"
	case IsLoopbackAddr(a.cfg.Listen):
		return "none (loopback)"
	}
	return "none (insecure)"
}

// ServerOptions returns the options that enforce the credentials: grpc.Creds
// with mTLS when configured, and the token interceptors through
// grpc.ChainUnaryInterceptor/ChainStreamInterceptor (more chains may be
// passed to grpc.NewServer; they run in the order given). Without
// credentials the interceptors let every call through.
func (a *Auth) ServerOptions() ([]grpc.ServerOption, error) {
	var opts []grpc.ServerOption
	if tc := a.TransportCredentials(); tc != nil {
		opts = append(opts, grpc.Creds(tc))
	}
	return append(opts,
		grpc.ChainUnaryInterceptor(a.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamInterceptor()),
	), nil
}

// TransportCredentials returns the server's mTLS credentials, or nil when
// mTLS is not configured. Each handshake uses the files as last (re)loaded.
func (a *Auth) TransportCredentials() credentials.TransportCredentials {
	if a.cfg.TLSCert == "" {
		return nil
	}
	return credentials.NewTLS(&tls.Config{
		ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			a.mu.RLock()
			defer a.mu.RUnlock()
			return a.tlsConf, nil
		},
	})
}

// UnaryInterceptor checks the bearer token of unary calls when a tokens
// file is configured: UNAUTHENTICATED when missing or wrong. Health Check of
// the daemon's services is open (see the file comment).
func (a *Auth) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a.cfg.TokensFile == "" {
			return handler(ctx, req)
		}
		if info.FullMethod == healthgrpc.Health_Check_FullMethodName {
			if r, ok := req.(*healthgrpc.HealthCheckRequest); ok && openHealthService(r.GetService()) {
				return handler(ctx, req)
			}
		}
		if err := a.authorize(ctx); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor checks the bearer token of streaming calls when a tokens
// file is configured: UNAUTHENTICATED when missing or wrong. Health Watch of
// the daemon's services is open (see the file comment).
func (a *Auth) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a.cfg.TokensFile == "" {
			return handler(srv, ss)
		}
		err := a.authorize(ss.Context())
		if err == nil {
			return handler(srv, ss)
		}
		if info.FullMethod == healthgrpc.Health_Watch_FullMethodName {
			// The service being watched is known only once the request is
			// read: let the handler read it and refuse it there.
			return handler(srv, &openHealthStream{ServerStream: ss, denied: err})
		}
		return err
	}
}

// openHealthService reports whether health of service needs no token: the
// daemon's own services, which probes ask about.
func openHealthService(service string) bool {
	return service == "" || service == wapoolv1.SessionService_ServiceDesc.ServiceName
}

// openHealthStream lets an unauthenticated Watch through only for an open
// service.
type openHealthStream struct {
	grpc.ServerStream
	denied error
}

func (s *openHealthStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if r, ok := m.(*healthgrpc.HealthCheckRequest); ok && openHealthService(r.GetService()) {
		return nil
	}
	return s.denied
}

// authorize checks the call's bearer token against every accepted token in
// constant time: both sides are hashed to equal length and every digest is
// compared, with no early exit.
func (a *Auth) authorize(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	switch len(vals) {
	case 0:
		return status.Error(codes.Unauthenticated, "missing bearer token")
	case 1:
	default:
		return status.Error(codes.Unauthenticated, "more than one authorization value")
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return status.Error(codes.Unauthenticated, `authorization must be "Bearer <token>"`)
	}
	if !a.ValidToken(token) {
		return status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	return nil
}

// ValidToken reports whether token is one of the accepted tokens, in
// constant time: both sides are hashed to equal length and every digest is
// compared, with no early exit. The web console's sign-in uses it.
func (a *Auth) ValidToken(token string) bool {
	if token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	match := 0
	a.mu.RLock()
	for i := range a.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], a.tokens[i][:])
	}
	a.mu.RUnlock()
	return match == 1
}

// readTokens returns the digests of the tokens in path.
func readTokens(path string) ([][sha256.Size]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth tokens: %w", err)
	}
	var tokens [][sha256.Size]byte
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f' }) {
			// The token itself is not quoted: errors end up in logs.
			return nil, fmt.Errorf("auth tokens %q line %d: a token holds no whitespace", path, n+1)
		}
		tokens = append(tokens, sha256.Sum256([]byte(line)))
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("auth tokens %q: %w", path, ErrNoTokens)
	}
	return tokens, nil
}

// loadTLS builds the server's mTLS config from cfg's three files.
func loadTLS(cfg AuthConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls cert/key: %w", err)
	}
	caPEM, err := os.ReadFile(cfg.TLSClientCA)
	if err != nil {
		return nil, fmt.Errorf("tls client ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tls client ca %q: no PEM certificate", cfg.TLSClientCA)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// IsLoopbackAddr reports whether the host of addr (host:port, or a bare
// host) is loopback: 127.0.0.0/8, ::1 or "localhost". An empty host, as in
// ":7440", means every interface and is not loopback.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
