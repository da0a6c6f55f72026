package sessionstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

func TestTenantCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		if _, err := s.GetTenant("5"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("GetTenant of a missing tenant: %v", err)
		}
		if _, err := s.UpdateTenant("5", func(*sessionstore.Tenant) { t.Error("fn called for a missing tenant") }); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("UpdateTenant of a missing tenant: %v", err)
		}
		if err := s.PutTenant(sessionstore.Tenant{ID: "a/b"}); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
			t.Fatalf("PutTenant(a/b): %v", err)
		}
		if err := s.PutTenant(sessionstore.Tenant{ID: "5", Phone: "4915112345678"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTenant("5")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "5" || got.Phone != "4915112345678" || got.Linked || got.CreatedAt.IsZero() {
			t.Fatalf("GetTenant = %+v", got)
		}
		active := c.Now()
		up, err := s.UpdateTenant("5", func(tn *sessionstore.Tenant) {
			tn.Linked = true
			tn.LastActive = active
			tn.LastError = "boom"
			tn.ID = "hijack"
		})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := s.GetTenant("5")
		if up.ID != "5" || !again.Linked || !again.LastActive.Equal(active) || again.LastError != "boom" || !again.CreatedAt.Equal(got.CreatedAt) {
			t.Fatalf("after UpdateTenant: returned %+v, stored %+v", up, again)
		}
		if _, err := s.GetTenant("hijack"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("UpdateTenant let fn rename the tenant: %v", err)
		}
	})
}

func TestListTenantsOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, tn := range []sessionstore.Tenant{
			{ID: "old", LastActive: t0},
			{ID: "never"},
			{ID: "b-recent", LastActive: t0.Add(time.Hour)},
			{ID: "a-recent", LastActive: t0.Add(time.Hour)},
			{ID: "newest", LastActive: t0.Add(2 * time.Hour)},
		} {
			if err := s.PutTenant(tn); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.ListTenants()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tn := range list {
			ids = append(ids, tn.ID)
		}
		if want := []string{"newest", "a-recent", "b-recent", "old", "never"}; !slices.Equal(ids, want) {
			t.Fatalf("ListTenants order %v, want %v", ids, want)
		}
	})
}

func TestDiscoverProfilesAdoptsOldLayout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		root := t.TempDir()
		chromeData := filepath.Join(root, "chrome_data")
		mk := func(p string) {
			if err := os.MkdirAll(filepath.Join(chromeData, p), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		mk("5/Default")          // Selenium-era profile
		mk("12")                 // profile with only "Local State"
		mk("known/Default")      // already a tenant
		mk("empty")              // not a Chrome profile
		mk(".hidden/Default")    // not a tenant id
		mk("bad.name/Default")   // not a tenant id
		mk("notdir/Local State") // "Local State" must be a file
		if err := os.WriteFile(filepath.Join(chromeData, "12", "Local State"), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(chromeData, "file"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s := b.open(t, nil, sessionstore.Options{DataDir: filepath.Join(root, "data"), ProfilesDir: chromeData})
		if err := s.PutTenant(sessionstore.Tenant{ID: "known"}); err != nil {
			t.Fatal(err)
		}
		found, err := s.DiscoverProfiles()
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"12", "5"}; !slices.Equal(found, want) {
			t.Fatalf("DiscoverProfiles = %v, want %v", found, want)
		}
		p, _ := s.ProfileDir("5")
		if p != filepath.Join(chromeData, "5") {
			t.Fatalf("ProfileDir(5) = %q, want the old profile in place", p)
		}
		if err := s.PutTenant(sessionstore.Tenant{ID: "5", Linked: true}); err != nil {
			t.Fatal(err)
		}
		if found, _ := s.DiscoverProfiles(); !slices.Equal(found, []string{"12"}) {
			t.Fatalf("after adopting 5, DiscoverProfiles = %v", found)
		}
	})
}

func TestDeleteTenant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{})
		if err := s.PutTenant(sessionstore.Tenant{ID: "5"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTenant(sessionstore.Tenant{ID: "6"}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"5", "6"} {
			if err := s.EnsureDirs(id); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Enqueue(sessionstore.Message{TenantID: id, To: "491511", Text: "hi", IdempotencyKey: "k"}); err != nil {
				t.Fatal(err)
			}
		}
		m5, _, _ := s.Enqueue(sessionstore.Message{TenantID: "5", To: "491511", Text: "second"})
		dirs := dirsOf(t, s, "5")
		if err := os.WriteFile(filepath.Join(dirs[0], "Cookies"), []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}

		if err := s.DeleteTenant("5"); err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("DeleteTenant left %s (%v)", d, err)
			}
		}
		if _, err := s.GetTenant("5"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("tenant record survives: %v", err)
		}
		if _, err := s.GetMessage("5", m5.ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("message survives: %v", err)
		}
		if n, _ := s.QueueDepth("5"); n != 0 {
			t.Errorf("QueueDepth after delete = %d", n)
		}
		// The key is free again for a new tenant "5", and tenant "6" is untouched.
		m, existed, err := s.Enqueue(sessionstore.Message{TenantID: "5", To: "491511", Text: "other", IdempotencyKey: "k"})
		if err != nil || existed || m.Seq != 1 {
			t.Errorf("re-created tenant's Enqueue = %+v, %v, %v", m, existed, err)
		}
		if _, err := s.GetTenant("6"); err != nil {
			t.Errorf("DeleteTenant(5) touched 6: %v", err)
		}
		if n, _ := s.QueueDepth("6"); n != 1 {
			t.Errorf("QueueDepth(6) = %d, want 1", n)
		}
		if size, _ := s.OutboxSize(); size != 2 {
			t.Errorf("OutboxSize = %d, want 2", size)
		}

		if err := s.DeleteTenant("nobody"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("DeleteTenant of an unknown tenant: %v, want ErrNotFound", err)
		}
		if err := s.DeleteTenant("../6"); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
			t.Errorf("DeleteTenant(../6): %v", err)
		}
	})
}
