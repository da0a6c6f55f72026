// Command soak is the bounded soak test behind `make soak`: the real wapoold
// binary and real Chromium against an in-process fakewa, three tenants linked
// to three accounts, a producer per tenant, and a chaos loop that SIGKILLs
// tenants' browsers and the daemon itself. fakewa's message log is the judge:
// every accepted message must arrive exactly once, in per-tenant order.
//
// A run goes through these phases, in order:
//
//	fakewa up (late editor) ─► daemon up ─► link t1..t3
//	   ─► producers ∥ chaos ─► drain (every accepted message SENT or FAILED)
//	   ─► SIGTERM ─► no Chrome left ─► judge fakewa's log ─► summary
//
// # Concurrency and ownership
//
// The main goroutine owns the run: fakewa's HTTP server, the work directory
// and the final verdict. During the production phase it starts one goroutine
// per producer and one for the chaos loop and waits for all of them before it
// drains. The daemon holder (daemon) is shared: its mutex guards the current
// wapoold process, which only the chaos loop and the main goroutine replace
// or stop; producers only read it. Each wapoold process has one goroutine that
// reads its log to the end and then waits for the process; proc.exited closes
// when it has ended.
//
// A producer sends its next message only after the previous one was
// accepted (an attempt returned OK), so acceptance order is the order the
// messages must arrive in.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// options are the soak's knobs; the defaults make a run of a few minutes on
// two cores.
type options struct {
	bin         string        // directory holding wapoold
	chromium    string        // browser binary; "" = chromium on PATH
	messages    int           // messages accepted in all, split over the tenants
	kills       int           // SIGKILLs in all; at least minKillsPerKind of each kind
	seed        uint64        // seeds every random choice; 0 = from the clock
	minPause    time.Duration // least pause between two kills
	maxPause    time.Duration // longest pause between two kills
	gap         time.Duration // mean pause between two messages of a producer
	drain       time.Duration // bound on the wait for every accepted message to be SENT
	logLevel    string        // wapoold's --log-level
	editorDelay time.Duration // fakewa's EditorDelay (fact 17); 0: the editor is live at once
	keep        bool          // keep the work directory even when the soak passes
	workDir     string        // set by run: the temporary directory of this soak
	startedAt   time.Time     // set by run
}

const (
	minKills        = 10
	minKillsPerKind = 3
)

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "bin", "directory holding wapoold (make build puts it in ./bin)")
	fs.StringVar(&o.chromium, "chromium", "", "Chromium binary (default: chromium on PATH)")
	fs.IntVar(&o.messages, "messages", 210, "messages to have accepted in all, split evenly over the 3 tenants")
	fs.IntVar(&o.kills, "kills", 12, fmt.Sprintf("SIGKILLs in all (at least %d; at least %d of browsers and %d of the daemon)", minKills, minKillsPerKind, minKillsPerKind))
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the random choices (0: from the clock; the run prints it)")
	fs.DurationVar(&o.minPause, "min-pause", time.Second, "least pause between two kills")
	fs.DurationVar(&o.maxPause, "max-pause", 3*time.Second, "longest pause between two kills")
	fs.DurationVar(&o.gap, "gap", 400*time.Millisecond, "mean pause between two messages of one producer (uniform in [0, 2×gap])")
	fs.DurationVar(&o.drain, "drain", 3*time.Minute, "bound on the wait for every accepted message to be SENT")
	fs.StringVar(&o.logLevel, "log-level", "info", "wapoold's --log-level (its log is kept in the work directory)")
	fs.DurationVar(&o.editorDelay, "editor-delay", 600*time.Millisecond, "fakewa's late editor (fact 17): each chat's editor goes live after a random delay up to this; 0 turns it off")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (data dir, wapoold.log) even when the soak passes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch {
	case o.kills < minKills:
		return o, fmt.Errorf("-kills %d: at least %d", o.kills, minKills)
	case o.messages < len(tenants):
		return o, fmt.Errorf("-messages %d: at least %d", o.messages, len(tenants))
	case o.minPause <= 0 || o.maxPause < o.minPause:
		return o, errors.New("-min-pause must be positive and at most -max-pause")
	case o.gap < 0 || o.drain <= 0:
		return o, errors.New("-gap must not be negative and -drain must be positive")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	return o, nil
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

// findChromium returns the browser binary: the flag, or chromium (then
// chromium-browser) on PATH.
func findChromium(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH: install it (make chromium) or pass -chromium")
}

// run is the whole soak; it returns the process exit code: 0 when the soak
// passed, 1 when it found a fault or could not finish, 2 when it could not
// start.
func run(ctx context.Context, o options) int {
	chrome, err := findChromium(o.chromium)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	wapoold, err := filepath.Abs(filepath.Join(o.bin, "wapoold"))
	if err == nil {
		_, err = os.Stat(wapoold)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v (run make build first)\n", err)
		return 2
	}
	o.workDir, err = os.MkdirTemp("", "wapool-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	o.startedAt = time.Now()
	s := &soak{o: o, out: os.Stdout}
	s.printf("seed %d, %d messages over %d tenants, %d kills; work dir %s", o.seed, o.messages, len(tenants), o.kills, o.workDir)

	passed, err := s.run(ctx, wapoold, chrome)
	if err != nil {
		s.printf("FAIL: the soak could not finish: %v", err)
	}
	if passed && !o.keep {
		os.RemoveAll(o.workDir)
		return 0
	}
	s.printf("kept the work directory: %s (wapoold.log holds every daemon run's log)", o.workDir)
	if passed {
		return 0
	}
	return 1
}
