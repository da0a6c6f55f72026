package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/waweb"
)

// The phones that scan, and the send tenant.
const (
	accountOld    = "15551000001"
	accountWapool = "15551000002"
	accountFloor  = "15551000003"
	tenantSend    = "bench"
)

// lateEditor is fakewa's EditorDelay in BenchmarkSendLate: each chat's
// editor goes live after a random delay in [lateEditor/4, lateEditor]
// (fact 17).
const lateEditor = 1200 * time.Millisecond

// BenchmarkSend measures one message through wapool against its floor and
// against the old design, on fakewa's default timings (boot 1.5 s, ack
// 400 ms, chat lookup 300 ms), -sends messages per route after one
// unmeasured warm-up:
//
//	new-recipient  wapool Send over gRPC on a warm tenant to a new recipient
//	               each time (the chat opened inside the app), alternating
//	               with its floor: the same page steps by a bare chromedp
//	               program on one open, linked browser, no daemon (append an
//	               anchor to the chat, click it, wait for its compose box,
//	               insertText, click send, wait for msg-check)
//	open-chat      the same to one recipient whose chat stays open, and its
//	               floor (insertText, click, msg-check)
//	old            the old design per message: start Chrome on a linked
//	               profile, load the app, load the deep link
//	               /send?phone=…&text=… (a second page load that fills the
//	               box), click send, wait for msg-check, stop Chrome
//
// Metrics (ms, p50 and p95 over the samples): wapool-p50-ms, wapool-p95-ms;
// wapool-attempt-p50-ms, the daemon's own time of the attempt (the growth
// of its wapool_send_duration_seconds histogram across each call) and
// wapool-rest-p50-ms, the call minus that (outbox write, queue, gRPC);
// floor-p50-ms, floor-p95-ms and floor-open/input/ack-p50-ms;
// minus-floor-p50-ms, minus-floor-p95-ms, ratio-vs-floor (at p50),
// ratio-vs-floor-p95; page-loads, attempts that took at least fakewa's boot
// (a page load would); old-p50-ms, old-p95-ms, its phases
// old-start/boot/open/ack/close-p50-ms, and ratio-vs-new-recipient,
// ratio-vs-open-chat (at p50; -p95 likewise). *-failed counts samples that
// failed or that fakewa did not record, acknowledged, with their text.
func BenchmarkSend(b *testing.B) { benchSend(b, 0) }

// BenchmarkSendLate is BenchmarkSend's new-recipient and open-chat with a
// late editor (fakewa EditorDelay 1.2 s, fact 17): text typed before the
// editor takes the box vanishes. Its floor types once, the moment fakewa's
// test hook says the editor is live, which no driver of the real page can
// know: a lower bound.
func BenchmarkSendLate(b *testing.B) { benchSend(b, lateEditor) }

func benchSend(b *testing.B, editorDelay time.Duration) {
	e := setup(b, fakewa.Options{EditorDelay: editorDelay})
	d := e.start(b, filepath.Join(e.root, "send"))
	progress("linking tenant %q and the floor's bare browser", tenantSend)
	e.link(b, d, tenantSend, accountWapool)
	floor := e.bare(b, "floor", accountFloor)
	var viaNew, viaOpen *route
	b.Run("new-recipient", func(b *testing.B) { viaNew = sendBesideFloor(b, e, d, floor, 1, true, text) })
	b.Run("open-chat", func(b *testing.B) { viaOpen = sendBesideFloor(b, e, d, floor, 2, false, text) })
	if editorDelay == 0 {
		b.Run("old", func(b *testing.B) { benchOld(b, e, viaNew, viaOpen) })
	}
}

// BenchmarkSendDrawn is BenchmarkSend's new-recipient and open-chat with a
// formatted text (markers, an emoji and a link, which the page draws as
// elements: fact 18), on each page build: "older" (true_<jid>_ ids,
// data-icon ticks) and "2026" (fact 20: bare ids, svg icons, state labels).
// Each build has its own fakewa, daemon and floor; the floor sends the same
// formatted texts.
func BenchmarkSendDrawn(b *testing.B) {
	for _, build := range fakewa.Builds {
		name := fakewa.BuildName(build)
		b.Run(name, func(b *testing.B) {
			e := setup(b, fakewa.Options{Build: build})
			d := e.start(b, filepath.Join(e.root, "send"))
			progress("%s: linking tenant %q and the floor's bare browser", name, tenantSend)
			e.link(b, d, tenantSend, accountWapool)
			floor := e.bare(b, "floor", accountFloor)
			b.Run("new-recipient", func(b *testing.B) { sendBesideFloor(b, e, d, floor, 1, true, formattedText) })
			b.Run("open-chat", func(b *testing.B) { sendBesideFloor(b, e, d, floor, 2, false, formattedText) })
		})
	}
}

