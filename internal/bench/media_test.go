package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/media"
	"github.com/wapool/wapool/internal/procmem"
	"github.com/wapool/wapool/internal/wait"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Files (fact 19) through wapool and through a bare browser, beside a text.

// The files of BenchmarkMediaSend.
const (
	pictureBytes = 100 << 10 // a JPEG of 100 KiB: sniffed image/jpeg, sent as a picture
	pdfBytes     = 2 << 20   // a PDF of 2 MiB: sent as a document
)

// accountMediaFloor is the phone of BenchmarkMediaSend's bare browser.
const accountMediaFloor = "15551000005"

// mediaKind is one kind of message of BenchmarkMediaSend: a text, or a
// file with a caption of the text's length.
type mediaKind struct {
	name     string // metric prefix
	size     int    // 0: a text
	make     func(seed uint64, size int) []byte
	mimeType string
	ext      string
	document bool // the bare browser sets it on the documents input
}

var mediaKinds = []mediaKind{
	{name: "text"},
	{name: "picture", size: pictureBytes, make: jpegFile, mimeType: "image/jpeg", ext: "jpg"},
	{name: "pdf", size: pdfBytes, make: pdfFile, mimeType: "application/pdf", ext: "pdf", document: true},
}

// BenchmarkMediaSend measures a file sent through wapool beside a text
// sent through wapool the same way (its floor), and beside the same page
// steps done by a bare chromedp program (the page's own time for the
// file), on fakewa's default timings (boot 1.5 s, ack 400 ms, chat lookup
// 300 ms, upload 50 ms per MiB), -sends rounds after one unmeasured one:
//
//	new-recipient  every message to a new recipient (the chat opened
//	               inside the app)
//	open-chat      every message of a route to one recipient whose chat
//	               stays open
//
// A round sends, in turn, through wapool (one warm tenant, Send over gRPC,
// waiting for SENT): a text of about 70 characters, a JPEG of 100 KiB and
// a PDF of 2 MiB, each file with a caption of the text's length; then the
// same three through the bare browser (linked on the same fakewa: open the
// chat, attach button, the menu's input set by DOM.setFileInputFiles, the
// caption typed with insertText, the preview's send button, msg-check).
// Every file is new (other bytes each time): the daemon stores each.
//
// Metrics, for each of text, picture and pdf (ms, p50 and p95):
// <kind>-p50-ms, <kind>-p95-ms, <kind>-attempt-p50-ms and <kind>-rest-p50-ms
// (as BenchmarkSend's), floor-<kind>-p50-ms, floor-<kind>-p95-ms and its
// phases floor-<kind>-open/attach/input/ack-p50-ms; for picture and pdf,
// ratio-<kind>-vs-text and ratio-<kind>-vs-text-p95 (the file's Send ÷
// the text's Send, the floor the issue names), <kind>-minus-floor-p50-ms and
// <kind>-minus-floor-p95-ms (wapool − the bare browser, the same kind of file);
// upload-ms-per-MiB, fakewa's knob. *-failed counts samples that failed or
// that fakewa did not record, acknowledged, with their caption and bytes.
func BenchmarkMediaSend(b *testing.B) {
	e := setup(b, fakewa.Options{})
	d := e.start(b, filepath.Join(e.root, "media"))
	progress("linking tenant %q and the floor's bare browser", tenantSend)
	e.link(b, d, tenantSend, accountWapool)
	floor := e.bare(b, "floor", accountMediaFloor)
	files := b.TempDir() // the bare browser's files
	b.Run("new-recipient", func(b *testing.B) { mediaBesideFloor(b, e, d, floor, files, 20, true) })
	b.Run("open-chat", func(b *testing.B) { mediaBesideFloor(b, e, d, floor, files, 30, false) })
}

