package server

// Auth: how clients prove who they are, and what they may do (scope.go).
//
// Two kinds of credentials, usable together:
//
//   - mTLS (--tls-cert, --tls-key, --tls-client-ca): the TLS handshake requires
//     a client certificate signed by the client CA. It guards every method,
//     health included, because it acts before any request is read. With
//     --tls-client-scopes, the certificate's subject CN or one of its SANs
//     names its scope (a certificate named by no line is PERMISSION_DENIED).
//   - bearer tokens (--auth-tokens FILE): every call carries the metadata
//     "authorization: Bearer <token>". When a tokens file is given, tokens are
//     required on every address, loopback included. Each line of the file
//     may give the token a scope.
//
// --tls-cert and --tls-key alone (no client CA) serve TLS without client
// certificates: what tokens need off loopback.
//
// On a loopback listen address no credentials are needed. On any other
// address NewAuth refuses to go on with neither kind, and with tokens but no
// TLS (they would cross the network in clear), unless --insecure is given.
//
// Wrong tokens are counted per client address (internal/authlimit): past a
// few, the address waits a growing delay before its next token is checked;
// each one is logged (never the token) and counted for the metrics.
//
// Health stays open. With tokens, grpc.health.v1.Health Check and Watch of the
// daemon's own services ("" and wapool.v1.SessionService) need no token, so
// kubelet's native gRPC probes (which send no metadata) work. Everything else
// of the health service needs a token: "tenant/<id>" reveals whether a tenant
// exists and is linked, and List would enumerate every tenant id. mTLS cannot
// make such an exception; kubelet's gRPC probes speak no TLS at all, so a
// cluster that probes natively uses tokens.
//
// Cluster mode: a call forwarded to another node (forward.go) carries its
// caller's metadata, so the receiving node checks the caller's token again.
// A certificate's scope cannot travel that way (the receiving node sees the
// forwarding node's certificate): the interceptor writes the caller's
// certificate scope in callerScopeHeader, which the forwarder relays with
// the rest of the metadata, and the receiving node believes that header only
// from a certificate of role node. From anyone else the header is replaced
// or removed before the call goes on.
//
// Concurrency: mu guards the loaded credentials (token digests and scopes,
// certificate scopes, the TLS config). Interceptors and TLS handshakes read
// them under the read lock; Reload loads everything first and swaps under
// the write lock, so a call sees either the old set or the new one, never a
// mix.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/wapool/wapool/internal/authlimit"
	"github.com/wapool/wapool/internal/loopback"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// MinTokenLen is the shortest bearer token accepted, in characters.
const MinTokenLen = 32

// callerScopeHeader carries, from node to node, the scope of the client
// certificate of a forwarded call's caller (see the file comment).
const callerScopeHeader = "wapool-caller-scope"

// SurfaceGRPC names the gRPC API in AuthObserver calls and metrics.
const SurfaceGRPC = "grpc"

var (
	// ErrInsecureListen: a non-loopback listen address with neither tokens
	// nor mTLS, and Insecure not set.
	ErrInsecureListen = errors.New("non-loopback listen address needs --auth-tokens or --tls-cert/--tls-key/--tls-client-ca (or --insecure)")
	// ErrPlaintextTokens: a non-loopback listen address with tokens but no
	// TLS, and Insecure not set.
	ErrPlaintextTokens = errors.New("non-loopback listen address with --auth-tokens needs TLS (--tls-cert and --tls-key), or the tokens cross the network in clear (or --insecure)")
	// ErrPartialTLS: TLSCert without TLSKey or the reverse, or TLSClientCA
	// without them.
	ErrPartialTLS = errors.New("--tls-cert and --tls-key go together, and --tls-client-ca needs them")
	// ErrNoTokens: the tokens file holds no token.
	ErrNoTokens = errors.New("tokens file holds no token")
	// ErrShortToken: a token of the tokens file is shorter than MinTokenLen.
	ErrShortToken = fmt.Errorf("a token must have at least %d characters", MinTokenLen)
	// ErrClientScopes: --tls-client-scopes without --tls-client-ca, or a
	// file naming no certificate.
	ErrClientScopes = errors.New("--tls-client-scopes needs --tls-client-ca and at least one line")
)

