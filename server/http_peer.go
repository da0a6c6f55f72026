package server

// Who called, through the HTTP/JSON gateway (http.go).
//
// The gateway reaches the grpc.Server over an in-memory connection, so the
// gRPC peer of its calls is the gateway itself. The gateway relays the
// HTTP client's address (relayAddrKey) and its certificate as the HTTP
// server's TLS handshake verified it (relayCertKey, DER) in metadata, and
// callPeer believes them only on a gateway connection: such a connection
// is one the grpc.Server accepted from gatewayListener, whose handshake
// (gatewayCreds) gives it gatewayAuthInfo, a type nothing else makes. On
// any other connection the relayed keys are ignored; a client's own
// Grpc-Metadata-Wapool-* headers never reach the gateway's metadata
// (incomingHeader).

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

const (
	// relayAddrKey carries the HTTP client's address (ip:port).
	relayAddrKey = "wapool-http-client-addr"
	// relayCertKey carries the HTTP client's verified leaf certificate
	// (DER); absent without one.
	relayCertKey = "wapool-http-client-cert-bin"
)

// gatewayConn is an in-memory connection of the gateway, as the grpc.Server
// accepts it.
type gatewayConn struct{ net.Conn }

// gatewayAuthInfo marks the calls that came through the gateway.
type gatewayAuthInfo struct{ credentials.CommonAuthInfo }

func (gatewayAuthInfo) AuthType() string { return "wapool-http-gateway" }

// gatewayCreds are the grpc.Server's transport credentials: tls (nil:
// plaintext) for the network's connections, none but a mark for the
// gateway's in-memory ones.
type gatewayCreds struct {
	tls credentials.TransportCredentials
}

func (c gatewayCreds) inner() credentials.TransportCredentials {
	if c.tls == nil {
		return insecure.NewCredentials()
	}
	return c.tls
}

func (c gatewayCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if _, ok := conn.(*gatewayConn); ok {
		return conn, gatewayAuthInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	return c.inner().ServerHandshake(conn)
}

func (c gatewayCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.inner().ClientHandshake(ctx, authority, conn)
}

func (c gatewayCreds) Info() credentials.ProtocolInfo { return c.inner().Info() }

func (c gatewayCreds) Clone() credentials.TransportCredentials {
	if c.tls == nil {
		return gatewayCreds{}
	}
	return gatewayCreds{tls: c.tls.Clone()}
}

// OverrideServerName is deprecated in grpc, but part of the interface.
func (c gatewayCreds) OverrideServerName(name string) error {
	return c.inner().OverrideServerName(name)
}

// relayPeer is the gateway's metadata annotator: the HTTP client's address
// and verified certificate.
func relayPeer(_ context.Context, r *http.Request) metadata.MD {
	md := metadata.Pairs(relayAddrKey, r.RemoteAddr)
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		md.Set(relayCertKey, string(r.TLS.VerifiedChains[0][0].Raw))
	}
	return md
}

// viaGateway reports whether the call came through the HTTP gateway.
func viaGateway(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	_, ok = p.AuthInfo.(gatewayAuthInfo)
	return ok
}

// callPeer returns the caller's address ("" when unknown), its verified
// client certificate (nil without one) and the surface it called on: the
// gRPC peer's, or for a call through the gateway the HTTP client's.
func callPeer(ctx context.Context) (addr string, cert *x509.Certificate, surface string) {
	if !viaGateway(ctx) {
		return peerAddr(ctx), peerCert(ctx), SurfaceGRPC
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(relayAddrKey); len(v) == 1 {
		addr = v[0]
	}
	if v := md.Get(relayCertKey); len(v) == 1 {
		if c, err := x509.ParseCertificate([]byte(v[0])); err == nil {
			cert = c
		}
	}
	return addr, cert, SurfaceHTTP
}
