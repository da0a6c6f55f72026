package server

import (
	"google.golang.org/protobuf/types/known/durationpb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/supervisor"
)

// staleRestore converts a restore from a snapshot older than the tenant's
// last activity (nil: none).
func staleRestore(r *supervisor.StaleRestore) *wapoolv1.StaleRestore {
	if r == nil {
		return nil
	}
	return &wapoolv1.StaleRestore{
		RestoredAt: ts(r.RestoredAt),
		SnapshotAt: ts(r.SnapshotAt),
		LastActive: ts(r.LastActive),
		Behind:     durationpb.New(r.Behind()),
	}
}
