package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wapool/wapool/fakewa"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// tenant is one of the soak's tenants, linked to its own account (phone).
type tenant struct{ id, account string }

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
	o       options
	tenants []tenant // set before the run, read only
	mu      sync.Mutex
	out     io.Writer
	fake    *fakeSite // the one fakewa of the run, set before the chaos starts
	// buildFlips counts flipBuild's switches (guarded by mu).
	buildFlips int
}

// buildFault reports the page build switches made, and a fault when there
// were none (the soak must meet both builds and a switch at a reload).
func (s *soak) buildFault() []string {
	s.mu.Lock()
	n := s.buildFlips
	s.mu.Unlock()
	s.printf("fakewa's page build switched %d times (at restarts)", n)
	if n == 0 {
		return []string{"fakewa's page build never switched: the soak met one build only"}
	}
	return nil
}

// flipBuild switches fakewa between its page builds (the older drawing and
// fact 20's), as WhatsApp's uneven rollout may at any reload: the pages
// loaded after it, by a restarted daemon or node, draw the other way. It is
// called at every restart of the chaos.
func (s *soak) flipBuild() {
	if s.fake == nil {
		return
	}
	var now string
	s.fake.SetOptions(func(o *fakewa.Options) {
		if o.Build == fakewa.Build2026 {
			o.Build = fakewa.BuildDefault
		} else {
			o.Build = fakewa.Build2026
		}
		now = o.Build
	})
	s.mu.Lock()
	s.buildFlips++
	s.mu.Unlock()
	s.printf("fakewa: pages loaded from now on draw the %s build", fakewa.BuildName(now))
}

func (s *soak) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := time.Since(s.o.startedAt).Seconds()
	fmt.Fprintf(s.out, "[%6.1fs] %s\n", el, fmt.Sprintf(format, args...))
}

// fakeSite is fakewa served on 127.0.0.1 at a free port, with the late
// editor of s.o.editorDelay (fact 17's worst case: every chat's editor goes
// live late). close stops it.
type fakeSite struct {
	*fakewa.Server
	url   string
	close func()
}

func startFake(editorDelay time.Duration) (*fakeSite, error) {
	fopts := fakewa.FastOptions()
	fopts.EditorDelay = editorDelay
	fake := fakewa.New(fopts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(served) }()
	return &fakeSite{
		Server: fake,
		url:    "http://" + lis.Addr().String(),
		close:  func() { fake.Close(); srv.Close(); <-served },
	}, nil
}

// results judges each tenant: its producer's accepted messages against
// fakewa's log of its account, with the final states GetMessage gave (final
// may lack messages when the run did not drain) and the daemon log's counts.
// producers[i] is the producer of s.tenants[i].
func (s *soak) results(fake *fakewa.Server, producers []*producer, final map[string]*wapoolv1.Message, lc logCounts) []tenantResult {
	var rows []tenantResult
	for i, tn := range s.tenants {
		var sent []sentMsg
		var arrived []arrival
		for _, m := range producers[i].done {
			s := sentMsg{text: m.text, file: m.file}
			if f := final[m.id]; f != nil && f.State == wapoolv1.MessageState_MESSAGE_STATE_SENT {
				s.waID = f.WaMessageId
			}
			sent = append(sent, s)
		}
		for _, m := range fake.Messages(tn.account) {
			a := arrival{id: m.ID, text: m.Text}
			if m.Media != nil {
				a.file = &soakFile{filename: m.Media.Filename, sha256: m.Media.SHA256, size: int(m.Media.Size), asDocument: m.Media.AsDocument}
			}
			arrived = append(arrived, a)
		}
		r := tenantResult{tenant: tn.id, account: tn.account, verdict: judge(sent, arrived)}
		for _, m := range producers[i].done {
			if f := final[m.id]; f != nil {
				switch {
				case f.State != wapoolv1.MessageState_MESSAGE_STATE_FAILED:
				case f.ErrorReason == "UNCONFIRMED":
					// Clicked, then restored from an older snapshot: never
					// clicked again. Not a fault by itself; fakewa's log
					// tells whether it went out (lost counts it if not).
					r.Unconfirmed++
				default:
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

// verdictFaults names what the judge's total found wrong; nil when nothing.
func verdictFaults(total verdict) []string {
	if total.ok() {
		return nil
	}
	return []string{fmt.Sprintf("duplicates %d, lost %d, out-of-order %d, unexpected %d, failed %d, misattributed %d (unconfirmed %d); files: %d of %d accepted arrived, %d arrivals with a wrong file",
		total.Duplicates, total.Lost, total.OutOfOrder, total.Unexpected, total.Failed, total.Misattributed, total.Unconfirmed,
		total.MediaDelivered, total.MediaAccepted, total.MediaWrong)}
}

// conclude prints the verdict: FAIL with every fault, or PASS with what
// passed; it says whether the soak passed.
func (s *soak) conclude(faults []string, pass string) bool {
	if len(faults) > 0 {
		s.printf("FAIL after %v:\n  - %s", time.Since(s.o.startedAt).Round(time.Second), strings.Join(faults, "\n  - "))
		return false
	}
	s.printf("PASS after %v: %s", time.Since(s.o.startedAt).Round(time.Second), pass)
	return true
}

// newProducers makes one producer per tenant, s.o.messages split evenly
// over them, each with its own random source from the seed; until, when
// set, keeps them sending until it is closed.
func (s *soak) newProducers(via endpoint, until <-chan struct{}) []*producer {
	producers := make([]*producer, len(s.tenants))
	for i, tn := range s.tenants {
		n := s.o.messages / len(s.tenants)
		if i < s.o.messages%len(s.tenants) {
			n++
		}
		producers[i] = &producer{tenant: tn.id, n: n, gap: s.o.gap, via: via, until: until, rng: rand.New(rand.NewPCG(s.o.seed, uint64(i+1)))}
	}
	return producers
}

// link links tenant to account through d: Link, the first QR code scanned
// through fakewa's control API, then the linked event.
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

// noteIncident records in incidents, and prints, a tenant entering a state
// that needs an operator (UNLINKED, FAILED): the soak cannot finish from
// there.
func (s *soak) noteIncident(incidents map[string]string, tenant string, ss *wapoolv1.Session) {
	switch ss.State {
	case wapoolv1.SessionState_SESSION_STATE_UNLINKED, wapoolv1.SessionState_SESSION_STATE_FAILED:
		what := fmt.Sprintf("%s (last error %q)", ss.State, ss.LastError)
		if incidents[tenant] != what {
			incidents[tenant] = what
			s.printf("WARNING: %s is %s", tenant, what)
		}
	}
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
