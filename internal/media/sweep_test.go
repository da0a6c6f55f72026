package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// refs is a Config.Referenced the test sets; hook, when set, runs inside
// the call (as a Send would between the sweep's listing and its read).
type refs struct {
	mu    sync.Mutex
	names map[string]bool
	hook  func()
	err   error
}

func (r *refs) set(shas ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = map[string]bool{}
	for _, s := range shas {
		r.names[s] = true
	}
}

func (r *refs) referenced() (map[string]bool, error) {
	r.mu.Lock()
	hook, names, err := r.hook, r.names, r.err
	r.mu.Unlock()
	if hook != nil {
		hook()
	}
	out := map[string]bool{}
	for k := range names {
		out[k] = true
	}
	return out, err
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func sweep(t *testing.T, s *Store) Swept {
	t.Helper()
	n, err := s.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A file goes once no kept message names it and it is older than Grace,
// locally and in the shared bucket; one a message names, a young one, one a
// Put holds, and the bucket on a node that does not lead the sweep stay.
func TestSweep(t *testing.T) {
	url, bdir := bucketDir(t)
	r := &refs{}
	leads := true
	var leadsMu sync.Mutex
	s := open(t, Config{Bucket: url, Unencrypted: true, Referenced: r.referenced, Grace: time.Hour,
		LeadsSweep: func() bool { leadsMu.Lock(); defer leadsMu.Unlock(); return leads }})
	kept, gone, young := put(t, s, payload(10, 100)), put(t, s, payload(11, 100)), put(t, s, payload(12, 100))
	held, release, err := s.Put(context.Background(), payload(13, 100))
	if err != nil {
		t.Fatal(err)
	}
	for _, sha := range []string{kept, gone, held} {
		setOld(t, filepath.Join(s.cfg.Dir, sha))
		setOld(t, object(bdir, sha))
	}
	crashed := filepath.Join(s.cfg.Dir, tempPrefix+"0123456789abcdef-42")
	if err := os.WriteFile(crashed, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	setOld(t, crashed)
	r.set(kept)

	if n := sweep(t, s); n != (Swept{Local: 2, Shared: 1}) {
		t.Fatalf("Sweep = %+v, want the unreferenced old file and the temp file here, the file in the bucket", n)
	}
	for sha, want := range map[string]bool{kept: true, gone: false, young: true, held: true} {
		if exists(t, filepath.Join(s.cfg.Dir, sha)) != want || exists(t, object(bdir, sha)) != want {
			t.Errorf("%s: exists locally %v, in the bucket %v; want %v", short(sha), exists(t, filepath.Join(s.cfg.Dir, sha)), exists(t, object(bdir, sha)), want)
		}
	}
	if exists(t, crashed) {
		t.Error("the temp file of a crashed write survives")
	}
	if _, err := s.Local(context.Background(), gone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Local of a swept file: %v, want ErrNotFound", err)
	}

	// Released, the held file goes at the next sweep; on a node that does
	// not lead the sweep, only from its own dir.
	release()
	leadsMu.Lock()
	leads = false
	leadsMu.Unlock()
	if n := sweep(t, s); n != (Swept{Local: 1}) || exists(t, filepath.Join(s.cfg.Dir, held)) || !exists(t, object(bdir, held)) {
		t.Fatalf("Sweep = %+v; want the held file gone from the dir only", n)
	}
	// Once the message that named it is purged, kept goes too.
	leadsMu.Lock()
	leads = true
	leadsMu.Unlock()
	r.set()
	if n := sweep(t, s); n != (Swept{Local: 1, Shared: 2}) || exists(t, filepath.Join(s.cfg.Dir, kept)) || exists(t, object(bdir, kept)) {
		t.Fatalf("Sweep = %+v; want kept gone, and held from the bucket", n)
	}
	if !exists(t, filepath.Join(s.cfg.Dir, young)) {
		t.Fatal("the young file was swept")
	}

	// The store's reference read fails: nothing is deleted.
	r.mu.Lock()
	r.err = errors.New("the database is down")
	r.mu.Unlock()
	setOld(t, filepath.Join(s.cfg.Dir, young))
	if _, err := s.Sweep(context.Background()); err == nil || !exists(t, filepath.Join(s.cfg.Dir, young)) {
		t.Fatalf("Sweep with a failing store = %v; want the error and nothing deleted", err)
	}
}

// A Send that finds an old, unreferenced file while a sweep runs (between
// its listing and its read of the references) keeps it: its message is
// stored after the read, yet the file is not deleted under it.
func TestSweepSparesAFilePutMeanwhile(t *testing.T) {
	r := &refs{}
	s := open(t, Config{Referenced: r.referenced})
	data := payload(20, 5000)
	sha := put(t, s, data)
	p := filepath.Join(s.cfg.Dir, sha)
	setOld(t, p)
	r.mu.Lock()
	r.hook = func() {
		// The Send: Put finds the file (no write), its message is stored,
		// then it releases, all before the sweep deletes anything.
		again, release, err := s.Put(context.Background(), data)
		if err != nil || again != sha {
			t.Errorf("Put during the sweep = %s, %v", again, err)
		}
		release()
	}
	r.mu.Unlock()
	if n := sweep(t, s); n.Local != 0 || !exists(t, p) {
		t.Fatalf("Sweep = %+v, file there %v; want the file a Send found during the sweep kept", n, exists(t, p))
	}
	// The next sweep, with no Put under way and no message naming it, deletes it.
	r.mu.Lock()
	r.hook = nil
	r.mu.Unlock()
	if n := sweep(t, s); n.Local != 1 || exists(t, p) {
		t.Fatalf("next Sweep = %+v; want the file deleted", n)
	}
}

// Run sweeps at once and returns when its context ends.
func TestRun(t *testing.T) {
	r := &refs{}
	s := open(t, Config{Referenced: r.referenced, SweepEvery: time.Hour})
	sha := put(t, s, payload(30, 10))
	setOld(t, filepath.Join(s.cfg.Dir, sha))
	ctx, cancel := context.WithCancel(context.Background())
	swept := make(chan struct{})
	r.mu.Lock()
	r.hook = func() { close(swept) }
	r.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-swept:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not sweep at start")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if exists(t, filepath.Join(s.cfg.Dir, sha)) {
		t.Fatal("Run's sweep left the unreferenced old file")
	}
}
