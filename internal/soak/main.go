// Command soak is the bounded soak test behind `make soak`: the real wapoold
// binary and real Chromium against an in-process fakewa, producers that
// send under random kills, and fakewa's message log as the judge: every
// accepted message must arrive exactly once, in per-tenant order, and no
// message may be attributed to a bubble of another (or to two WhatsApp
// ids). It has two modes.
//
// One message in five carries a file (media.go): a PNG picture or a PDF
// document in turn, 4 to 200 KiB of bytes of its own; the judge finds each
// in fakewa's log once, with its caption, name, SHA-256 and kind.
//
// Both modes give the daemons a webhook (hooks.go): a receiver in this
// process that, during the chaos, answers 500, then 404, then 200, over
// and over. At the end it must hold every event of the log (judged by
// cursor), or the dead-letter list must, with no event accepted twice
// beyond the at-least-once promise (see hooks.go for what is promised).
//
// The single-node soak (the default): three tenants linked to three
// accounts on one wapoold, a producer per tenant, and a chaos loop that
// SIGKILLs tenants' browsers and the daemon itself. It runs on bbolt: the
// PostgreSQL restart and the failed lease renewal are the cluster soak's.
//
//	fakewa, webhook receiver up ─► daemon up ─► link t1..t3
//	   ─► producers ∥ chaos ∥ receiver phases ─► drain (every accepted message SENT or FAILED)
//	   ─► the receiver has every event (parked ones redelivered)
//	   ─► SIGTERM ─► no Chrome left ─► judge fakewa's log and the receiver's ─► summary
//
// The cluster soak (-cluster, or -nodes N): N wapoold nodes on one
// PostgreSQL (started through pgtest.Launch) and one file:// bucket of
// profile snapshots sealed with an age key, the nodes on mTLS (each its
// own certificate from a test CA, and the soak's clients one too),
// tenants linked through the first node, producers
// sending through random live nodes (a failed call is retried with the same
// idempotency key on another node), and a chaos loop that takes one node
// out at a time: SIGKILL (then a restart after a pause, with the same
// --node-id, on its data dir or a fresh one), SIGTERM (a planned move of its
// tenants, then the same restart) and SIGSTOP past the lease TTL (its
// tenants move while its browsers still run; SIGCONT after: it must never
// act for them again), a restart of PostgreSQL (-pg-restarts) and the
// termination of a node's PostgreSQL sessions until a renewal of its
// leases fails (-conn-kills). A monitor polls every tenant's Status to
// time each failover: from the signal to all of that node's tenants READY
// again. The webhook is delivered by one node at a time (the leader of the
// "webhook" duty); each process has a URL of its own, so the receiver
// knows which one delivered.
//
//	PostgreSQL, bucket, fakewa, webhook receiver ─► nodes n1..nN ─► link c1..cK through n1
//	   ─► every tenant READY with a snapshot
//	   ─► producers ∥ node chaos ∥ monitor ∥ receiver phases ─► drain ─► the event log read back
//	   ─► the receiver has every event ─► SIGTERM every node ─► no Chrome left ─► judge ─► summary
//
// # Concurrency and ownership
//
// The main goroutine owns the run: fakewa's HTTP server, the work directory
// and the final verdict. During the production phase it starts one goroutine
// per producer and one for the chaos loop (and, in a cluster, one for the
// monitor) and waits for all of them before it drains. The webhook
// receiver's HTTP server has goroutines of its own; its mutex guards what
// it records. The daemon holder
// (daemon; one per node in a cluster) is shared: its mutex guards the
// current wapoold process, which only the chaos loop and the main goroutine
// replace or stop; producers only read it. Each wapoold process has one
// goroutine that reads its log to the end and then waits for the process;
// proc.exited closes when it has ended. The monitor's findings are guarded
// by its mutex, the chaos loop reads them while it runs.
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
	// hookPhases are the durations of the webhook receiver's phases
	// during the chaos: 500, 404, then 200, over and over.
	hookPhases      [3]time.Duration
	hookMaxAttempts int       // the daemons' --webhook-max-attempts
	workDir         string    // set by run: the temporary directory of this soak
	startedAt       time.Time // set by run

	// The cluster soak's knobs (nodes > 0).
	nodes      int           // wapoold nodes; 0: the single-node soak
	tenants    int           // tenants, each its own account
	nodeKills  int           // SIGKILLs of a node
	nodeTerms  int           // SIGTERMs of a node (planned moves)
	nodeStops  int           // SIGSTOPs of a node past the lease TTL (then SIGCONT)
	pgRestarts int           // restarts of PostgreSQL
	connKills  int           // terminations of one node's PostgreSQL sessions
	leaseTTL   time.Duration // the nodes' --lease-ttl
	minDown    time.Duration // least time a killed or stopped node stays down
	maxDown    time.Duration // longest time a killed or stopped node stays down
}

