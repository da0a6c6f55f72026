package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/wapool/wapool/cluster"
	"github.com/wapool/wapool/internal/snapshot"
	"github.com/wapool/wapool/server"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// clusterNode is the daemon's cluster membership (--store postgres://…).
// Its methods are no-ops on a nil node, the single-node default, so that
// run reads the same in both modes.
type clusterNode struct {
	node    *cluster.Node
	snaps   *snapshot.Store
	fwd     *server.Forwarder
	nodeTLS *server.NodeTLS // nil: plaintext between nodes (no --tls-cert)
	log     *zap.Logger
	done    chan struct{}
}

// newNode joins nothing yet: it opens the profile store and builds the
// node. nil without cluster mode.
func newNode(ctx context.Context, cfg config, store *sessionstore.Store, log *zap.Logger) (*clusterNode, error) {
	if !cfg.clustered() {
		return nil, nil
	}
	opts := snapshot.Options{Unencrypted: cfg.SnapshotUnencrypted}
	if cfg.SnapshotKeyFile != "" {
		keys, err := snapshot.LoadKeys(cfg.SnapshotKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--snapshot-key-file: %w", err)
		}
		opts.Keys = keys
	} else {
		log.Warn("profile snapshots are stored in plaintext (--snapshot-unencrypted): they hold the WhatsApp credentials")
	}
	snaps, err := snapshot.Open(ctx, cfg.ProfileStore, opts)
	if err != nil {
		return nil, err
	}
	node, err := cluster.New(cluster.Config{
		NodeID:                cfg.NodeID,
		AdvertiseAddr:         cfg.AdvertiseAddr,
		Store:                 store,
		Snapshots:             snaps,
		LeaseTTL:              cfg.LeaseTTL,
		SnapshotEvery:         cfg.SnapshotEvery,
		SnapshotAfterActivity: cfg.SnapshotAfterActivity,
		Events:                store,
		Log:                   log,
	})
	if err != nil {
		snaps.Close()
		return nil, err
	}
	if err := node.CheckAdvertise(); err != nil {
		snaps.Close()
		return nil, err
	}
	// A node serving TLS is reached over TLS: it forwards with its own
	// certificate, which must suit (server and client use, the cluster's
	// CA, its --advertise-addr), else the start is refused.
	var fwdOpts []server.ForwarderOption
	var nodeTLS *server.NodeTLS
	if cfg.TLSCert != "" {
		nodeTLS, err = server.NewNodeTLS(server.NodeTLSConfig{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CAFile: cfg.TLSClientCA, AdvertiseAddr: cfg.AdvertiseAddr})
		if err != nil {
			snaps.Close()
			return nil, err
		}
		fwdOpts = append(fwdOpts, server.WithNodeTLS(nodeTLS))
	}
	return &clusterNode{node: node, snaps: snaps, fwd: server.NewForwarder(node, cfg.NodeID, fwdOpts...), nodeTLS: nodeTLS, log: log}, nil
}

// reload re-reads the node's TLS files (SIGHUP); nil without cluster mode
// or TLS.
func (c *clusterNode) reload() error {
	if c == nil || c.nodeTLS == nil {
		return nil
	}
	return c.nodeTLS.Reload()
}

func (c *clusterNode) placement() supervisor.Placement {
	if c == nil {
		return nil
	}
	return c.node
}

// serverOptions forward calls about tenants held elsewhere; they come after
// authentication.
func (c *clusterNode) serverOptions() []grpc.ServerOption {
	if c == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(c.fwd.UnaryInterceptor),
		grpc.ChainStreamInterceptor(c.fwd.StreamInterceptor),
	}
}

// leadsWebhook tells whether this node delivers the webhooks; nil on a
// single node (it always does).
func (c *clusterNode) leadsWebhook() func() bool {
	if c == nil {
		return nil
	}
	return func() bool { return c.node.Leads("webhook") }
}

func (c *clusterNode) attach(api *server.Server) {
	if c != nil {
		api.SetCluster(c.node, c.fwd)
	}
}

// run starts the node's loops; the returned func waits for them to end
// (after ctx).
func (c *clusterNode) run(ctx context.Context, sup *supervisor.Supervisor) func() {
	if c == nil {
		return func() {}
	}
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		if err := c.node.Run(ctx, sup); err != nil {
			c.log.Error("cluster", zap.Error(err))
		}
	}()
	return func() { <-c.done }
}

// leave moves the node's tenants to the other nodes, within budget.
func (c *clusterNode) leave(budget time.Duration) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	if err := c.node.Leave(ctx); err != nil {
		c.log.Warn("leaving the cluster", zap.Error(err))
		return
	}
	c.log.Info("left the cluster: tenants moved", zap.Duration("took", time.Since(start)))
}

func (c *clusterNode) close() {
	c.fwd.Close()
	c.snaps.Close()
}