// mediaBesideFloor runs one route of BenchmarkMediaSend. Recipients come
// from blocks block… (one per kind and sender).
func mediaBesideFloor(b *testing.B, e *env, d *daemon, floor *bareBrowser, files string, block int, newRecipient bool) {
	once(b)
	progress("%s: %d rounds of a text, a %d KiB picture and a %d MiB PDF, through wapool and through the bare browser",
		b.Name(), *sendsFlag, pictureBytes>>10, pdfBytes>>20)
	w, f := map[string]*route{}, map[string]*route{}
	for _, k := range mediaKinds {
		w[k.name], f[k.name] = &route{}, &route{}
	}
	// to is the recipient of a round's message of kind j from the block
	// base: one per message, or one per sender whose chat stays open.
	to := func(base, j, i int) string {
		if !newRecipient {
			return recipient(base, 0)
		}
		return recipient(base+j, i)
	}
	for i := 0; i <= *sendsFlag; i++ {
		for j, k := range mediaKinds {
			to := to(block, j, i)
			caption := text(fmt.Sprintf("w%d%s", block, k.name), i)
			req := &wapoolv1.SendRequest{TenantId: tenantSend, To: "+" + to, Text: caption}
			var sha string
			if k.size > 0 {
				data := k.make(uint64(block*1000+2*i), k.size)
				sha = sha256Hex(data)
				req.Media = &wapoolv1.Media{Filename: fmt.Sprintf("%s-%d.%s", k.name, i, k.ext), MimeType: k.mimeType, Data: data}
			}
			total, attempt, err := d.sendRequest(req)
			if err == nil && !e.arrivedWith(accountWapool, to, caption, sha) {
				err = errNotArrived
			}
			w[k.name].record(b, k.name, i, err, total, map[string]time.Duration{"attempt": attempt, "rest": total - attempt})
		}
		for j, k := range mediaKinds {
			to := to(block+len(mediaKinds), j, i)
			caption := text(fmt.Sprintf("d%d%s", block, k.name), i)
			open := newRecipient || i == 0 && j == 0 // open-chat opens its chat with the warm-up's first message
			var sha, path string
			if k.size > 0 {
				data := k.make(uint64(block*1000+2*i+1), k.size)
				sha = sha256Hex(data)
				path = filepath.Join(files, fmt.Sprintf("%s-%d-%d.%s", k.name, block, i, k.ext))
				if err := os.WriteFile(path, data, 0o600); err != nil {
					b.Fatal(err)
				}
			}
			t0 := time.Now()
			var ph map[string]time.Duration
			var err error
			if k.size == 0 {
				ph, err = floor.floorSend(e.url, to, caption, open)
			} else {
				ph, err = floor.floorSendFile(e.url, to, caption, path, k.document, open)
			}
			total := time.Since(t0)
			if err == nil && !e.arrivedWith(accountMediaFloor, to, caption, sha) {
				err = errNotArrived
			}
			f[k.name].record(b, "floor "+k.name, i, err, total, ph)
			if path != "" {
				_ = os.Remove(path)
			}
		}
	}
	for _, k := range mediaKinds {
		w[k.name].report(b, k.name)
		f[k.name].report(b, "floor-"+k.name)
		if k.size == 0 {
			continue
		}
		text := w["text"]
		b.ReportMetric(ratio(w[k.name].total.p50(), text.total.p50()), "ratio-"+k.name+"-vs-text")
		b.ReportMetric(ratio(w[k.name].total.p95(), text.total.p95()), "ratio-"+k.name+"-vs-text-p95")
		b.ReportMetric(ms(w[k.name].total.p50()-f[k.name].total.p50()), k.name+"-minus-floor-p50-ms")
		b.ReportMetric(ms(w[k.name].total.p95()-f[k.name].total.p95()), k.name+"-minus-floor-p95-ms")
	}
	b.ReportMetric(ms(e.fake.Options().UploadPerMiB), "upload-ms-per-MiB")
}

// arrivedWith reports whether account sent text to the number to, with
// the file of SHA-256 sha ("": none), and fakewa's server acknowledged it.
func (e *env) arrivedWith(account, to, text, sha string) bool {
	return slices.ContainsFunc(e.fake.Messages(account), func(m fakewa.Message) bool {
		if strings.TrimPrefix(m.To, "+") != to || m.Text != text || m.Ack < 1 {
			return false
		}
		if sha == "" {
			return m.Media == nil
		}
		return m.Media != nil && m.Media.SHA256 == sha
	})
}

func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// jpegFile is a JPEG of exactly size bytes: a picture of noise from seed,
// as large as fits, padded with comment segments after its start marker.
func jpegFile(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 19))
	encode := func(side int) []byte {
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 0xff
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
			panic(err) // an in-memory RGBA always encodes
		}
		return buf.Bytes()
	}
	// Noise compresses alike everywhere: guess the side from a small one,
	// then shrink until it fits.
	perPixel := float64(len(encode(64))) / (64 * 64)
	side := int(math.Sqrt(float64(size)/perPixel)) &^ 7
	best := encode(side)
	for ; len(best)+4 > size; best = encode(side) {
		side -= 8
	}
	out := make([]byte, 0, size)
	out = append(out, best[:2]...) // SOI
	for pad := size - len(best); pad > 0; {
		seg := min(pad, 2+0xffff)
		if rest := pad - seg; rest > 0 && rest < 4 {
			seg -= 4 - rest
		}
		n := seg - 2 // the length field counts itself
		out = append(out, 0xff, 0xfe, byte(n>>8), byte(n))
		for range n - 2 {
			out = append(out, ' ')
		}
		pad -= seg
	}
	return append(out, best[2:]...)
}

