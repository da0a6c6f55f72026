package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/wapool/wapool/internal/percentile"
	"github.com/wapool/wapool/internal/snapshot"
)

// kept is a linked tenant's newest snapshot after a cluster run, as the
// nodes stored it: the profile its last node uploaded after closing the
// browser gracefully (a drained node keeps no profile of its own).
type kept struct {
	bucket       string // the run's bucket dir
	tenant       string
	stored       snapshot.Info
	profileBytes int64                 // its profile dir on that node while READY (treeBytes)
	keys         []*age.X25519Identity // the run's snapshot keys
}

// keep reads each of the cluster's tenants' newest snapshot in its bucket.
func keep(c *cluster, profileBytes map[string]int64) ([]kept, error) {
	ctx := context.Background()
	s, err := snapshot.Open(ctx, fileURL(c.bucket), snapshot.Options{Keys: c.keys})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []kept
	for _, t := range c.tenants {
		info, err := s.Newest(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, kept{bucket: c.bucket, tenant: t, stored: info, profileBytes: profileBytes[t], keys: c.keys})
	}
	return out, nil
}

func fileURL(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

// snapshots reports the stored snapshots' sizes and times, through
// internal/snapshot on file:// buckets as the nodes use them (sealed with
// age, as --snapshot-key-file makes them), per tenant: one Restore of its
// newest snapshot from its run's bucket into a new dir (what a new holder
// does), then one Save of that profile into a new bucket (what a node does
// after closing the browser), and one Save of it in plaintext beside, for
// the cost of the encryption.
func (r *run) snapshots(b *testing.B) error {
	if len(r.kept) == 0 {
		return fmt.Errorf("no snapshot kept from the cluster runs")
	}
	dir := filepath.Join(r.e.root, "snapshot")
	bucket := filepath.Join(dir, "bucket")
	if err := os.MkdirAll(bucket, 0o700); err != nil {
		return err
	}
	ctx := context.Background()
	key, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	to, err := snapshot.Open(ctx, fileURL(bucket), snapshot.Options{Keys: []*age.X25519Identity{key}})
	if err != nil {
		return err
	}
	defer to.Close()
	plainBucket := filepath.Join(dir, "plain")
	if err := os.MkdirAll(plainBucket, 0o700); err != nil {
		return err
	}
	plain, err := snapshot.Open(ctx, fileURL(plainBucket), snapshot.Options{Unencrypted: true})
	if err != nil {
		return err
	}
	defer plain.Close()
	var saves, restores, plainSaves []time.Duration
	var bytes, plainBytes, files, onDisk, restored []float64
	for i, k := range r.kept {
		profile := filepath.Join(dir, fmt.Sprintf("p%d", i+1)) // the runs' tenant ids repeat
		restore, save, err := restoreAndSave(ctx, k, profile, to, fmt.Sprintf("s%d", i+1))
		if err != nil {
			return err
		}
		t0 := time.Now()
		pi, err := plain.Save(ctx, fmt.Sprintf("s%d", i+1), profile, snapshot.Ref{Gen: 1, Epoch: 1})
		if err != nil {
			return err
		}
		plainSaves, plainBytes = append(plainSaves, time.Since(t0)), append(plainBytes, float64(pi.Bytes))
		saves, restores = append(saves, save), append(restores, restore)
		n, err := treeBytes(profile)
		if err != nil {
			return err
		}
		restored = append(restored, float64(n))
		bytes, files, onDisk = append(bytes, float64(k.stored.Bytes)), append(files, float64(k.stored.Files)), append(onDisk, float64(k.profileBytes))
	}
	b.ReportMetric(float64(len(r.kept)), "tenants")
	b.ReportMetric(median(bytes), "bytes-p50")
	b.ReportMetric(slices.Max(bytes), "bytes-max")
	b.ReportMetric(median(files), "files-p50")
	b.ReportMetric(median(onDisk), "profile-bytes-p50")
	b.ReportMetric(median(restored), "restored-bytes-p50")
	b.ReportMetric(millis(percentile.Of(saves, 50)), "save-ms-p50")
	b.ReportMetric(millis(percentile.Of(saves, 100)), "save-ms-max")
	b.ReportMetric(millis(percentile.Of(restores, 50)), "restore-ms-p50")
	b.ReportMetric(millis(percentile.Of(restores, 100)), "restore-ms-max")
	b.ReportMetric(median(plainBytes), "plain-bytes-p50")
	b.ReportMetric(millis(percentile.Of(plainSaves, 50)), "plain-save-ms-p50")
	progress("snapshot: %d tenants, %.0f KiB (p50) stored; Save %.0f ms, Restore %.0f ms (p50)",
		len(r.kept), median(bytes)/1024, millis(percentile.Of(saves, 50)), millis(percentile.Of(restores, 50)))
	return nil
}

// restoreAndSave restores k's snapshot into dir, then saves dir into to as
// tenant, and times both.
func restoreAndSave(ctx context.Context, k kept, dir string, to *snapshot.Store, tenant string) (restore, save time.Duration, err error) {
	from, err := snapshot.Open(ctx, fileURL(k.bucket), snapshot.Options{Keys: k.keys})
	if err != nil {
		return 0, 0, err
	}
	defer from.Close()
	t0 := time.Now()
	got, err := from.Restore(ctx, k.tenant, dir, k.stored.Ref)
	if err != nil {
		return 0, 0, err
	}
	restore = time.Since(t0)
	if !got.TakenAt.Equal(k.stored.TakenAt) {
		return 0, 0, fmt.Errorf("tenant %s: restored the snapshot of %v, want the newest, of %v", k.tenant, got.TakenAt, k.stored.TakenAt)
	}
	t1 := time.Now()
	if _, err := to.Save(ctx, tenant, dir, snapshot.Ref{Gen: 1, Epoch: 1}); err != nil {
		return 0, 0, err
	}
	return restore, time.Since(t1), nil
}

// median is the nearest-rank median of v (not empty).
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[(len(s)-1)/2]
}

// treeBytes is the size of the regular files under dir, Chrome running on
// it: a file gone during the walk is skipped.
func treeBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}