// AuthObserver counts what the authentication refuses (the daemon's
// metrics: wapool_auth_failures_total, wapool_auth_throttled_total).
type AuthObserver interface {
	// AuthFailed counts a wrong credential presented on surface.
	AuthFailed(surface string)
	// AuthThrottled counts an attempt refused unchecked because its
	// address has failed too often.
	AuthThrottled(surface string)
}

// AuthConfig says how clients prove who they are. The zero value (no listen
// address, no credentials) is refused by NewAuth: an empty host is not
// loopback.
type AuthConfig struct {
	// Listen is the address wapoold listens on, host:port. Loopback means a
	// host in 127.0.0.0/8, ::1 or "localhost"; an empty host (":7440")
	// listens on every interface and is not loopback.
	Listen string
	// TokensFile (--auth-tokens) holds one token per line, each at least
	// MinTokenLen characters, optionally followed by its scope:
	//
	//	TOKEN
	//	TOKEN tenants=PATTERN[,PATTERN…] role=send|ops|admin
	//
	// (either key may be left out: every tenant; admin). Blank lines and
	// lines starting with "#" are ignored, and so is the end of a line from
	// a field starting with "#" after the token; surrounding spaces are
	// trimmed. "" means no tokens.
	TokensFile string
	// TLSCert and TLSKey (--tls-cert, --tls-key) are the server's PEM
	// certificate chain and key: TLS. TLSClientCA (--tls-client-ca) adds
	// the CA(s) that sign client certificates: mTLS. None leaves the
	// server plaintext; TLSCert without TLSKey (or the reverse), or a
	// client CA without them, is an error.
	TLSCert, TLSKey, TLSClientCA string
	// ClientScopesFile (--tls-client-scopes) maps client certificates to
	// scopes, one per line, "NAME [tenants=…] [role=…]": NAME is the
	// certificate's subject CN or one of its SANs (DNS name, e-mail, URI,
	// IP), "*" any certificate; the first line naming the certificate wins,
	// and a certificate no line names is refused. role=node marks the
	// certificates of the cluster's nodes. "" means every client
	// certificate is admin on every tenant. Needs TLSClientCA.
	ClientScopesFile string
	// Insecure (--insecure) allows a non-loopback Listen with neither
	// tokens nor mTLS, or with tokens but no TLS. Default false.
	Insecure bool
	// Limiter counts wrong tokens per client address; nil: one of its own
	// with authlimit's defaults. The daemon shares one with the console.
	Limiter *authlimit.Limiter
	// Observer counts refusals; nil: none.
	Observer AuthObserver
	// Log receives the refused credentials (the client's address, never
	// the token); nil: no logs.
	Log *zap.Logger
}

// tokenEntry is one accepted token: its digest and its scope.
type tokenEntry struct {
	sum   [sha256.Size]byte
	scope Scope
}

// certRule is one line of the client scopes file.
type certRule struct {
	name  string // a CN or SAN; "*": any certificate
	scope Scope
}

// Auth holds the loaded credentials. Reload re-reads the files (the daemon
// calls it on SIGHUP). Its methods are safe for concurrent use.
type Auth struct {
	cfg     AuthConfig
	limiter *authlimit.Limiter
	log     *zap.Logger

	mu        sync.RWMutex // mu guards the fields that follow
	tokens    []tokenEntry // nil without a tokens file
	certRules []certRule   // nil without a client scopes file
	tlsConf   *tls.Config  // server TLS (with client certificates when mTLS); nil without TLS
}