// pdfFile is a PDF of exactly size bytes: one stream object of random
// bytes from seed.
func pdfFile(seed uint64, size int) []byte {
	const tail = "\nendstream\nendobj\ntrailer\n<< >>\n%%EOF\n"
	head := fmt.Sprintf("%%PDF-1.4\n1 0 obj\n<< /Length %010d >>\nstream\n", 0)
	n := size - len(head) - len(tail)
	head = fmt.Sprintf("%%PDF-1.4\n1 0 obj\n<< /Length %010d >>\nstream\n", n)
	out := make([]byte, 0, size)
	out = append(out, head...)
	body := make([]byte, n)
	rand.NewChaCha8(seedKey(seed)).Read(body)
	out = append(out, body...)
	return append(out, tail...)
}

func seedKey(seed uint64) [32]byte {
	var k [32]byte
	for i := range 8 {
		k[i] = byte(seed >> (8 * i))
	}
	return k
}

// TestMediaFiles checks the files of BenchmarkMediaSend: their sizes, the
// type the daemon sniffs, a JPEG that decodes, and other bytes per seed.
func TestMediaFiles(t *testing.T) {
	for _, k := range mediaKinds[1:] {
		a, b := k.make(1, k.size), k.make(2, k.size)
		if len(a) != k.size || len(b) != k.size {
			t.Fatalf("%s: %d and %d bytes, want %d", k.name, len(a), len(b), k.size)
		}
		if got := media.Sniff(a); got != k.mimeType {
			t.Errorf("%s sniffed as %s, want %s", k.name, got, k.mimeType)
		}
		if bytes.Equal(a, b) {
			t.Errorf("%s: two seeds gave the same bytes", k.name)
		}
	}
	if _, err := jpeg.Decode(bytes.NewReader(jpegFile(3, pictureBytes))); err != nil {
		t.Errorf("the picture does not decode: %v", err)
	}
}

// fileMiB is the size of each file of BenchmarkMediaMemory, in MiB: the
// daemon's default --max-media-bytes.
const fileMiB = 16

// BenchmarkMediaMemory measures what files cost the daemon's memory: -tenants
// linked tenants on one wapoold, each on its own gRPC connection (as each
// tenant's service would call), send a 16 MiB PDF (other bytes each)
//
//	one         from one tenant, alone, through Send (the file in the request)
//	all         from every tenant at once (the calls start together), Send
//	stream-one  as one, through SendFile (chunks of 256 KiB)
//	stream-all  as all, through SendFile
//
// -rounds times each, every round on a fresh wapoold (started on the same
// data dir, its tenants READY again), so that no round finds memory an
// earlier one left. A round first sends a 4 KiB file from each sender
// (unmeasured: the code of the file path is paged in), rests 5 s, reads
// the daemon's VmRSS (its idle RSS), resets its peak (clear_refs 5), sends
// the files and waits for every one to be SENT, then reads VmHWM.
//
// Metrics (MiB are 2^20 bytes), per step: files (per round), rounds, file-MiB,
// idle-RSS-MiB (median over the rounds), peak-growth-MiB (VmHWM − idle RSS;
// the median, -first and -max over the rounds), copies-per-file
// (peak-growth-max-MiB ÷ files × file-MiB; the goal is at most 1),
// send-p50-ms and send-p95-ms (each call, waiting for SENT), failed.
func BenchmarkMediaMemory(b *testing.B) {
	e := setup(b, fakewa.Options{})
	dataDir := filepath.Join(e.root, "files")
	d := e.start(b, dataDir)
	tenants := e.linkFleet(b, d, *tenantsFlag)
	if _, err := d.stop(); err != nil {
		b.Fatal(err)
	}
	b.Run("one", func(b *testing.B) { mediaMemory(b, e, dataDir, tenants, tenants[:1], false) })
	b.Run("all", func(b *testing.B) { mediaMemory(b, e, dataDir, tenants, tenants, false) })
	b.Run("stream-one", func(b *testing.B) { mediaMemory(b, e, dataDir, tenants, tenants[:1], true) })
	b.Run("stream-all", func(b *testing.B) { mediaMemory(b, e, dataDir, tenants, tenants, true) })
}

