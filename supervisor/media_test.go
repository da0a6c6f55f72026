package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// Messages with a file (DESIGN.md fact 19) on the fake page: the same
// exactly-once rules as a text's, the file given to the page under its
// name.

// fakeMedia is a media store: files in a directory, named by their SHA-256.
type fakeMedia struct{ dir string }

func newFakeMedia(t *testing.T) *fakeMedia { return &fakeMedia{dir: t.TempDir()} }

// put stores data and returns its description as a message carries it.
func (m *fakeMedia) put(t *testing.T, name, mime string, data []byte) *sessionstore.Media {
	t.Helper()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(m.dir, sha), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return &sessionstore.Media{Filename: name, MimeType: mime, Size: int64(len(data)), SHA256: sha}
}

func (m *fakeMedia) Local(_ context.Context, sha string) (string, error) {
	p := filepath.Join(m.dir, sha)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("fake media store: %w", err)
	}
	return p, nil
}

// sendFile sends a message with a file to t1, as the server does once it
// has stored the bytes, and waits until it is SENT or FAILED.
func (s *fakeStack) sendFile(to, caption string, md *sessionstore.Media) Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: to, Text: caption, Media: md})
	if err != nil {
		s.t.Fatalf("Send(%s, %q, %s): %v (message %+v)", to, caption, md.Filename, err, m)
	}
	return m
}

// mediaLeft lists what the attempts left in t1's media area.
func mediaLeft(t *testing.T, store *sessionstore.Store) []string {
	t.Helper()
	tmp, err := store.TmpDir("t1")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(tmp, mediaArea))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func shaOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Files go out once each with their captions, under their names, byte for
// byte: a PDF as a document, a PNG as a picture, a PNG asked as a document
// as one; each message SENT with its bubble's id, one click each, and
// nothing left in the media area.
func TestSendFileGoesOutOnce(t *testing.T) {
	bubble(t, func(t *testing.T) {
		media := newFakeMedia(t)
		cfg := fakeConfig()
		cfg.Media = media
		s := newFakeStack(t, cfg)
		pdf, png := []byte("%PDF-1.7 invoice 42"), []byte("\x89PNG\r\n\x1a\n picture")
		cases := []struct {
			caption string
			md      *sessionstore.Media
			doc     bool
		}{
			{"Your invoice *42*", media.put(t, "Invoice 42.pdf", "application/pdf", pdf), true},
			{"", media.put(t, "photo.png", "image/png", png), false},
			{"as a file", func() *sessionstore.Media {
				md := media.put(t, "photo original.png", "image/png", png)
				md.AsDocument = true
				return md
			}(), true},
		}
		for i, c := range cases {
			m := s.sendFile(alice, c.caption, c.md)
			ids := s.wa.ids(alice)
			if m.State != MessageSent || m.Attempts != 1 || len(ids) != i+1 || m.WAMessageID != ids[i] || !m.Clicked {
				t.Errorf("%s: message %+v, want SENT with %s after 1 attempt", c.md.Filename, m, ids[len(ids)-1])
			}
		}
		files, captions := s.wa.deliveredFiles(alice)
		want := []fakeFile{
			{name: "Invoice 42.pdf", sha256: shaOf(pdf), document: true},
			{name: "photo.png", sha256: shaOf(png), document: false},
			{name: "photo original.png", sha256: shaOf(png), document: true},
		}
		if !slices.Equal(files, want) || !slices.Equal(captions, []string{"Your invoice *42*", "", "as a file"}) {
			t.Errorf("delivered %+v with captions %q, want %+v", files, captions, want)
		}
		if n := s.wa.clickCount(); n != len(cases) {
			t.Errorf("%d clicks, want %d", n, len(cases))
		}
		synctest.Wait() // the attempt has ended
		if left := mediaLeft(t, s.store); len(left) != 0 {
			t.Errorf("the media area holds %v after the sends", left)
		}
	})
}

