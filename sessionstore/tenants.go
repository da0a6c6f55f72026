package sessionstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tenant is the stored metadata of one tenant (one WhatsApp account).
type Tenant struct {
	ID         string    `json:"id"`
	Phone      string    `json:"phone,omitempty"` // the linked account's number, digits
	Linked     bool      `json:"linked"`          // the profile was seen linked last time
	CreatedAt  time.Time `json:"created_at"`      // set by PutTenant when zero
	LastActive time.Time `json:"last_active,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	// SnapshotAt is when the newest snapshot of the profile in object
	// storage was taken (cluster mode); zero when there is none.
	SnapshotAt time.Time `json:"snapshot_at,omitzero"`
	// StaleRestore is set when the profile was last restored from a
	// snapshot older than the tenant's last activity (cluster mode); nil
	// when the last restore was current, or there was none.
	StaleRestore *StaleRestore `json:"stale_restore,omitempty"`
}

// StaleRestore is a restore of a tenant's profile from a snapshot taken
// before the tenant's last activity: its device state rolled back.
type StaleRestore struct {
	RestoredAt time.Time `json:"restored_at"`
	SnapshotAt time.Time `json:"snapshot_at"` // when the snapshot restored was taken
	LastActive time.Time `json:"last_active"` // the tenant's last activity before the restore
}

// Behind is how far the restored device is behind: LastActive - SnapshotAt.
func (r StaleRestore) Behind() time.Duration { return r.LastActive.Sub(r.SnapshotAt) }

// GetTenant returns the tenant's metadata, or an error wrapping ErrNotFound.
func (s *Store) GetTenant(id string) (Tenant, error) {
	if err := ValidateTenantID(id); err != nil {
		return Tenant{}, err
	}
	if s.pg != nil {
		return s.pg.getTenant(id)
	}
	var t Tenant
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = getTenant(tx, id)
		return err
	})
	return t, err
}

// PutTenant creates or replaces the tenant's metadata. A zero CreatedAt is
// set to now.
func (s *Store) PutTenant(t Tenant) error {
	if err := ValidateTenantID(t.ID); err != nil {
		return err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.clock()
	}
	if s.pg != nil {
		return s.pg.putTenant(t)
	}
	return s.db.Update(func(tx *bolt.Tx) error { return putTenant(tx, t) })
}

// UpdateTenant applies fn to the stored tenant and stores the result, in one
// transaction, and returns it. fn must not change ID (it is restored) and must
// not call the Store. Missing tenant: ErrNotFound, fn is not called.
func (s *Store) UpdateTenant(id string, fn func(*Tenant)) (Tenant, error) {
	if err := ValidateTenantID(id); err != nil {
		return Tenant{}, err
	}
	if s.pg != nil {
		return s.pg.updateTenant(id, fn)
	}
	var t Tenant
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if t, err = getTenant(tx, id); err != nil {
			return err
		}
		fn(&t)
		t.ID = id
		return putTenant(tx, t)
	})
	if err != nil {
		return Tenant{}, err
	}
	return t, nil
}

// UpdateTenantLogged is UpdateTenant with a session event of the tenant
// (ch) appended in the same transaction: the record's change and its event
// commit together, or neither does. With Options.NodeID set it is fenced
// like AppendSessionEvent. Missing tenant: ErrNotFound, fn is not called
// and nothing is logged.
func (s *Store) UpdateTenantLogged(id string, fn func(*Tenant), ch SessionEvent) (Tenant, Event, error) {
	if err := ValidateTenantID(id); err != nil {
		return Tenant{}, Event{}, err
	}
	f, err := s.fenceFor(id)
	if err != nil {
		return Tenant{}, Event{}, err
	}
	var t Tenant
	var ev Event
	if s.pg != nil {
		t, ev, err = s.pg.updateTenantLogged(f, fn, ch)
	} else {
		err = s.updateLogged(func(tx *bolt.Tx, log *eventWriter) error {
			if err := f.checkBolt(tx, s.clock()); err != nil {
				return err
			}
			var err error
			if t, err = getTenant(tx, id); err != nil {
				return err
			}
			fn(&t)
			t.ID = id
			if err := putTenant(tx, t); err != nil {
				return err
			}
			ev, err = log.append(Event{TenantID: id, Session: &ch})
			return err
		})
	}
	if err != nil {
		return Tenant{}, Event{}, err
	}
	return t, ev, nil
}

// ListTenants returns every tenant, most recently active first, then by ID.
func (s *Store) ListTenants() ([]Tenant, error) {
	var ts []Tenant
	var err error
	if s.pg != nil {
		ts, err = s.pg.listTenants()
	} else {
		err = s.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketTenants).ForEach(func(k, v []byte) error {
				var t Tenant
				if err := json.Unmarshal(v, &t); err != nil {
					return fmt.Errorf("tenant %q: decode: %w", k, err)
				}
				ts = append(ts, t)
				return nil
			})
		})
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].LastActive.Equal(ts[j].LastActive) {
			return ts[i].LastActive.After(ts[j].LastActive)
		}
		return ts[i].ID < ts[j].ID
	})
	return ts, nil
}

// DiscoverProfiles lists, sorted, the directories under ProfilesDir that are
// valid tenant ids, look like Chrome profiles (hold a "Default" dir or a
// "Local State" file) and have no Tenant record yet: the profiles of the
// Selenium-era chrome_data/<user_id>/ layout, ready to be adopted with
// PutTenant. A missing ProfilesDir yields none.
func (s *Store) DiscoverProfiles() ([]string, error) {
	entries, err := os.ReadDir(s.profilesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sessionstore: discover profiles: %w", err)
	}
	var candidates []string
	for _, e := range entries {
		if !e.IsDir() || ValidateTenantID(e.Name()) != nil {
			continue
		}
		dir := filepath.Join(s.profilesDir, e.Name())
		if fi, err := os.Stat(filepath.Join(dir, "Default")); err == nil && fi.IsDir() {
			candidates = append(candidates, e.Name())
		} else if fi, err := os.Stat(filepath.Join(dir, "Local State")); err == nil && fi.Mode().IsRegular() {
			candidates = append(candidates, e.Name())
		}
	}
	if s.pg != nil {
		return s.pg.withoutRecord(candidates)
	}
	var found []string
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTenants)
		for _, id := range candidates {
			if b.Get([]byte(id)) == nil {
				found = append(found, id)
			}
		}
		return nil
	})
	return found, err // ReadDir sorts by name
}

// DeleteTenant removes the tenant's profile, cache and tmp dirs, then its
// metadata, messages and keys, and appends the tenant's Deleted session
// event in the transaction that removes the metadata: the deletion and its
// event commit together (dirs first: a failure leaves the record, so the
// half-deleted profile is not adopted again by DiscoverProfiles, and a
// retry finishes and logs the event). The tenant's lease and its earlier
// events stay (the lease's epoch keeps counting up if the tenant comes
// back). With Options.NodeID set it is fenced like AppendSessionEvent: a
// Store that holds no lease on the tenant removes nothing. The caller must
// have stopped the tenant's browser. If this Store holds the tenant's
// ProfileLock it may keep holding it through the call; otherwise
// DeleteTenant takes the lock for the deletion and fails with ErrLocked
// when another process holds it. ErrNotFound (and no event) when neither a
// record nor a profile dir existed.
func (s *Store) DeleteTenant(id string) error {
	profile, err := s.ProfileDir(id)
	if err != nil {
		return err
	}
	cache, _ := s.CacheDir(id)
	tmp, _ := s.TmpDir(id)
	f, err := s.fenceFor(id)
	if err != nil {
		return fmt.Errorf("tenant %q: delete: %w", id, err)
	}

	_, statErr := os.Lstat(profile)
	profileExists := statErr == nil
	if profileExists && !s.holds(id) {
		l, err := s.LockProfile(id)
		if err != nil {
			return err
		}
		defer l.Unlock()
	}
	for _, dir := range []string{profile, cache, tmp} {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("tenant %q: delete: %w", id, err)
		}
	}

	var hadRecord bool
	if s.pg != nil {
		hadRecord, err = s.pg.deleteTenant(f, profileExists)
	} else {
		hadRecord, err = s.deleteTenantBolt(f, profileExists)
	}
	if err != nil {
		return fmt.Errorf("tenant %q: delete: %w", id, err)
	}
	if !hadRecord && !profileExists {
		return fmt.Errorf("tenant %q: %w", id, ErrNotFound)
	}
	return nil
}

// deletedEvent is the session event of a tenant's deletion.
func deletedEvent(id string) Event {
	return Event{TenantID: id, Session: &SessionEvent{Deleted: true, LastError: "logged out and deleted"}}
}

// deleteTenantBolt removes the tenant's record, messages and index entries,
// and logs the deletion when there was a record or a profile.
func (s *Store) deleteTenantBolt(f fence, profileExisted bool) (hadRecord bool, err error) {
	id := f.tenantID
	err = s.updateLogged(func(tx *bolt.Tx, log *eventWriter) error {
		if err := f.checkBolt(tx, s.clock()); err != nil {
			return err
		}
		hadRecord = tx.Bucket(bucketTenants).Get([]byte(id)) != nil
		if err := tx.Bucket(bucketTenants).Delete([]byte(id)); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketMessages, bucketPending} {
			if err := tx.Bucket(name).DeleteBucket([]byte(id)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return err
			}
		}
		prefix := tenantPrefix(id)
		for _, name := range [][]byte{bucketIdempotency, bucketMsgIDs, bucketWAIDs} {
			if err := deletePrefix(tx.Bucket(name), prefix); err != nil {
				return err
			}
		}
		if !hadRecord && !profileExisted {
			return nil
		}
		_, err := log.append(deletedEvent(id))
		return err
	})
	return hadRecord, err
}

func getTenant(tx *bolt.Tx, id string) (Tenant, error) {
	v := tx.Bucket(bucketTenants).Get([]byte(id))
	if v == nil {
		return Tenant{}, fmt.Errorf("tenant %q: %w", id, ErrNotFound)
	}
	var t Tenant
	if err := json.Unmarshal(v, &t); err != nil {
		return Tenant{}, fmt.Errorf("tenant %q: decode: %w", id, err)
	}
	return t, nil
}

func putTenant(tx *bolt.Tx, t Tenant) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketTenants).Put([]byte(t.ID), v)
}

// tenantPrefix is the key prefix of the tenant's entries in the idempotency,
// msgids and waids buckets. Tenant ids never contain NUL.
func tenantPrefix(id string) []byte { return []byte(id + "\x00") }

// deletePrefix deletes every key of b starting with prefix. Keys are
// collected first: deleting under a bbolt cursor skips entries.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