// sendBesideFloor sends through wapool and through the floor in turn, so
// that both meet the same moments of a noisy machine, and reports both and
// how they compare. It returns wapool's route.
func sendBesideFloor(b *testing.B, e *env, d *daemon, floor *bareBrowser, block int, newRecipient bool, text func(string, int) string) *route {
	once(b)
	progress("%s: %d messages through wapool and its floor in turn", b.Name(), *sendsFlag)
	w, f := &route{}, &route{}
	boot := fakewa.DefaultOptions().BootDelay
	pageLoads := 0
	for i := 0; i <= *sendsFlag; i++ {
		to, fto := recipient(block, 0), recipient(block+4, 0)
		if newRecipient {
			to, fto = recipient(block, i), recipient(block+4, i)
		}
		msg := text(fmt.Sprintf("w%d", block), i)
		total, attempt, err := d.send(tenantSend, "+"+to, msg)
		if err == nil && !e.arrived(accountWapool, to, msg) {
			err = errNotArrived
		}
		w.record(b, "wapool", i, err, total, map[string]time.Duration{"attempt": attempt, "rest": total - attempt})
		if err == nil && i > 0 && attempt >= boot {
			pageLoads++
		}

		msg = text(fmt.Sprintf("d%d", block), i)
		t0 := time.Now()
		ph, err := floor.floorSend(e.url, fto, msg, newRecipient || i == 0) // open-chat opens its chat with the warm-up
		total = time.Since(t0)
		if err == nil && !e.arrived(accountFloor, fto, msg) {
			err = errNotArrived
		}
		f.record(b, "floor", i, err, total, ph)
	}
	w.report(b, "wapool")
	f.report(b, "floor")
	b.ReportMetric(ms(w.total.p50()-f.total.p50()), "minus-floor-p50-ms")
	b.ReportMetric(ms(w.total.p95()-f.total.p95()), "minus-floor-p95-ms")
	b.ReportMetric(ratio(w.total.p50(), f.total.p50()), "ratio-vs-floor")
	b.ReportMetric(ratio(w.total.p95(), f.total.p95()), "ratio-vs-floor-p95")
	b.ReportMetric(float64(pageLoads), "page-loads")
	return w
}

// benchOld measures the old design and compares it with wapool's routes
// of the same run.
func benchOld(b *testing.B, e *env, viaNew, viaOpen *route) {
	once(b)
	cfg := browserpool.Config{ExecPath: e.chromium}
	spec := browserpool.Spec{ProfileDir: filepath.Join(e.root, "old")}
	progress("old: linking the profile, then %d messages, Chrome started and stopped for each", *sendsFlag)
	if err := withBrowser(cfg, spec, func(br *browserpool.Browser) error {
		tab, cancel := context.WithTimeout(br.Ctx(), 90*time.Second)
		defer cancel()
		return linkPage(tab, e, accountOld)
	}); err != nil {
		b.Fatalf("old: link: %v", err)
	}
	r := &route{}
	for i := 0; i <= *sendsFlag; i++ {
		to, msg := recipient(3, i), text("a", i)
		ph := map[string]time.Duration{}
		t0 := time.Now()
		err := oldSend(e, cfg, spec, to, msg, ph)
		total := time.Since(t0)
		if err == nil && !e.arrived(accountOld, to, msg) {
			err = errNotArrived
		}
		r.record(b, "old", i, err, total, ph)
	}
	r.report(b, "old")
	for name, w := range map[string]*route{"new-recipient": viaNew, "open-chat": viaOpen} {
		if w != nil {
			b.ReportMetric(ratio(r.total.p50(), w.total.p50()), "ratio-vs-"+name)
			b.ReportMetric(ratio(r.total.p95(), w.total.p95()), "ratio-vs-"+name+"-p95")
		}
	}
}

// oldSend is one message of the old design; ph receives its phases: start,
// boot, open (the deep link, which fills the box), ack, close.
func oldSend(e *env, cfg browserpool.Config, spec browserpool.Spec, to, text string, ph map[string]time.Duration) error {
	t := time.Now()
	lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	br, err := browserpool.Launch(lctx, cfg, spec)
	cancel()
	if err != nil {
		return err
	}
	ph["start"] = time.Since(t)
	err = func() error {
		tab, cancel := context.WithTimeout(br.Ctx(), 60*time.Second)
		defer cancel()
		t = time.Now()
		p := waweb.New(br.Ctx(), e.url, waweb.DefaultSelectors())
		if err := p.Open(tab); err != nil {
			return err
		}
		st, err := p.WaitBooted(tab)
		if err != nil {
			return err
		}
		if st != waweb.StateMain {
			return fmt.Errorf("the app shows %s, not the main screen: the profile lost its login", st)
		}
		ph["boot"] = time.Since(t)
		t = time.Now()
		if err := openByDeepLink(tab, e.url, to, text); err != nil {
			return err
		}
		ph["open"] = time.Since(t)
		t = time.Now()
		if _, err := clickAndAck(tab, 30*time.Second); err != nil {
			return err
		}
		ph["ack"] = time.Since(t)
		return nil
	}()
	t = time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	stopErr := br.Stop(sctx)
	cancel()
	ph["close"] = time.Since(t)
	if err != nil {
		return err
	}
	return stopErr
}

// withBrowser launches a browserpool browser, runs f and stops it.
func withBrowser(cfg browserpool.Config, spec browserpool.Spec, f func(*browserpool.Browser) error) error {
	lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	br, err := browserpool.Launch(lctx, cfg, spec)
	cancel()
	if err != nil {
		return err
	}
	err = f(br)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if stopErr := br.Stop(sctx); err == nil {
		err = stopErr
	}
	return err
}
