package server

import (
	"testing"
	"time"

	"github.com/wapool/wapool/supervisor"
)

// A stale restore reaches the API: in Status, and as a session event that
// is no change of state (webhook filters on a state leave it out).
func TestStaleRestoreOnTheWire(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := &supervisor.StaleRestore{RestoredAt: at, SnapshotAt: at.Add(-time.Hour), LastActive: at.Add(-10 * time.Minute)}
	s := session(supervisor.Session{TenantID: "t1", StaleRestore: r})
	if got := s.GetStaleRestore(); got.GetBehind().AsDuration() != 50*time.Minute || !got.GetRestoredAt().AsTime().Equal(at) ||
		!got.GetSnapshotAt().AsTime().Equal(r.SnapshotAt) || !got.GetLastActive().AsTime().Equal(r.LastActive) {
		t.Fatalf("Session.stale_restore = %v", got)
	}
	if session(supervisor.Session{TenantID: "t1"}).GetStaleRestore() != nil {
		t.Fatal("stale_restore set without a stale restore")
	}
	ev := supervisor.Event{Cursor: "c", At: at, TenantID: "t1", Session: &supervisor.SessionChange{StaleRestore: r}}
	if got := event(ev).GetSessionState().GetStaleRestore(); got.GetBehind().AsDuration() != 50*time.Minute {
		t.Fatalf("event's stale_restore = %v", got)
	}
	for events, want := range map[string]bool{"session": true, "session.ready": false, "message": false} {
		f, err := newEventFilter(nil, []string{events})
		if err != nil {
			t.Fatal(err)
		}
		if f.match(ev) != want {
			t.Errorf("webhook filter %q matches the stale restore's event: %v, want %v", events, !want, want)
		}
	}
}
