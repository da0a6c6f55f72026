package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// tenants are the soak's tenants, each linked to its own account.
var tenants = []struct{ id, account string }{
	{"t1", "15550001111"},
	{"t2", "15550003333"},
	{"t3", "15550005555"},
}

// recipients receive the messages in turn (both are on WhatsApp in
// fakewa): every send opens a chat, and so meets fakewa's late editor.
var recipients = [2]string{"15550002222", "15550002224"}

const (
	linkTimeout  = 90 * time.Second
	tokenTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second // SIGTERM to exit; wapoold's own bound is 20 s
	chromeGone   = 10 * time.Second // after the final SIGTERM
	// produceTimeout bounds the production and chaos phase (about a
	// minute with the defaults).
	produceTimeout = 3 * time.Minute
)

// soak is one run. Its fields are the main goroutine's, except out, which
// printf guards with mu (the chaos loop prints too).
type soak struct {
	o   options
	mu  sync.Mutex
	out io.Writer
}

func (s *soak) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := time.Since(s.o.startedAt).Seconds()
	fmt.Fprintf(s.out, "[%6.1fs] %s\n", el, fmt.Sprintf(format, args...))
}

// run runs every phase and says whether the soak passed. An error means the
// soak could not finish (the daemon would not start, messages did not drain
// in time, ...): that is a failure too, explained by the error.
func (s *soak) run(ctx context.Context, wapoold, chrome string) (passed bool, err error) {
	o := s.o
	fopts := fakewa.FastOptions()
	fopts.EditorDelay = o.editorDelay // the worst case of fact 17: every chat's editor goes live late
	fake := fakewa.New(fopts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(served) }()
	defer func() { fake.Close(); srv.Close(); <-served }()
	fakeURL := "http://" + lis.Addr().String()

	logFile, err := os.Create(filepath.Join(o.workDir, "wapoold.log"))
	if err != nil {
		return false, err
	}
	defer logFile.Close()
	dataDir := filepath.Join(o.workDir, "data")
	profiles := filepath.Join(dataDir, "profiles")
	d := &daemon{bin: wapoold, logFile: logFile, args: []string{
		"--data-dir", dataDir, "--target-url", fakeURL, "--chromium", chrome,
		"--send-interval", "0", "--send-jitter", "0", "--metrics-addr", "", "--log-format", "json", "--log-level", o.logLevel,
	}}
	if err := d.start(); err != nil {
		return false, err
	}
	// Whatever happens, no wapoold (and so no Chrome) outlives the soak.
	defer func() {
		if p := d.latest(); p != nil && p.Running() {
			_, _ = d.stop(stopTimeout)
		}
	}()
	s.printf("fakewa on %s, wapoold on %s", fakeURL, d.latest().Addr())

	for _, tn := range tenants {
		if err := link(ctx, d, fake, tn.id, tn.account); err != nil {
			return false, err
		}
		s.printf("linked %s to %s", tn.id, tn.account)
	}
	s.printf("linked: producing and killing at once (the login is in IndexedDB, fact 16)")

	producers, ch, prodErr := s.produceUnderChaos(ctx, d, profiles)
	var acceptedAll int
	for _, p := range producers {
		acceptedAll += len(p.done)
	}
	s.printf("%d messages accepted, %d kills made (%d browsers, %d daemons)", acceptedAll, ch.browserKills+ch.daemonKills, ch.browserKills, ch.daemonKills)
	var final map[string]*wapoolv1.Message
	var drainErr error
	if prodErr == nil {
		s.printf("draining")
		if final, drainErr = s.drain(ctx, d, producers); drainErr == nil {
			s.printf("every accepted message is SENT or FAILED")
		}
	}
	code, stopErr := d.stop(stopTimeout)
	left := wapooldtest.WaitNoBrowsers(profiles, chromeGone)
	if stopErr == nil {
		s.printf("wapoold stopped with SIGTERM: exit code %d", code)
	}

	// The judge: fakewa's log.
	lc, lerr := scanLog(logFile.Name())
	if lerr != nil {
		s.printf("reading the daemon log: %v", lerr)
	}
	rows := results(fake, producers, final, lc)
	fmt.Fprintln(s.out)
	total := printSummary(s.out, rows)
	fmt.Fprintln(s.out)
	s.report(producers, ch, lc)

	var faults []string
	if !total.ok() {
		faults = append(faults, fmt.Sprintf("duplicates %d, lost %d, out-of-order %d, unexpected %d, failed %d",
			total.Duplicates, total.Lost, total.OutOfOrder, total.Unexpected, total.Failed))
	}
	if ch.browserKills < minKillsPerKind || ch.daemonKills < minKillsPerKind || ch.browserKills+ch.daemonKills < o.kills {
		faults = append(faults, fmt.Sprintf("only %d browser and %d daemon kills", ch.browserKills, ch.daemonKills))
	}
	faults = append(faults, ch.orphans...)
	for tn, what := range ch.incidents {
		faults = append(faults, fmt.Sprintf("%s was %s during the soak", tn, what))
	}
	for _, err := range []error{prodErr, drainErr} {
		if err != nil {
			faults = append(faults, err.Error())
		}
	}
	if stopErr != nil {
		faults = append(faults, stopErr.Error())
	} else if code != 0 {
		faults = append(faults, fmt.Sprintf("wapoold exited %d after SIGTERM", code))
	}
	if len(left) > 0 {
		faults = append(faults, fmt.Sprintf("Chrome still runs on the soak's profiles %v after the daemon stopped: pids %v", chromeGone, left))
	} else {
		s.printf("no Chrome runs on the soak's profiles")
	}
	slices.Sort(faults)
	if len(faults) > 0 {
		s.printf("FAIL after %v:\n  - %s", time.Since(o.startedAt).Round(time.Second), strings.Join(faults, "\n  - "))
		return false, nil
	}
	s.printf("PASS after %v: every accepted message arrived exactly once, in order", time.Since(o.startedAt).Round(time.Second))
	return true, nil
}

