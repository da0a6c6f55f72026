package sessionstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// A tenant's deletion and its Deleted event commit together: DeleteTenant
// logs it, once, for a tenant that had a record or a profile, and a
// refused deletion (fenced: no lease) removes nothing and logs nothing.
func TestDeleteTenantLogsItsDeletion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, newClock(), sessionstore.Options{})
		if err := s.PutTenant(sessionstore.Tenant{ID: "gone", Linked: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTenant(sessionstore.Tenant{ID: "stays"}); err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureDirs("profileonly"); err != nil { // a profile dir, no record
			t.Fatal(err)
		}
		if err := s.DeleteTenant("gone"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTenant("profileonly"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTenant("nobody"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("DeleteTenant(nobody) = %v, want ErrNotFound", err)
		}
		evs := allEvents(t, s)
		if len(evs) != 2 {
			t.Fatalf("events after two deletions: %s; want one Deleted event each", describeAll(evs))
		}
		for i, id := range []string{"gone", "profileonly"} {
			ev := evs[i]
			if ev.TenantID != id || ev.Session == nil || !ev.Session.Deleted || ev.Session.To != "" {
				t.Errorf("event %d = %+v (%+v), want %s's Deleted event", i, ev, ev.Session, id)
			}
		}

		// Cluster mode: a node without the tenant's lease deletes nothing.
		node := b.peer(t, s, nil, "node-a")
		if err := node.DeleteTenant("stays"); !errors.Is(err, sessionstore.ErrFenced) {
			t.Fatalf("DeleteTenant without the lease = %v, want ErrFenced", err)
		}
		if _, err := s.GetTenant("stays"); err != nil {
			t.Fatalf("a refused deletion removed the record: %v", err)
		}
		if _, err := node.AcquireLease("stays", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := node.DeleteTenant("stays"); err != nil {
			t.Fatal(err)
		}
		evs = allEvents(t, s)
		if len(evs) != 3 || evs[2].TenantID != "stays" || !evs[2].Session.Deleted {
			t.Fatalf("events: %s; want stays's Deleted event third", describeAll(evs))
		}
	})
}

// UpdateTenantLogged stores the record's change and its session event in
// one transaction: both, or (fenced, missing tenant) neither.
func TestUpdateTenantLoggedCommitsBothOrNeither(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, newClock(), sessionstore.Options{})
		if err := s.PutTenant(sessionstore.Tenant{ID: "t1", Linked: true}); err != nil {
			t.Fatal(err)
		}
		ch := sessionstore.SessionEvent{From: "READY", To: "UNLINKED", LastError: "logged out"}
		tn, ev, err := s.UpdateTenantLogged("t1", func(tn *sessionstore.Tenant) { tn.Linked, tn.LastError = false, "logged out"; tn.ID = "other" }, ch)
		if err != nil || tn.ID != "t1" || tn.Linked || ev.Seq != 1 || ev.TenantID != "t1" || *ev.Session != ch {
			t.Fatalf("UpdateTenantLogged = %+v, %+v, %v", tn, ev, err)
		}
		if got, _ := s.GetTenant("t1"); got.Linked || got.LastError != "logged out" {
			t.Fatalf("stored tenant %+v", got)
		}
		if _, _, err := s.UpdateTenantLogged("nobody", func(*sessionstore.Tenant) { t.Error("fn called for a missing tenant") }, ch); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("missing tenant: %v, want ErrNotFound", err)
		}
		node := b.peer(t, s, nil, "node-a")
		if _, _, err := node.UpdateTenantLogged("t1", func(tn *sessionstore.Tenant) { tn.Linked = true }, ch); !errors.Is(err, sessionstore.ErrFenced) {
			t.Fatalf("without a lease: %v, want ErrFenced", err)
		}
		if got, _ := s.GetTenant("t1"); got.Linked {
			t.Fatalf("a fenced update was stored: %+v", got)
		}
		if evs := allEvents(t, s); len(evs) != 1 {
			t.Fatalf("events: %s; want the one committed", describeAll(evs))
		}
	})
}