// Defaults of the cluster soak where they differ from the single-node
// soak's: producers send until the chaos ends, so -messages is a minimum.
const (
	clusterMessages = 100
	clusterGap      = time.Second
	clusterMinPause = 2 * time.Second
	clusterMaxPause = 6 * time.Second
)

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
	fs.DurationVar(&o.hookPhases[0], "webhook-500", 8*time.Second, "the webhook receiver answers 500 this long, then 404, then 200, over and over during the chaos")
	fs.DurationVar(&o.hookPhases[1], "webhook-404", 8*time.Second, "the webhook receiver's 404 phase (the sender pauses: no attempt spent)")
	fs.DurationVar(&o.hookPhases[2], "webhook-200", 14*time.Second, "the webhook receiver's 200 phase")
	fs.IntVar(&o.hookMaxAttempts, "webhook-max-attempts", 4, "the daemons' --webhook-max-attempts: low, so that a 500 phase parks events in the dead-letter list (the soak has them redelivered at the end)")
	cluster := fs.Bool("cluster", false, "the cluster soak: -nodes 3 unless -nodes says otherwise")
	fs.IntVar(&o.nodes, "nodes", 0, "cluster soak: wapoold nodes on one PostgreSQL (at least 3: one is down at a time, two keep running); 0: the single-node soak")
	fs.IntVar(&o.tenants, "tenants", 5, "cluster soak: tenants, each linked to its own account")
	fs.IntVar(&o.nodeKills, "node-kills", 8, "cluster soak: SIGKILLs of a random node")
	fs.IntVar(&o.nodeTerms, "node-terms", 2, "cluster soak: SIGTERMs of a random node (a planned move of its tenants)")
	fs.IntVar(&o.nodeStops, "node-stops", 1, "cluster soak: SIGSTOPs of a random node for longer than twice the lease TTL, then SIGCONT (its tenants move while it is frozen; it must never act for them again)")
	fs.IntVar(&o.pgRestarts, "pg-restarts", 1, "cluster soak: restarts of PostgreSQL (down one to two lease TTLs: every browser stops): every tenant must be READY again within the lease TTL and a cold start after it is back")
	fs.IntVar(&o.connKills, "conn-kills", 1, "cluster soak: terminations of a random node's PostgreSQL sessions (a renewal fails once)")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", 3*time.Second, "cluster soak: the nodes' --lease-ttl")
	fs.DurationVar(&o.minDown, "min-down", time.Second, "cluster soak: least time a killed or stopped node stays down before its restart")
	fs.DurationVar(&o.maxDown, "max-down", 8*time.Second, "cluster soak: longest time a killed or stopped node stays down")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: soak [flags]\n\nThe single-node soak, or with -cluster the cluster soak, whose defaults differ:\n"+
			"-messages %d (a minimum: producers send until the chaos ends), -gap %v, -min-pause %v, -max-pause %v; -kills is the single-node soak's.\n\n",
			clusterMessages, clusterGap, clusterMinPause, clusterMaxPause)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *cluster && o.nodes == 0 {
		o.nodes = 3
	}
	if o.nodes > 0 {
		if err := o.clusterDefaults(set); err != nil {
			return o, err
		}
	}
	nTenants := len(singleTenants)
	if o.nodes > 0 {
		nTenants = o.tenants
	}
	switch {
	case o.nodes == 0 && o.kills < minKills:
		return o, fmt.Errorf("-kills %d: at least %d", o.kills, minKills)
	case o.messages < nTenants:
		return o, fmt.Errorf("-messages %d: at least %d", o.messages, nTenants)
	case o.minPause <= 0 || o.maxPause < o.minPause:
		return o, errors.New("-min-pause must be positive and at most -max-pause")
	case o.gap < 0 || o.drain <= 0:
		return o, errors.New("-gap must not be negative and -drain must be positive")
	case o.hookPhases[0] <= 0 || o.hookPhases[1] <= 0 || o.hookPhases[2] <= 0:
		return o, errors.New("-webhook-500, -webhook-404 and -webhook-200 must be positive")
	case o.hookMaxAttempts < 1:
		return o, errors.New("-webhook-max-attempts must be at least 1")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	return o, nil
}