// results judges each tenant: its producer's accepted messages against
// fakewa's log of its account, with the final states GetMessage gave (final
// may lack messages when the run did not drain) and the daemon log's counts.
func results(fake *fakewa.Server, producers []*producer, final map[string]*wapoolv1.Message, lc logCounts) []tenantResult {
	var rows []tenantResult
	for i, tn := range tenants {
		var sent []sentMsg
		var arrived []arrival
		for _, m := range producers[i].done {
			s := sentMsg{text: m.text}
			if f := final[m.id]; f != nil && f.State == wapoolv1.MessageState_MESSAGE_STATE_SENT {
				s.waID = f.WaMessageId
			}
			sent = append(sent, s)
		}
		for _, m := range fake.Messages(tn.account) {
			arrived = append(arrived, arrival{id: m.ID, text: m.Text})
		}
		r := tenantResult{tenant: tn.id, account: tn.account, verdict: judge(sent, arrived)}
		for _, m := range producers[i].done {
			if f := final[m.id]; f != nil {
				if f.State == wapoolv1.MessageState_MESSAGE_STATE_FAILED {
					r.Failed++
				}
				if f.Attempts > 1 {
					r.resent++
				}
			}
			if lc.bubbleFound[m.id] {
				r.bubbleFound++
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// produceUnderChaos runs the producers and the chaos loop together and
// returns once all of them have ended. A producer or the chaos loop that
// fails ends the others.
func (s *soak) produceUnderChaos(ctx context.Context, d *daemon, profiles string) ([]*producer, *chaos, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, cancelT := context.WithTimeoutCause(ctx, produceTimeout, fmt.Errorf("producing and killing took longer than %v", produceTimeout))
	defer cancelT()
	var wg sync.WaitGroup
	producers := make([]*producer, len(tenants))
	for i, tn := range tenants {
		n := s.o.messages / len(tenants)
		if i < s.o.messages%len(tenants) {
			n++
		}
		p := &producer{tenant: tn.id, n: n, gap: s.o.gap, d: d, rng: rand.New(rand.NewPCG(s.o.seed, uint64(i+1)))}
		producers[i] = p
		wg.Go(func() {
			if err := p.run(ctx); err != nil {
				cancel(err)
			}
		})
	}
	ch := &chaos{s: s, d: d, profiles: profiles, kills: s.o.kills, rng: rand.New(rand.NewPCG(s.o.seed, 0))}
	wg.Go(func() {
		if err := ch.run(ctx); err != nil {
			cancel(err)
		}
	})
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return producers, ch, err
	}
	return producers, ch, nil
}

// link links tenant to account: Link, the first QR code scanned through
// fakewa's control API, then the linked event.
func link(ctx context.Context, d *daemon, fake *fakewa.Server, tenant, account string) error {
	ctx, cancel := context.WithTimeout(ctx, linkTimeout)
	defer cancel()
	p := d.latest()
	if p == nil {
		return fmt.Errorf("link %s: no wapoold runs", tenant)
	}
	events, err := p.Link(ctx, tenant, func(code string) error { return fake.Scan(code, account) })
	if err != nil {
		return err
	}
	if l := events[len(events)-1].GetLinked(); l.Phone != account {
		return fmt.Errorf("link %s: linked to %q, want %q", tenant, l.Phone, account)
	}
	return nil
}

// errTimeout is waitCond's error when the condition did not hold in time.
var errTimeout = errors.New("timed out")

// waitCond polls cond every 100 ms until it holds, timeout passes or ctx ends.
func waitCond(ctx context.Context, timeout time.Duration, cond func() bool) error {
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			return fmt.Errorf("%w after %v", errTimeout, timeout)
		}
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}
