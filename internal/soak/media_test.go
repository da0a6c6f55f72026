package main

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/wapool/wapool/internal/media"
)

// TestMakeMedia: the files alternate a PNG picture and a PDF document,
// the daemon's sniffer calls them so, their sizes stay in bounds, and no
// two share their bytes.
func TestMakeMedia(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for k := range 6 {
		i := k*mediaEvery + mediaEvery - 1
		m, f, err := makeMedia(rng, "t1", i)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(m.Data)
		if f.sha256 != hex.EncodeToString(sum[:]) || f.size != len(m.Data) || f.filename != m.Filename {
			t.Fatalf("file %d: %+v does not describe %s (%d bytes)", i, f, m.Filename, len(m.Data))
		}
		if seen[f.sha256] {
			t.Fatalf("file %d: the bytes of an earlier file", i)
		}
		seen[f.sha256] = true
		if len(m.Data) < minMediaBytes/2 || len(m.Data) > maxMediaBytes+4096 {
			t.Errorf("file %d: %d bytes", i, len(m.Data))
		}
		sniffed := media.Sniff(m.Data)
		wantDoc := k%2 == 0
		if f.asDocument != wantDoc || sniffed != m.MimeType || media.IsPicture(sniffed) == wantDoc {
			t.Errorf("file %d %s: declared %s, sniffed %s, as document %v", i, m.Filename, m.MimeType, sniffed, f.asDocument)
		}
	}
}

// TestJudgeMedia: a message with a file counts once it arrived with its
// caption, name, hash and kind; another file under its caption is lost
// and unexpected, and said so.
func TestJudgeMedia(t *testing.T) {
	pdf := &soakFile{filename: "invoice-t1-0004.pdf", sha256: "aa", asDocument: true}
	png := &soakFile{filename: "photo-t1-0009.png", sha256: "bb"}
	acc := []sentMsg{{"a", "A", nil}, {"cap 4", "F", pdf}, {"cap 9", "G", png}}
	arr := []arrival{{id: "A", text: "a"}, {id: "F", text: "cap 4", file: pdf}, {id: "G", text: "cap 9", file: png}}
	if got, want := judge(acc, arr), (verdict{Accepted: 3, Delivered: 3, MediaAccepted: 2, MediaDelivered: 2}); got != want {
		t.Fatalf("clean: %+v, want %+v", got, want)
	}
	for name, wrong := range map[string]*soakFile{
		"other bytes":    {filename: png.filename, sha256: "cc"},
		"other name":     {filename: "photo.png", sha256: "bb"},
		"as a document":  {filename: png.filename, sha256: "bb", asDocument: true},
		"no file at all": nil,
	} {
		bad := []arrival{arr[0], arr[1], {id: "G", text: "cap 9", file: wrong}}
		want := verdict{Accepted: 3, Delivered: 2, Lost: 1, Unexpected: 1, Misattributed: 1, MediaAccepted: 2, MediaDelivered: 1, MediaWrong: 1}
		if wrong == nil {
			want.MediaWrong = 0
		}
		if got := judge(acc, bad); got != want || got.ok() {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	twice := append(arr[:3:3], arrival{id: "H", text: "cap 4", file: pdf})
	if got := judge(acc, twice); got.Duplicates != 1 || got.MediaDelivered != 2 || got.ok() {
		t.Errorf("a file twice: %+v", got)
	}
}