// NewAuth loads the credentials cfg names and checks that the listen address
// is allowed with them. Errors: ErrPartialTLS, ErrClientScopes,
// ErrInsecureListen, ErrPlaintextTokens, ErrNoTokens, ErrShortToken, and
// wrapped file errors.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") || (cfg.TLSClientCA != "" && cfg.TLSCert == "") {
		return nil, ErrPartialTLS
	}
	if cfg.ClientScopesFile != "" && cfg.TLSClientCA == "" {
		return nil, ErrClientScopes
	}
	a := &Auth{cfg: cfg, limiter: cfg.Limiter, log: cfg.Log}
	if err := a.CheckListen(cfg.Listen); err != nil {
		return nil, err
	}
	if a.limiter == nil {
		a.limiter = authlimit.New(authlimit.Config{})
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// CheckListen checks that the credentials allow serving the API on addr
// (--listen, --http-addr): any address with Insecure; a loopback one
// always; another one with tokens or mTLS, tokens only over TLS. Errors:
// ErrInsecureListen, ErrPlaintextTokens.
func (a *Auth) CheckListen(addr string) error {
	cfg := a.cfg
	if cfg.Insecure || IsLoopbackAddr(addr) {
		return nil
	}
	switch {
	case cfg.TokensFile == "" && cfg.TLSClientCA == "":
		return fmt.Errorf("listen %q: %w", addr, ErrInsecureListen)
	case cfg.TokensFile != "" && cfg.TLSCert == "":
		return fmt.Errorf("listen %q: %w", addr, ErrPlaintextTokens)
	}
	return nil
}

// Reload re-reads the tokens file, the client scopes file and the TLS
// files. On any error it keeps the credentials it had (a broken file
// neither locks everybody out nor opens the door) and returns the error.
// Without files it does nothing.
func (a *Auth) Reload() error {
	var tokens []tokenEntry
	var rules []certRule
	var tlsConf *tls.Config
	var err error
	if a.cfg.TokensFile != "" {
		if tokens, err = readTokens(a.cfg.TokensFile); err != nil {
			return err
		}
	}
	if a.cfg.ClientScopesFile != "" {
		if rules, err = readClientScopes(a.cfg.ClientScopesFile); err != nil {
			return err
		}
	}
	if a.cfg.TLSCert != "" {
		if tlsConf, err = loadTLS(a.cfg); err != nil {
			return err
		}
	}
	a.mu.Lock()
	a.tokens, a.certRules, a.tlsConf = tokens, rules, tlsConf
	a.mu.Unlock()
	return nil
}

// Mode describes the credentials in force, for the startup log: "mtls",
// "tokens", "mtls+tokens", "tls+tokens", "none (loopback)" or "none
// (insecure)", with "+cert-scopes" when certificates have scopes. It never
// names a token.
func (a *Auth) Mode() string {
	mode := "none (insecure)"
	switch {
	case a.cfg.TLSClientCA != "" && a.cfg.TokensFile != "":
		mode = "mtls+tokens"
	case a.cfg.TLSClientCA != "":
		mode = "mtls"
	case a.cfg.TLSCert != "" && a.cfg.TokensFile != "":
		mode = "tls+tokens"
	case a.cfg.TokensFile != "":
		mode = "tokens"
	case IsLoopbackAddr(a.cfg.Listen):
		mode = "none (loopback)"
	}
	if a.cfg.ClientScopesFile != "" {
		mode += "+cert-scopes"
	}
	return mode
}

// ServerOptions returns the options that enforce the credentials: grpc.Creds
// with TLS when configured (plaintext otherwise; both tell the HTTP
// gateway's in-memory connections apart, see http_peer.go), and the
// interceptors through grpc.ChainUnaryInterceptor/ChainStreamInterceptor
// (more chains may be passed to grpc.NewServer; they run in the order
// given). Without credentials the interceptors let every call through.
func (a *Auth) ServerOptions() ([]grpc.ServerOption, error) {
	return []grpc.ServerOption{
		grpc.Creds(gatewayCreds{tls: a.TransportCredentials()}),
		grpc.ChainUnaryInterceptor(a.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamInterceptor()),
	}, nil
}

// HTTPTLSConfig is the TLS configuration of the HTTP/JSON API (and of
// anything else served over HTTP with the API's certificate): the files of
// TransportCredentials, as last (re)loaded, offering HTTP/2 and HTTP/1.1.
// nil when TLS is not configured.
func (a *Auth) HTTPTLSConfig() *tls.Config {
	if a.cfg.TLSCert == "" {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			a.mu.RLock()
			conf := a.tlsConf.Clone()
			a.mu.RUnlock()
			conf.NextProtos = []string{"h2", "http/1.1"}
			return conf, nil
		},
	}
}

