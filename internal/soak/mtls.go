package main

// The cluster soak's mTLS (issue 23): one test CA; each node its own
// certificate, a server and client certificate naming 127.0.0.1 (the nodes
// forward calls to each other over it), with the CA as --tls-client-ca;
// the soak's clients (producers, monitor, drain, chaos) one client
// certificate. Before the chaos the soak checks that a node refuses a
// client without a certificate, over plaintext or TLS.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/testpki"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// clusterPKI is the cluster soak's CA and the files it wrote.
type clusterPKI struct {
	ca    *testpki.CA
	dir   string
	creds credentials.TransportCredentials // the soak's client certificate
}

// newClusterPKI makes the CA, the soak's client credentials, and the
// directory of the nodes' files.
func newClusterPKI(workDir string) (*clusterPKI, error) {
	ca, err := testpki.NewCA("wapool soak CA")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	creds, err := ca.ClientCreds("soak")
	if err != nil {
		return nil, err
	}
	return &clusterPKI{ca: ca, dir: dir, creds: creds}, nil
}

// nodeArgs writes node id's certificate, key and the CA and returns its
// flags (--tls-cert, --tls-key, --tls-client-ca).
func (p *clusterPKI) nodeArgs(id string) ([]string, error) {
	f, err := p.ca.WriteNode(p.dir, id)
	if err != nil {
		return nil, err
	}
	return f.Args(), nil
}

// checkRefused checks that the node at addr refuses a call from a client
// without a certificate, over plaintext and over TLS that trusts the CA.
func (p *clusterPKI) checkRefused(ctx context.Context, addr string) error {
	for what, creds := range p.ca.Uncertified() {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		_, err = wapoolv1.NewSessionServiceClient(conn).ListSessions(rctx, &wapoolv1.ListSessionsRequest{})
		cancel()
		conn.Close()
		if code := status.Code(err); code != codes.Unavailable {
			// Refused at the handshake, a call never reaches the service.
			return fmt.Errorf("mTLS: %s answered %s: %v (code %v, want Unavailable)", addr, what, err, code)
		}
	}
	return ctx.Err()
}