// A file message clicked whose ack never came: the next attempt prepares
// the file again, finds the new bubble (not noted, unclaimed) and is SENT
// with it; the file is never clicked twice. Its file stays for the browser
// between the attempts (the page may be uploading it) and goes after.
func TestSendFileClickedIsLookedUp(t *testing.T) {
	bubble(t, func(t *testing.T) {
		media := newFakeMedia(t)
		cfg := fakeConfig()
		cfg.Media = media
		s := newFakeStack(t, cfg)
		data := []byte("quarterly report")
		md := media.put(t, "report.txt", "text/plain", data)
		s.wa.mu.Lock()
		s.wa.deliver(alice, "the report", true, fakeFile{name: "report.txt", sha256: shaOf(data), document: true}) // an older one: noted, not ours
		s.wa.mu.Unlock()
		fails := 1
		// The first click leaves a mark beside the file for the browser:
		// the lookup must find it there, as the page would its upload.
		var mark string
		s.wa.click = func(d waweb.Draft) (bool, bool, bool, error) {
			if mark == "" {
				mark = filepath.Join(filepath.Dir(d.File.Path), "uploading")
				if err := os.WriteFile(mark, nil, 0o600); err != nil {
					t.Error(err)
				}
			}
			return true, true, true, nil
		}
		var leftAtLookup []string
		markAtLookup := false
		s.wa.ack = func(waweb.Draft) error {
			if fails > 0 {
				fails--
				return waweb.ErrNotAcked
			}
			return nil
		}
		s.wa.prepare = func(string, string) error {
			if fails == 0 { // the lookup
				leftAtLookup = mediaLeft(t, s.store)
				_, err := os.Stat(mark)
				markAtLookup = err == nil
			}
			return nil
		}
		m := s.sendFile(alice, "the report", md)
		ids := s.wa.ids(alice)
		if m.State != MessageSent || m.Attempts != 2 || len(ids) != 2 || m.WAMessageID != ids[1] || !slices.Equal(m.Noted, ids[:1]) {
			t.Errorf("message %+v: want SENT with %s after 2 attempts, %s noted", m, ids[len(ids)-1], ids[0])
		}
		if n := s.wa.clickCount(); n != 1 {
			t.Errorf("%d clicks, want 1", n)
		}
		if files, _ := s.wa.deliveredFiles(alice); len(files) != 2 {
			t.Errorf("delivered %+v, want the older file and one new", files)
		}
		if len(s.wa.prepared) != 2 || s.wa.prepared[1] != (fakeFile{name: "report.txt", sha256: shaOf(data), document: true}) {
			t.Errorf("prepared %+v, want the file twice", s.wa.prepared)
		}
		if !slices.Equal(leftAtLookup, []string{m.ID}) || !markAtLookup {
			t.Errorf("the media area held %v at the lookup (the first attempt's directory kept: %v), want the message's directory as the click left it", leftAtLookup, markAtLookup)
		}
		synctest.Wait() // the attempt has ended
		if left := mediaLeft(t, s.store); len(left) != 0 {
			t.Errorf("the media area holds %v after SENT", left)
		}
	})
}

// A message whose file the media store does not have (or with no media
// store at all) fails its attempts, saying so, and ends FAILED after
// MaxAttempts: the page never prepares nor clicks anything, and the next
// message goes on.
func TestSendFileMissing(t *testing.T) {
	for _, c := range []struct {
		name, want string
		store      bool
	}{
		{"not in the store", "is not available", true},
		{"no media store", "no media store", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				media := newFakeMedia(t)
				cfg := fakeConfig()
				cfg.MaxAttempts = 2
				if c.store {
					cfg.Media = media
				}
				s := newFakeStack(t, cfg)
				md := &sessionstore.Media{Filename: "gone.pdf", MimeType: "application/pdf", Size: 3, SHA256: shaOf([]byte("abc"))}
				m := s.sendFile(alice, "caption", md)
				if m.State != MessageFailed || m.Attempts != 2 || m.ErrorReason != ReasonSendFailed || !strings.Contains(m.Error, c.want) || m.Clicked {
					t.Errorf("message %+v: want FAILED after 2 attempts, never clicked, its error saying %q", m, c.want)
				}
				if s.wa.prepares != 0 || s.wa.clickCount() != 0 {
					t.Errorf("%d prepares, %d clicks; want none", s.wa.prepares, s.wa.clickCount())
				}
				if got := s.send(alice, "next"); got.State != MessageSent {
					t.Errorf("the next message: %+v", got)
				}
			})
		})
	}
}