// TransportCredentials returns the server's TLS credentials (mTLS with a
// client CA), or nil when TLS is not configured. Each handshake uses the
// files as last (re)loaded.
func (a *Auth) TransportCredentials() credentials.TransportCredentials {
	if a.cfg.TLSCert == "" {
		return nil
	}
	return credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			a.mu.RLock()
			defer a.mu.RUnlock()
			return a.tlsConf, nil
		},
	})
}

// UnaryInterceptor authenticates unary calls and checks their scope:
// UNAUTHENTICATED for a missing or wrong token, PERMISSION_DENIED outside
// the scope. Health Check of the daemon's services is open (see the file
// comment).
func (a *Auth) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if info.FullMethod == healthgrpc.Health_Check_FullMethodName {
			if r, ok := req.(*healthgrpc.HealthCheckRequest); ok && openHealthService(r.GetService()) {
				return handler(ctx, req)
			}
		}
		ctx, g, err := a.authenticate(ctx)
		if err != nil {
			return nil, err
		}
		if err := g.allowMethod(info.FullMethod); err != nil {
			return nil, err
		}
		if err := g.allowRequest(req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor authenticates streaming calls and checks their scope,
// the tenants of each request read included. Health Watch of the daemon's
// services is open (see the file comment).
func (a *Auth) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, g, err := a.authenticate(ss.Context())
		if err != nil {
			if info.FullMethod == healthgrpc.Health_Watch_FullMethodName {
				// The service being watched is known only once the request
				// is read: let the handler read it and refuse it there.
				return handler(srv, &openHealthStream{ServerStream: ss, denied: err})
			}
			return err
		}
		if err := g.allowMethod(info.FullMethod); err != nil {
			return err
		}
		if g == nil && ctx == ss.Context() {
			return handler(srv, ss)
		}
		return handler(srv, &scopedStream{ServerStream: ss, ctx: ctx, g: g})
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

// scopedStream is an authenticated stream: its context carries the grant,
// and every request read is checked against it.
type scopedStream struct {
	grpc.ServerStream
	ctx context.Context
	g   *grant
}

func (s *scopedStream) Context() context.Context { return s.ctx }

func (s *scopedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.g.allowRequest(m)
}

// authenticate checks the call's credentials and returns its context with
// its grant, and the grant; a nil grant when no credentials are configured
// (everything is allowed).
func (a *Auth) authenticate(ctx context.Context) (context.Context, *grant, error) {
	if a.cfg.TokensFile == "" && a.cfg.ClientScopesFile == "" {
		return dropCallerScope(ctx), nil, nil
	}
	g := &grant{}
	if a.cfg.ClientScopesFile != "" {
		s, relayed, err := a.certScope(ctx)
		if err != nil {
			return ctx, nil, err
		}
		g.scopes = append(g.scopes, s)
		if !relayed {
			ctx = setCallerScope(ctx, s)
		}
	} else {
		ctx = dropCallerScope(ctx)
	}
	if a.cfg.TokensFile != "" {
		s, err := a.tokenScope(ctx)
		if err != nil {
			return ctx, nil, err
		}
		g.scopes = append(g.scopes, s)
	}
	return withGrant(ctx, g), g, nil
}

// tokenScope checks the call's bearer token and returns its scope. A wrong
// one is counted against the client's address; an address that failed too
// often is refused without its token being checked, until its delay ends.
func (a *Auth) tokenScope(ctx context.Context) (Scope, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return Scope{}, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	remote, _, surface := callPeer(ctx)
	if wait := a.limiter.Wait(remote); wait > 0 {
		return Scope{}, a.throttled(surface, remote, wait)
	}
	if len(vals) > 1 {
		return Scope{}, a.failed(surface, remote, "more than one authorization value")
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Scope{}, a.failed(surface, remote, `authorization must be "Bearer <token>"`)
	}
	s, ok := a.Lookup(token)
	if !ok {
		return Scope{}, a.failed(surface, remote, "invalid bearer token")
	}
	a.limiter.Succeeded(remote)
	return s, nil
}

// failed counts, logs and answers a wrong token from remote on surface.
func (a *Auth) failed(surface, remote, msg string) error {
	n, delay := a.limiter.Failed(remote)
	a.log.Warn("auth: refused a call with a wrong bearer token", zap.String("surface", surface),
		zap.String("remote", remote), zap.Int("failures_in_a_row", n), zap.Duration("next_checked_after", delay))
	if a.cfg.Observer != nil {
		a.cfg.Observer.AuthFailed(surface)
	}
	return status.Error(codes.Unauthenticated, msg)
}

// reasonThrottled: the client's address failed too often; its token was
// not checked.
const reasonThrottled = "AUTH_THROTTLED"

// throttled answers an attempt from an address that must still wait.
func (a *Auth) throttled(surface, remote string, wait time.Duration) error {
	a.log.Info("auth: refused a call unchecked: its address failed too often", zap.String("surface", surface),
		zap.String("remote", remote), zap.Duration("wait", wait))
	if a.cfg.Observer != nil {
		a.cfg.Observer.AuthThrottled(surface)
	}
	wait = wait.Round(time.Millisecond)
	st := status.New(codes.Unauthenticated, fmt.Sprintf("too many wrong tokens from this address: the next is checked in %v", wait))
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: reasonThrottled, Domain: ErrorDomain},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
	); err == nil {
		st = d
	}
	return st.Err()
}

