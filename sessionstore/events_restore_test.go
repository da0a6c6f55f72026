package sessionstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wapool/wapool/sessionstore"
)

// appendN appends n session events of tenant and returns their cursors.
func appendN(t *testing.T, s *sessionstore.Store, tenant string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ev, err := s.AppendSessionEvent(tenant, sessionstore.SessionEvent{From: "READY", To: "HIBERNATED"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s.Cursor(ev.Seq))
	}
	return out
}

// cursorsOf renders the cursors of the events s holds.
func cursorsOf(t *testing.T, s *sessionstore.Store) []string {
	t.Helper()
	var out []string
	for _, ev := range allEvents(t, s) {
		out = append(out, s.Cursor(ev.Seq))
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A data dir restored from a backup (a copy of wapool.db) never hands out
// again the cursors (event ids) the lost copy handed out after the backup:
// the events appended after the restore have ids of their own, so a
// receiver that de-duplicates by X-Wapool-Event-Id never drops one; the
// events the backup holds keep their ids (a receiver drops their
// redelivery, rightly), and a cursor of the lost events is out of range.
// A plain restart changes no event's id and keeps every cursor valid.
func TestRestoredBackupNeverReusesCursors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(dir, sessionstore.DBFileName)
	backup := filepath.Join(t.TempDir(), "backup.db")
	open := func() *sessionstore.Store {
		s, err := sessionstore.Open(sessionstore.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := open()
	before := appendN(t, s, "shop", 3)
	head, err := s.EventHead()
	if err != nil {
		t.Fatal(err)
	}
	headCursor := s.Cursor(head)
	copyFile(t, db, backup) // the backup: a copy of the idle file
	lost := appendN(t, s, "shop", 3)
	s.Close()

	// A plain restart: same ids, every cursor still valid, new events new ids.
	s = open()
	if got := cursorsOf(t, s); !slices.Equal(got, append(slices.Clone(before), lost...)) {
		t.Fatalf("cursors after a restart %q, want the same as before it %q", got, append(before, lost...))
	}
	for _, c := range append(slices.Clone(before), lost...) {
		if _, err := s.ParseCursor(c); err != nil {
			t.Errorf("ParseCursor(%s) after a restart: %v", c, err)
		}
	}
	more := appendN(t, s, "shop", 1)
	s.Close()
	lost = append(lost, more...)

	copyFile(t, backup, db) // the restore
	s = open()
	defer s.Close()
	if got := cursorsOf(t, s); !slices.Equal(got, before) {
		t.Fatalf("cursors of the backup's events after the restore %q, want their old ids %q", got, before)
	}
	if c := s.Cursor(head); c != headCursor {
		t.Errorf("the backup's head renders as %s, was %s", c, headCursor)
	}
	if _, err := s.ParseCursor(headCursor); err != nil {
		t.Errorf("ParseCursor(the backup's head) after the restore: %v", err)
	}
	fresh := appendN(t, s, "shop", 4) // seqs 4 to 7 again
	for _, c := range fresh {
		if slices.Contains(lost, c) {
			t.Fatalf("event %s appended after the restore has the id of a lost event (lost %q, new %q)", c, lost, fresh)
		}
	}
	for _, c := range lost {
		var re *sessionstore.CursorRangeError
		if _, err := s.ParseCursor(c); !errors.As(err, &re) {
			t.Errorf("ParseCursor(%s), a cursor the lost copy handed out: %v, want a CursorRangeError", c, err)
		}
	}
	// Reading on after the backup's head yields the new events.
	evs, _, err := s.EventsAfter(head, 10, nil)
	if err != nil || len(evs) != 4 || s.Cursor(evs[0].Seq) != fresh[0] {
		t.Fatalf("EventsAfter(the backup's head) = %d events, %v", len(evs), err)
	}
}

// A log written before segments (its one log_id) keeps its cursors.
func TestLogOfBeforeSegmentsKeepsItsCursors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := sessionstore.Open(sessionstore.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	old := appendN(t, s, "shop", 2)
	s.Close()
	// What an older wapoold left: the log_id alone.
	db, err := bolt.Open(filepath.Join(dir, sessionstore.DBFileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("eventmeta"))
		if id := string(meta.Get([]byte("log_id"))); id != old[0][:8] {
			t.Errorf("log_id %q, want the first segment's id (cursor %s)", id, old[0])
		}
		return meta.Delete([]byte("segments"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = sessionstore.Open(sessionstore.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := cursorsOf(t, s); !slices.Equal(got, old) {
		t.Fatalf("cursors %q, want %q", got, old)
	}
	if n := appendN(t, s, "shop", 1); n[0][:8] == old[0][:8] {
		t.Fatalf("new event %s under the old id", n[0])
	}
}