// clusterDefaults checks the cluster soak's flags and puts its defaults in
// place of the single-node soak's where the command line left them.
func (o *options) clusterDefaults(set map[string]bool) error {
	for name, v := range map[string]*int{"messages": &o.messages} {
		if !set[name] {
			*v = clusterMessages
		}
	}
	for name, v := range map[string]struct {
		p   *time.Duration
		def time.Duration
	}{"gap": {&o.gap, clusterGap}, "min-pause": {&o.minPause, clusterMinPause}, "max-pause": {&o.maxPause, clusterMaxPause}} {
		if !set[name] {
			*v.p = v.def
		}
	}
	switch {
	case set["kills"]:
		return errors.New("-kills is the single-node soak's (browser and daemon kills); the cluster soak has -node-kills and -node-terms")
	case o.nodes < 3:
		return fmt.Errorf("-nodes %d: at least 3 (one node is down at a time and two keep running)", o.nodes)
	case o.tenants < 1 || o.tenants > 50:
		return fmt.Errorf("-tenants %d: from 1 to 50", o.tenants)
	case o.nodeKills < 1 || o.nodeTerms < 0 || o.nodeStops < 0 || o.pgRestarts < 0 || o.connKills < 0:
		return errors.New("-node-kills must be at least 1, -node-terms and -node-stops not negative")
	case o.leaseTTL < time.Second:
		return fmt.Errorf("-lease-ttl %v: at least 1s", o.leaseTTL)
	case o.minDown <= 0 || o.maxDown < o.minDown:
		return errors.New("-min-down must be positive and at most -max-down")
	}
	return nil
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
	var passed bool
	if o.nodes == 0 {
		s.tenants = singleTenants
		s.printf("seed %d, %d messages over %d tenants, %d kills; work dir %s", o.seed, o.messages, len(s.tenants), o.kills, o.workDir)
		passed, err = s.runSingle(ctx, wapoold, chrome)
	} else {
		s.tenants = clusterTenants(o.tenants)
		s.printf("cluster soak: seed %d, %d nodes, %d tenants, at least %d messages, %d SIGKILLs, %d SIGTERMs and %d SIGSTOPs of nodes, lease TTL %v; work dir %s",
			o.seed, o.nodes, len(s.tenants), o.messages, o.nodeKills, o.nodeTerms, o.nodeStops, o.leaseTTL, o.workDir)
		passed, err = s.runCluster(ctx, wapoold, chrome)
	}
	if err != nil {
		s.printf("FAIL: the soak could not finish: %v", err)
	}
	if passed && !o.keep {
		os.RemoveAll(o.workDir)
		return 0
	}
	if o.nodes == 0 {
		s.printf("kept the work directory: %s (wapoold.log holds every daemon run's log, webhook-posts.log what the receiver answered)", o.workDir)
	} else {
		s.printf("kept the work directory: %s (node-<id>.log holds every run of that node, webhook-posts.log what the receiver answered)", o.workDir)
	}
	if passed {
		return 0
	}
	return 1
}