// mediaMemory runs one step of BenchmarkMediaMemory: the files through
// Send (one request each), or streamed through SendFile in chunks of
// streamChunk bytes.
func mediaMemory(b *testing.B, e *env, dataDir string, tenants, senders []string, streamed bool) {
	once(b)
	const size = fileMiB << 20
	progress("%s: %d rounds of %d × %d MiB at once, each on a fresh wapoold", b.Name(), *roundsFlag, len(senders), fileMiB)
	sends := &route{}
	var idle, growth []float64
	for r := range *roundsFlag {
		d := e.start(b, dataDir)
		if err := wait.Until(3*time.Minute, 50*time.Millisecond, func() bool {
			st, err := d.sessions()
			return err == nil && !slices.ContainsFunc(tenants, func(t string) bool { return st[t].GetState() != ready })
		}); err != nil {
			b.Fatalf("round %d: tenants READY: %v", r, err)
		}
		clients := make([]wapoolv1.SessionServiceClient, len(senders))
		var conns []*grpc.ClientConn
		for i := range senders {
			conn, err := grpc.NewClient(d.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = conn.Close() }) // a second Close is harmless
			conns, clients[i] = append(conns, conn), wapoolv1.NewSessionServiceClient(conn)
		}
		sendAll := func(tag string, size int) ([]time.Duration, []error) {
			reqs := make([]*wapoolv1.SendRequest, len(senders))
			for i, t := range senders {
				data := pdfFile(uint64(1e6*r+1e3*len(senders)+i)+uint64(size), size)
				reqs[i] = &wapoolv1.SendRequest{TenantId: t, To: "+" + recipient(40+r, i), Text: text(tag, i),
					Media: &wapoolv1.Media{Filename: fmt.Sprintf("%s-%d.pdf", tag, i), MimeType: "application/pdf", Data: data}}
			}
			return sendAtOnce(clients, reqs, streamed)
		}
		if _, errs := sendAll(fmt.Sprintf("warm%d-%d", len(senders), r), 4<<10); errors.Join(errs...) != nil {
			b.Fatalf("round %d: warm-up: %v", r, errors.Join(errs...))
		}
		time.Sleep(5 * time.Second)
		pid := d.PID()
		base, err := procStatus(pid, "VmRSS")
		if err == nil {
			err = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
		}
		if err != nil {
			b.Fatalf("round %d: reset the daemon's peak RSS: %v", r, err)
		}
		tag := fmt.Sprintf("mem%d-%d", len(senders), r)
		took, errs := sendAll(tag, size)
		peak, err := procStatus(pid, "VmHWM")
		if err != nil {
			b.Fatal(err)
		}
		for i, err := range errs {
			sends.record(b, "send", 1, err, took[i], nil) // 1: every call is measured
		}
		peak = max(peak, base)
		idle, growth = append(idle, mib(base)), append(growth, mib(peak-base))
		progress("%s: round %d: idle RSS %.1f MiB, peak +%.1f MiB", b.Name(), r, mib(base), mib(peak-base))
		for _, c := range conns {
			_ = c.Close()
		}
		if _, err := d.stop(); err != nil {
			b.Fatal(err)
		}
	}
	sends.report(b, "send")
	b.ReportMetric(float64(len(senders)), "files")
	b.ReportMetric(float64(*roundsFlag), "rounds")
	b.ReportMetric(fileMiB, "file-MiB")
	b.ReportMetric(median(idle), "idle-RSS-MiB")
	b.ReportMetric(median(growth), "peak-growth-MiB")
	b.ReportMetric(growth[0], "peak-growth-first-MiB")
	b.ReportMetric(slices.Max(growth), "peak-growth-max-MiB")
	b.ReportMetric(slices.Max(growth)/float64(len(senders)*fileMiB), "copies-per-file")
}

// streamChunk is the chunk size of SendFile in BenchmarkMediaMemory: that
// of wapoolctl send --file.
const streamChunk = 256 << 10

// sendAtOnce makes every call, client i sending reqs[i], all started at
// the same moment, and waits for them all (SENT, or the error). With
// stream, each goes through SendFile: its header (its media without the
// bytes), then its bytes in chunks of streamChunk; else through Send.
func sendAtOnce(clients []wapoolv1.SessionServiceClient, reqs []*wapoolv1.SendRequest, stream bool) ([]time.Duration, []error) {
	took, errs := make([]time.Duration, len(reqs)), make([]error, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			send := func() (*wapoolv1.Message, error) {
				r, err := clients[i].Send(ctx, req)
				return r.GetMessage(), err
			}
			if stream {
				data := req.GetMedia().GetData()
				head := proto.Clone(req).(*wapoolv1.SendRequest)
				head.Media.Data = nil
				send = func() (*wapoolv1.Message, error) {
					return wapooldtest.SendFile(ctx, clients[i], head, data, streamChunk)
				}
			}
			<-start
			t0 := time.Now()
			m, err := send()
			took[i] = time.Since(t0)
			if err == nil && m.GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT {
				err = fmt.Errorf("message %s is %v: %s", m.GetId(), m.GetState(), m.GetError())
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	return took, errs
}

// procStatus reads a field of /proc/<pid>/status, in bytes for a size.
func procStatus(pid int, field string) (uint64, error) {
	st, err := procmem.Status(pid)
	if err != nil {
		return 0, err
	}
	v, ok := st[field]
	if !ok {
		return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
	}
	return v, nil
}
