package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/media"
	"github.com/wapool/wapool/internal/snapshot"
	"github.com/wapool/wapool/sessionstore"
)

// openMedia opens the store of the messages' files: <data-dir>/media, and
// in cluster mode the shared bucket of the snapshots (--profile-store),
// sealed with the snapshot keys. Its sweep deletes what no kept message
// names; in a cluster one node at a time sweeps the bucket.
func openMedia(ctx context.Context, cfg config, store *sessionstore.Store, node *clusterNode, log *zap.Logger) (*media.Store, error) {
	mc := media.Config{
		Dir:        filepath.Join(cfg.DataDir, "media"),
		Referenced: store.ReferencedMedia,
		Log:        log.Named("media"),
	}
	if cfg.clustered() {
		mc.Bucket, mc.Unencrypted = cfg.ProfileStore, cfg.SnapshotUnencrypted
		if cfg.SnapshotKeyFile != "" {
			keys, err := snapshot.LoadKeys(cfg.SnapshotKeyFile)
			if err != nil {
				return nil, fmt.Errorf("--snapshot-key-file: %w", err)
			}
			mc.Keys = keys
		}
		mc.LeadsSweep = node.leads("media-sweep")
	}
	ms, err := media.Open(ctx, mc)
	if err != nil {
		return nil, fmt.Errorf("media store: %w", err)
	}
	return ms, nil
}

// leads tells whether this node leads a cluster-wide duty; nil on a single
// node (it always does).
func (c *clusterNode) leads(duty string) func() bool {
	if c == nil {
		return nil
	}
	return func() bool { return c.node.Leads(duty) }
}

// grpcMaxRequest is the gRPC receive limit: a file of maxMedia bytes and
// the rest of the request (maxRequestBytes). A larger request is refused by
// gRPC before it is read (RESOURCE_EXHAUSTED); a file over maxMedia in a
// request within it is INVALID_ARGUMENT (MEDIA_TOO_LARGE) from the server.
// gRPC-go has one receive limit per server, not per method: SendFile's
// messages are held to 1 MiB by its handler (server.MaxChunkBytes,
// INVALID_ARGUMENT INVALID_STREAM), once gRPC has read them.
func grpcMaxRequest(maxMedia int64) int { return int(maxMedia) + maxRequestBytes }

// httpMaxRequest is the HTTP/JSON body limit: the file in base64 and the
// rest of the request.
func httpMaxRequest(maxMedia int64) int64 {
	return int64(base64.StdEncoding.EncodedLen(int(maxMedia))) + maxRequestBytes
}