// certScope returns the scope of the call's client certificate, and
// whether it is a forwarded caller's, relayed by another node.
func (a *Auth) certScope(ctx context.Context) (Scope, bool, error) {
	_, cert, _ := callPeer(ctx)
	if cert == nil {
		return Scope{}, false, status.Error(codes.Unauthenticated, "no client certificate")
	}
	names := certNames(cert)
	a.mu.RLock()
	rules := a.certRules
	a.mu.RUnlock()
	var rule *certRule
	for i := range rules {
		if rules[i].name == "*" || containsString(names, rules[i].name) {
			rule = &rules[i]
			break
		}
	}
	if rule == nil {
		return Scope{}, false, permissionDenied(reasonNoScope,
			fmt.Sprintf("the client certificate (CN %q) is named by no line of --tls-client-scopes", cert.Subject.CommonName), nil)
	}
	if rule.scope.Role != RoleNode {
		return rule.scope, false, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(callerScopeHeader)
	if len(vals) != 1 {
		return Scope{}, false, permissionDenied(reasonNoScope, "a node's certificate only relays the calls it forwards, with their caller's scope", nil)
	}
	s, err := ParseScope(strings.Fields(vals[0]))
	if err != nil || s.Role == RoleNode {
		return Scope{}, false, permissionDenied(reasonNoScope, "a forwarded call's caller scope does not parse", nil)
	}
	return s, true, nil
}

// setCallerScope puts s in the call's incoming metadata under
// callerScopeHeader, for the forwarder to relay.
func setCallerScope(ctx context.Context, s Scope) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	md = md.Copy()
	md.Set(callerScopeHeader, s.String())
	return metadata.NewIncomingContext(ctx, md)
}

// dropCallerScope removes a callerScopeHeader the client sent: only an
// authenticated node may send one, and it is never relayed from others.
func dropCallerScope(ctx context.Context) context.Context {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok || len(md.Get(callerScopeHeader)) == 0 {
		return ctx
	}
	md = md.Copy()
	md.Delete(callerScopeHeader)
	return metadata.NewIncomingContext(ctx, md)
}

// peerAddr is the client's address ("ip:port"), "" when unknown.
func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// peerCert is the client's verified certificate, nil without one.
func peerCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return ti.State.VerifiedChains[0][0]
}

