package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// singleTenants are the single-node soak's tenants.
var singleTenants = []tenant{
	{"t1", "15550001111"},
	{"t2", "15550003333"},
	{"t3", "15550005555"},
}

// runSingle is the single-node soak: it runs every phase and says whether
// the soak passed. An error means the soak could not finish (the daemon
// would not start, messages did not drain in time, ...): that is a failure
// too, explained by the error.
func (s *soak) runSingle(ctx context.Context, wapoold, chrome string) (passed bool, err error) {
	o := s.o
	fake, err := startFake(o.editorDelay)
	if err != nil {
		return false, err
	}
	defer fake.close()
	s.fake = fake

	logFile, err := os.Create(filepath.Join(o.workDir, "wapoold.log"))
	if err != nil {
		return false, err
	}
	defer logFile.Close()
	rcv, hookArgs, err := s.startHooks()
	if err != nil {
		return false, err
	}
	defer rcv.close()
	dataDir := filepath.Join(o.workDir, "data")
	profiles := filepath.Join(dataDir, "profiles")
	d := &daemon{bin: wapoold, logFile: logFile, args: append([]string{
		"--data-dir", dataDir, "--target-url", fake.url, "--chromium", chrome,
		"--send-interval", "0", "--send-jitter", "0", "--metrics-addr", "", "--log-format", "json", "--log-level", o.logLevel,
	}, hookArgs...), perStart: func(n int) []string { return []string{"--webhook-url", rcv.url(singleName, n)} }}
	if err := d.start(); err != nil {
		return false, err
	}
	// Whatever happens, no wapoold (and so no Chrome) outlives the soak.
	defer func() {
		if p := d.latest(); p != nil && p.Running() {
			_, _ = d.stop(stopTimeout)
		}
	}()
	s.printf("fakewa on %s, wapoold on %s, webhook receiver on %s", fake.url, d.latest().Addr(), rcv.base)
	hookFrom, err := waitHookStart(ctx, func() []string { return []string{d.latest().Log()} })
	if err != nil {
		return false, err
	}

	for _, tn := range s.tenants {
		if err := link(ctx, d, fake.Server, tn.id, tn.account); err != nil {
			return false, err
		}
		s.printf("linked %s to %s", tn.id, tn.account)
	}
	s.printf("linked: producing and killing at once (the login is in IndexedDB, fact 16)")

	rcv.cycle(true)
	producers, ch, prodErr := s.produceUnderChaos(ctx, d, profiles)
	rcv.cycle(false)
	acceptedAll, files := accepts(producers)
	s.printf("%d messages accepted (%d with a file), %d kills made (%d browsers, %d daemons)", acceptedAll, files, ch.browserKills+ch.daemonKills, ch.browserKills, ch.daemonKills)
	var final map[string]*wapoolv1.Message
	var drainErr, hookErr error
	var hr hookRange
	if prodErr == nil {
		s.printf("draining")
		if final, drainErr = s.drain(ctx, d, producers); drainErr == nil {
			s.printf("every accepted message is SENT or FAILED")
		}
		hr, hookErr = s.settleHooks(ctx, rcv, d.client, hookFrom)
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
	rows := s.results(fake.Server, producers, final, lc)
	sf, serr := scanSenders(map[string]string{singleName: logFile.Name()})
	if serr != nil {
		s.printf("reading the daemon log for the webhook: %v", serr)
	}
	if err := rcv.writeLog(filepath.Join(o.workDir, "webhook-posts.log")); err != nil {
		s.printf("writing the webhook's record: %v", err)
	}
	hv := judgeReceiver(hr.evs, rcv, hr.mark, hr.dead, sf, true)
	fmt.Fprintln(s.out)
	total := printSummary(s.out, rows)
	fmt.Fprintln(s.out)
	s.report(producers, ch, lc)
	fmt.Fprintln(s.out, hv.line())

	faults := verdictFaults(total)
	if prodErr == nil {
		faults = append(faults, hv.faults()...)
	}
	if ch.browserKills < minKillsPerKind || ch.daemonKills < minKillsPerKind || ch.browserKills+ch.daemonKills < o.kills {
		faults = append(faults, fmt.Sprintf("only %d browser and %d daemon kills", ch.browserKills, ch.daemonKills))
	}
	faults = append(faults, ch.orphans...)
	faults = append(faults, s.buildFault()...)
	for tn, what := range ch.incidents {
		faults = append(faults, fmt.Sprintf("%s was %s during the soak", tn, what))
	}
	for _, err := range []error{prodErr, drainErr, hookErr} {
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
	return s.conclude(faults, fmt.Sprintf("every accepted message arrived exactly once, in order (%d with a file, each with its caption, name and bytes); every event of the log reached the webhook receiver, or its dead-letter list, as promised", total.MediaAccepted)), nil
}

// singleName names the single-node soak's daemon in its webhook URLs.
const singleName = "wapoold"

// accepts counts the producers' accepted messages, and those with a file.
func accepts(producers []*producer) (all, files int) {
	for _, p := range producers {
		all += len(p.done)
		for _, m := range p.done {
			if m.file != nil {
				files++
			}
		}
	}
	return all, files
}

// produceUnderChaos runs the producers and the chaos loop together and
// returns once all of them have ended. A producer or the chaos loop that
// fails ends the others.
func (s *soak) produceUnderChaos(ctx context.Context, d *daemon, profiles string) ([]*producer, *chaos, error) {
	producers := s.newProducers(d, nil)
	ch := &chaos{s: s, d: d, profiles: profiles, kills: s.o.kills, rng: rand.New(rand.NewPCG(s.o.seed, 0))}
	err := produceWith(ctx, produceTimeout, "producing and killing", producers, ch.run)
	return producers, ch, err
}

var _ endpoint = (*daemon)(nil)
