package main

// The soak's files (issue 25): a share of each producer's messages carries
// a small file, a PNG picture or a PDF document in turn, its bytes drawn
// from the seed so that no two messages share one. The judge finds each in
// fakewa's log by its caption, name, SHA-256 and kind (picture or
// document), exactly once.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	// mediaEvery: every mediaEvery-th message of a producer carries a file
	// (its index i with i%mediaEvery == mediaEvery-1).
	mediaEvery = 5
	// The size of a file is drawn in [minMediaBytes, maxMediaBytes].
	minMediaBytes = 4 << 10
	maxMediaBytes = 200 << 10
)

// soakFile is an accepted message's file as the judge needs it: never its
// bytes, which only the Send request holds.
type soakFile struct {
	filename   string
	sha256     string // lower-case hex, as fakewa records it
	size       int
	asDocument bool // how it must arrive: a PDF as a document, a PNG as a picture
}

// makeMedia draws the file of a tenant's i-th message: a PNG picture for
// the odd files (by i/mediaEvery), a PDF document for the even ones, of a
// random size, with bytes of its own.
func makeMedia(rng *rand.Rand, tenant string, i int) (*wapoolv1.Media, soakFile, error) {
	size := minMediaBytes + rng.IntN(maxMediaBytes-minMediaBytes+1)
	var data []byte
	var m *wapoolv1.Media
	if (i/mediaEvery)%2 == 1 {
		var err error
		if data, err = noisePNG(rng, size); err != nil {
			return nil, soakFile{}, err
		}
		m = &wapoolv1.Media{Filename: fmt.Sprintf("photo-%s-%04d.png", tenant, i), MimeType: "image/png", Data: data}
	} else {
		data = pdfLike(rng, size)
		m = &wapoolv1.Media{Filename: fmt.Sprintf("invoice-%s-%04d.pdf", tenant, i), MimeType: "application/pdf", Data: data}
	}
	sum := sha256.Sum256(data)
	return m, soakFile{filename: m.Filename, sha256: hex.EncodeToString(sum[:]), size: len(data), asDocument: m.MimeType != "image/png"}, nil
}

// noisePNG encodes a picture of random pixels of about size bytes (noise
// does not compress): 64 pixels wide, as tall as the size asks.
func noisePNG(rng *rand.Rand, size int) ([]byte, error) {
	const w = 64
	h := max(1, size/(4*w))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// pdfLike returns size bytes that any sniffer calls a PDF: the header, a
// stream of random bytes, and the end-of-file marker.
func pdfLike(rng *rand.Rand, size int) []byte {
	head := []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 0 >>\nstream\n")
	tail := []byte("\nendstream\nendobj\n%%EOF\n")
	body := make([]byte, max(0, size-len(head)-len(tail)))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	return append(append(head, body...), tail...)
}

// judgeKey is what the judge compares an accepted message and an arrival
// by: the text alone, or for a message with a file its caption, the file's
// name, hash and kind (so a wrong file counts as lost and unexpected).
func judgeKey(text string, f *soakFile) string {
	if f == nil {
		return text
	}
	kind := "picture"
	if f.asDocument {
		kind = "document"
	}
	return text + "\x00" + f.filename + "\x00" + f.sha256 + "\x00" + kind
}
