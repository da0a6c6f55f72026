package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Swept says what a Sweep deleted.
type Swept struct {
	Local  int // files of Dir (temp files left by a crash included)
	Shared int // objects of the shared bucket
}

// Run sweeps at once, then every SweepEvery, until ctx ends; it returns nil
// then, once the sweep under way has stopped. A failed sweep is logged and
// tried again at the next period.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("sweeping the media files", zap.Error(err))
		case n.Local > 0 || n.Shared > 0:
			s.log.Info("deleted the media files no message needs", zap.Int("local", n.Local), zap.Int("shared", n.Shared))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep deletes the files that no kept message names (Config.Referenced),
// older than Grace, that no Put of this Store holds or made since the
// sweep began: from Dir, and from the shared bucket when this node leads
// the sweep (Config.LeadsSweep). Temp files older than Grace (a write that
// died) go too. Without Referenced it deletes nothing. On an error it stops
// and returns what it deleted so far.
func (s *Store) Sweep(ctx context.Context) (Swept, error) {
	var n Swept
	if s.cfg.Referenced == nil {
		return n, nil
	}
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	s.mu.Lock()
	s.putSince = map[string]bool{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.putSince = nil
		s.mu.Unlock()
	}()

	// What may go is listed before what messages name is read: a message
	// stored after the read names a file put after the sweep began
	// (putSince) or pinned.
	cutoff := s.cfg.Now().Add(-s.cfg.Grace)
	local, temps, err := s.oldLocal(cutoff)
	if err != nil {
		return n, err
	}
	var shared []string
	if s.bucket != nil && (s.cfg.LeadsSweep == nil || s.cfg.LeadsSweep()) {
		if shared, err = s.oldShared(ctx, cutoff); err != nil {
			return n, err
		}
	}
	for _, name := range temps {
		if err := os.Remove(filepath.Join(s.cfg.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("media: %w", err)
		}
		n.Local++
	}
	if len(local) == 0 && len(shared) == 0 {
		return n, nil
	}
	refs, err := s.cfg.Referenced()
	if err != nil {
		return n, fmt.Errorf("media: which files messages name: %w", err)
	}
	for _, sha := range local {
		if refs[sha] {
			continue
		}
		gone, err := s.deleteUnheld(sha, func() error { return os.Remove(s.path(sha)) })
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("media: %w", err)
		}
		if gone {
			n.Local++
		}
	}
	for _, sha := range shared {
		if refs[sha] {
			continue
		}
		gone, err := s.deleteUnheld(sha, func() error { return s.bucket.Delete(ctx, sha) })
		if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return n, fmt.Errorf("media: bucket: delete %s: %w", short(sha), err)
		}
		if gone {
			n.Shared++
		}
	}
	return n, nil
}

// deleteUnheld runs del under mu unless a Put holds sha or made it since
// the sweep began; gone tells whether del ran without error.
func (s *Store) deleteUnheld(sha string, del func() error) (gone bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pins[sha] > 0 || s.putSince[sha] {
		return false, nil
	}
	if err := del(); err != nil {
		return false, err
	}
	return true, nil
}

// oldLocal lists the files of Dir last written before cutoff: content
// files (by hash) and temp files (by name).
func (s *Store) oldLocal(cutoff time.Time) (files, temps []string, err error) {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, nil, fmt.Errorf("media: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		content, temp := isSHA256Hex(name), strings.HasPrefix(name, tempPrefix)
		if !e.Type().IsRegular() || !content && !temp {
			continue // not ours
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("media: %w", err)
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		if content {
			files = append(files, name)
		} else {
			temps = append(temps, name)
		}
	}
	return files, temps, nil
}

// oldShared lists the objects of the bucket last written before cutoff.
func (s *Store) oldShared(ctx context.Context, cutoff time.Time) ([]string, error) {
	var out []string
	it := s.bucket.List(&blob.ListOptions{})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("media: bucket: list: %w", err)
		}
		if !obj.IsDir && isSHA256Hex(obj.Key) && obj.ModTime.Before(cutoff) {
			out = append(out, obj.Key)
		}
	}
}