// certNames are the names a client scopes line may give a certificate:
// its subject CN and its SANs.
func certNames(c *x509.Certificate) []string {
	var names []string
	if c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	names = append(names, c.DNSNames...)
	names = append(names, c.EmailAddresses...)
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Lookup returns the scope of token when it is one of the accepted tokens,
// in constant time: both sides are hashed to equal length and every digest
// is compared, with no early exit. The web console's sign-in uses it.
func (a *Auth) Lookup(token string) (Scope, bool) {
	if token == "" {
		return Scope{}, false
	}
	sum := sha256.Sum256([]byte(token))
	a.mu.RLock()
	defer a.mu.RUnlock()
	found := -1
	for i := range a.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Scope{}, false
	}
	return a.tokens[found].scope, true
}

// ValidToken reports whether token is one of the accepted tokens, whatever
// its scope (see Lookup).
func (a *Auth) ValidToken(token string) bool {
	_, ok := a.Lookup(token)
	return ok
}

// Limiter returns the counter of wrong tokens per address, for the console
// to share.
func (a *Auth) Limiter() *authlimit.Limiter { return a.limiter }

// readTokens returns the tokens of path, with their scopes. Errors name the
// file and the line, never a token.
func readTokens(path string) ([]tokenEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth tokens: %w", err)
	}
	var tokens []tokenEntry
	lineOf := map[[sha256.Size]byte]int{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := withoutComment(strings.Fields(line))
		if l := utf8.RuneCountInString(fields[0]); l < MinTokenLen {
			return nil, fmt.Errorf("auth tokens %q line %d: this token has %d characters: %w (make one with: openssl rand -hex 32)", path, n+1, l, ErrShortToken)
		}
		s, err := ParseScope(fields[1:])
		if err == nil && s.Role == RoleNode {
			err = errors.New("role node is for certificates only (--tls-client-scopes)")
		}
		if err != nil {
			return nil, fmt.Errorf("auth tokens %q line %d: %w", path, n+1, err)
		}
		sum := sha256.Sum256([]byte(fields[0]))
		if first, ok := lineOf[sum]; ok {
			return nil, fmt.Errorf("auth tokens %q line %d: the same token as line %d", path, n+1, first)
		}
		lineOf[sum] = n + 1
		tokens = append(tokens, tokenEntry{sum: sum, scope: s})
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("auth tokens %q: %w", path, ErrNoTokens)
	}
	return tokens, nil
}

// withoutComment drops the fields from the first one, after the first
// field, that starts with "#": a comment at the end of a line.
func withoutComment(fields []string) []string {
	for i := 1; i < len(fields); i++ {
		if strings.HasPrefix(fields[i], "#") {
			return fields[:i]
		}
	}
	return fields
}

// readClientScopes returns the lines of the client scopes file in order.
func readClientScopes(path string) ([]certRule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls client scopes: %w", err)
	}
	var rules []certRule
	lineOf := map[string]int{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := withoutComment(strings.Fields(line))
		s, err := ParseScope(fields[1:])
		if err != nil {
			return nil, fmt.Errorf("tls client scopes %q line %d: %w", path, n+1, err)
		}
		if first, ok := lineOf[fields[0]]; ok {
			return nil, fmt.Errorf("tls client scopes %q line %d: %q is named on line %d already", path, n+1, fields[0], first)
		}
		lineOf[fields[0]] = n + 1
		rules = append(rules, certRule{name: fields[0], scope: s})
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("tls client scopes %q: %w", path, ErrClientScopes)
	}
	return rules, nil
}

// loadTLS builds the server's TLS config from cfg's files: mTLS with a
// client CA, else TLS without client certificates.
func loadTLS(cfg AuthConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls cert/key: %w", err)
	}
	conf := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if cfg.TLSClientCA == "" {
		return conf, nil
	}
	caPEM, err := os.ReadFile(cfg.TLSClientCA)
	if err != nil {
		return nil, fmt.Errorf("tls client ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tls client ca %q: no PEM certificate", cfg.TLSClientCA)
	}
	conf.ClientCAs, conf.ClientAuth = pool, tls.RequireAndVerifyClientCert
	return conf, nil
}

// IsLoopbackAddr reports whether the host of addr (host:port, or a bare
// host) is loopback: 127.0.0.0/8, ::1 or "localhost". An empty host, as in
// ":7440", means every interface and is not loopback (loopback.Addr).
func IsLoopbackAddr(addr string) bool { return loopback.Addr(addr) }
