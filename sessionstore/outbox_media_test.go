package sessionstore_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// media is a file of n bytes whose SHA-256 is hex digit d 64 times (the
// store trusts the caller's hash: the media store computed it).
func media(d string, n int64) *sessionstore.Media {
	return &sessionstore.Media{Filename: "invoice.pdf", MimeType: "application/pdf", Size: n, SHA256: strings.Repeat(d, 64), AsDocument: true}
}

func fileMsg(tenant, key, caption string, md *sessionstore.Media) sessionstore.Message {
	m := msg(tenant, key, caption)
	m.Media = md
	return m
}

func TestEnqueueMedia(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{IdempotencyRetention: time.Hour})
		in := fileMsg("5", "inv-1", "", media("a", 1234))
		m, existed, err := s.Enqueue(in)
		if err != nil || existed {
			t.Fatalf("Enqueue of a file without a caption = %v, existed=%v", err, existed)
		}
		if m.Text != "" || m.Media == nil || *m.Media != *in.Media || m.Media == in.Media {
			t.Fatalf("Enqueue stored %+v (media %+v); want a copy of %+v", m, m.Media, in.Media)
		}
		in.Media.Filename = "changed by the caller" // the stored message shares nothing with it
		got, err := s.GetMessage("5", m.ID)
		if err != nil || !reflect.DeepEqual(got, m) || got.Media.Filename != "invoice.pdf" {
			t.Fatalf("GetMessage = %+v, %v; want %+v", got, err, m)
		}
		if p, err := s.Pending("5"); err != nil || len(p) != 1 || !reflect.DeepEqual(p[0].Media, m.Media) {
			t.Fatalf("Pending = %+v, %v", p, err)
		}
		if r, err := s.RecentMessages("5", 5); err != nil || len(r) != 1 || !reflect.DeepEqual(r[0].Media, m.Media) {
			t.Fatalf("RecentMessages = %+v, %v: want the file's description", r, err)
		}

		// The same key: the same file is the same message; other bytes, another
		// name, another kind, a caption or none at all are a reuse of the key.
		again, existed, err := s.Enqueue(fileMsg("5", "inv-1", "", media("a", 1234)))
		if err != nil || !existed || again.ID != m.ID {
			t.Fatalf("retry = %+v, existed=%v, %v; want message %s", again, existed, err, m.ID)
		}
		renamed := media("a", 1234)
		renamed.Filename = "other.pdf"
		picture := media("a", 1234)
		picture.AsDocument = false
		for name, other := range map[string]sessionstore.Message{
			"other bytes":  fileMsg("5", "inv-1", "", media("b", 1234)),
			"other name":   fileMsg("5", "inv-1", "", renamed),
			"other kind":   fileMsg("5", "inv-1", "", picture),
			"a caption":    fileMsg("5", "inv-1", "see attached", media("a", 1234)),
			"no file":      msg("5", "inv-1", "see attached"),
			"a file added": fileMsg("5", "txt-1", "hello", media("a", 1234)),
		} {
			if name == "a file added" {
				if _, _, err := s.Enqueue(msg("5", "txt-1", "hello")); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := s.Enqueue(other); !errors.Is(err, sessionstore.ErrIdempotencyKeyReused) {
				t.Errorf("same key, %s: %v, want ErrIdempotencyKeyReused", name, err)
			}
		}

		// UpdateMessage keeps the file as stored, whatever fn does to it.
		up, err := s.UpdateMessage("5", m.ID, func(x *sessionstore.Message) {
			x.Media.SHA256, x.State = strings.Repeat("c", 64), sessionstore.StateSending
		})
		if err != nil || !reflect.DeepEqual(up.Media, m.Media) {
			t.Fatalf("UpdateMessage = %+v (media %+v), %v; want the file kept", up, up.Media, err)
		}
		up, err = s.UpdateMessage("5", m.ID, func(x *sessionstore.Message) { x.Media = nil })
		if err != nil || !reflect.DeepEqual(up.Media, m.Media) {
			t.Fatalf("UpdateMessage dropping the file = %+v, %v; want it kept", up.Media, err)
		}

		for name, bad := range map[string]*sessionstore.Media{
			"short hash":     {Filename: "a", MimeType: "x/y", Size: 1, SHA256: "abc"},
			"upper-case hex": {Filename: "a", MimeType: "x/y", Size: 1, SHA256: strings.Repeat("A", 64)},
			"empty":          {Filename: "a", MimeType: "x/y", Size: 0, SHA256: strings.Repeat("a", 64)},
			"no name":        {MimeType: "x/y", Size: 1, SHA256: strings.Repeat("a", 64)},
			"no type":        {Filename: "a", Size: 1, SHA256: strings.Repeat("a", 64)},
		} {
			if _, _, err := s.Enqueue(fileMsg("5", "", "x", bad)); !errors.Is(err, sessionstore.ErrInvalidMessage) {
				t.Errorf("Enqueue of a file with %s: %v, want ErrInvalidMessage", name, err)
			}
		}
	})
}

// ReferencedMedia names the files of every message kept, pending or
// finished, until PurgeExpired removes the last message naming them.
func TestReferencedMedia(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := newClock()
		s := b.open(t, c, sessionstore.Options{IdempotencyRetention: time.Hour})
		want := func(shas ...string) {
			t.Helper()
			got, err := s.ReferencedMedia()
			if err != nil {
				t.Fatal(err)
			}
			w := map[string]bool{}
			for _, d := range shas {
				w[strings.Repeat(d, 64)] = true
			}
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("ReferencedMedia = %v, want %v", got, w)
			}
		}
		want()
		if _, _, err := s.Enqueue(msg("5", "", "a text names no file")); err != nil {
			t.Fatal(err)
		}
		want()
		a1, _, _ := s.Enqueue(fileMsg("5", "", "first", media("a", 10)))
		a2, _, _ := s.Enqueue(fileMsg("6", "", "the same bytes, another tenant", media("a", 10)))
		bm, _, _ := s.Enqueue(fileMsg("6", "", "", media("b", 20)))
		want("a", "b")
		for _, m := range []sessionstore.Message{a1, bm} {
			if _, err := s.UpdateMessage(m.TenantID, m.ID, func(x *sessionstore.Message) { x.State = sessionstore.StateSent }); err != nil {
				t.Fatal(err)
			}
		}
		want("a", "b") // finished but kept
		c.Advance(2 * time.Hour)
		if n, err := s.PurgeExpired(); err != nil || n != 2 {
			t.Fatalf("PurgeExpired = %d, %v; want 2", n, err)
		}
		want("a") // a2 is still QUEUED
		if _, err := s.FailPending("6", "LOGGED_OUT", "logged out"); err != nil {
			t.Fatal(err)
		}
		want("a")
		c.Advance(2 * time.Hour)
		if n, err := s.PurgeExpired(); err != nil || n != 1 {
			t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
		}
		want()
		if _, err := s.GetMessage(a2.TenantID, a2.ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("a2 survives: %v", err)
		}
	})
}
