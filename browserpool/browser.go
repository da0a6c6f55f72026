package browserpool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is one running Chrome with its one tab. Its methods are safe for
// concurrent use; page actions on Ctx follow chromedp's rules (one action at a
// time per tab — the supervisor's runner serializes them).
type Browser struct {
	spec        Spec
	stopTimeout time.Duration

	// life is the root of the chromedp contexts. Canceling it (kill) ends
	// the browser: os/exec then runs cmd.Cancel, which sends SIGINT to the
	// process group, once.
	life        context.Context
	kill        context.CancelFunc
	alloc       chromedp.Allocator
	allocCancel context.CancelFunc
	tab         context.Context
	tabCancel   context.CancelFunc

	// cmd is set by setupCmd, which chromedp's allocator calls just before it
	// starts the process; Launch reads it after the first action returned.
	// cmd.ProcessState is read only after alloc.Wait returned.
	cmd       *exec.Cmd
	pid       int
	startedAt time.Time

	done     chan struct{} // closed by watch once the process tree is gone
	exitErr  error         // written by watch before done closes
	stopping atomic.Bool   // Stop was called: the exit is not an error
	stopOnce sync.Once
	stopDone chan struct{} // closed by stopLadder when it returns
	stopErr  error         // written by stopLadder before stopDone closes: ErrStopForced or nil
}

// Launch starts Chrome for one tenant and returns once the browser runs and
// its one tab (the first tab of the default browser context, about:blank) is
// attached. ctx bounds the launch only: when it ends first, the browser is
// killed and Launch returns ctx's error. The browser then lives until Stop or
// its own death.
//
// The caller owns the profile: hold the tenant's profile lock, and call
// KillOrphans and CleanStaleSingleton before Launch.
func Launch(ctx context.Context, cfg Config, spec Spec) (*Browser, error) {
	spec, err := spec.absDirs()
	if err != nil {
		return nil, err
	}
	if err := spec.checkTmpDir(); err != nil {
		return nil, err
	}
	flags, err := buildFlags(cfg, spec)
	if err != nil {
		return nil, err
	}
	if err := spec.makeDirs(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("browserpool: launch %q: %w", spec.ProfileDir, err)
	}

	b := &Browser{
		spec:        spec,
		stopTimeout: cfg.stopTimeout(),
		done:        make(chan struct{}),
		stopDone:    make(chan struct{}),
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(cfg.execPath()),
		chromedp.ModifyCmdFunc(b.setupCmd),
	}
	for _, f := range flags {
		opts = append(opts, chromedp.Flag(f.name, f.value))
	}
	if cfg.Stderr != nil {
		opts = append(opts, chromedp.CombinedOutput(cfg.Stderr))
	}
	if spec.TmpDir != "" {
		opts = append(opts, chromedp.Env("TMPDIR="+spec.TmpDir))
	}

	// The browser's life does not depend on ctx: chromedp binds the process
	// to the context of the first action (exec.CommandContext), so that
	// action runs on b.tab itself and ctx only decides when to give up.
	b.life, b.kill = context.WithCancel(context.Background())
	allocCtx, allocCancel := chromedp.NewExecAllocator(b.life, opts...)
	b.alloc, b.allocCancel = chromedp.FromContext(allocCtx).Allocator, allocCancel
	// The first context of an exec allocator attaches to the tab that
	// Chrome opens (about:blank) in the default browser context: no new
	// target, no new browser context, exactly one tab.
	var ctxOpts []chromedp.ContextOption
	if cfg.Logf != nil {
		ctxOpts = append(ctxOpts, chromedp.WithLogf(cfg.Logf), chromedp.WithErrorf(cfg.Logf))
	}
	b.tab, b.tabCancel = chromedp.NewContext(allocCtx, ctxOpts...)

	started := make(chan error, 1)
	go func() { started <- chromedp.Do(b.tab) }()
	select {
	case err = <-started:
	case <-ctx.Done():
		b.kill()
		<-started
		err = ctx.Err()
	}
	if err != nil {
		b.abort()
		return nil, fmt.Errorf("browserpool: launch %q: %w", spec.ProfileDir, err)
	}
	b.pid = b.cmd.Process.Pid
	go b.watch()
	return b, nil
}

// setupCmd is chromedp's ModifyCmdFunc. It replaces chromedp's own Linux
// setup (which only sets Pdeathsig), so it sets everything:
//   - Setpgid: Chrome and all its children in a process group of their own,
//     which the stop ladder signals as a whole, and which a Ctrl-C on the
//     daemon's terminal does not reach.
//   - Pdeathsig SIGKILL: the kernel kills Chrome when the daemon dies
//     (chromedp starts it from a goroutine locked to its OS thread for the
//     process's life, so the thread cannot end early).
//   - Cancel: when the browser's context ends, SIGINT to the group — Chrome's
//     graceful shutdown on a signal (never SIGTERM: measured to lose the last
//     cookies). os/exec calls it at most once, which matters: Chrome puts
//     back the default handler after the first SIGINT, so a second one would
//     cut its shutdown short.
//   - WaitDelay: if the process still runs that long after Cancel, os/exec
//     kills it. A backstop only: the stop ladder kills the group earlier.
func (b *Browser) setupCmd(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		return signalGroup(cmd.Process.Pid, syscall.SIGINT)
	}
	cmd.WaitDelay = 2 * b.stopTimeout
	b.cmd = cmd
	b.startedAt = time.Now()
}

// signalGroup sends sig to the process group led by pid. A group that is
// gone gives os.ErrProcessDone.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 1 {
		return fmt.Errorf("browserpool: refusing to signal group %d", pid)
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// abort cleans up after a failed launch: kill whatever started, wait until
// it is reaped, release chromedp's goroutines.
func (b *Browser) abort() {
	b.kill()
	if b.cmd != nil && b.cmd.Process != nil {
		_ = signalGroup(b.cmd.Process.Pid, syscall.SIGKILL)
	}
	b.alloc.Wait()
	if b.cmd != nil && b.cmd.Process != nil {
		b.pid = b.cmd.Process.Pid
		b.reapGroup()
	}
	b.tabCancel()
	b.allocCancel()
}

// watch is the one goroutine of a Browser; it ends when the browser has
// ended, whatever the cause. chromedp's allocator waits for the process
// (cmd.Wait, which also reaps it) and for the end of its output; Wait on the
// allocator returns after that. A SIGKILLed main process closes the
// DevTools pipe, so chromedp cancels the tab context, whose cmd.Cancel sends
// SIGINT to what is left of the group; the output pipe then closes (chromedp
// gives it at most one second more).
func (b *Browser) watch() {
	b.alloc.Wait()
	b.reapGroup()
	b.kill()
	b.tabCancel()
	b.allocCancel()
	if !b.stopping.Load() {
		b.exitErr = exitError(b.cmd.ProcessState)
	}
	close(b.done)
}

// exitError says how a browser ended that nobody asked to stop.
func exitError(ps *os.ProcessState) error {
	if ps == nil {
		return ErrExited
	}
	return fmt.Errorf("%w: %w", ErrExited, &exec.ExitError{ProcessState: ps})
}

// reapGroup SIGKILLs the processes left in the browser's process group after
// its main process ended (renderers, zygotes, utilities that did not notice
// yet), until none runs or the stop timeout passes. It signals the group only
// while it sees a live member: a group with a member cannot have its number
// reused by a new process.
func (b *Browser) reapGroup() {
	deadline := time.Now().Add(b.stopTimeout)
	for {
		if len(groupMembers(allStats(), b.pid)) == 0 {
			return
		}
		_ = signalGroup(b.pid, syscall.SIGKILL)
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Ctx is the tab's chromedp context: run actions on it, each with its own
// timeout (context.WithTimeout(b.Ctx(), …)); never cancel it to end the
// browser, call Stop. It is canceled once the browser has ended.
func (b *Browser) Ctx() context.Context { return b.tab }

// PID is the pid of Chrome's main (browser) process, which leads the
// process group of all its processes.
func (b *Browser) PID() int { return b.pid }

// StartedAt is when the process was started.
func (b *Browser) StartedAt() time.Time { return b.startedAt }

// Spec is the tenant's directories as the browser uses them (absolute).
func (b *Browser) Spec() Spec { return b.spec }

// Done is closed when the browser process has exited (any cause), has been
// reaped, and no process of its group is left.
func (b *Browser) Done() <-chan struct{} { return b.done }

// ExitErr says, after Done, how the browser ended: nil when Stop was called
// before the exit was noticed, else an error wrapping ErrExited and an
// *exec.ExitError (e.g. "browserpool: browser exited: signal: killed").
// Before Done it returns nil.
func (b *Browser) ExitErr() error {
	select {
	case <-b.done:
		return b.exitErr
	default:
		return nil
	}
}

// exited reports whether Done is closed. The pid may belong to another
// process after that, so the process-table methods check it first.
func (b *Browser) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// PSS returns the proportional set size of the browser's process tree, in
// bytes: the sum of the Pss lines of /proc/<pid>/smaps_rollup over the main
// process and all its descendants. Shared pages are divided among the
// processes that share them, so the sum over many browsers adds up to what
// they cost together. Readings of several browsers within a second share
// one walk of the process table. It returns an error wrapping ErrExited
// once the browser is gone.
func (b *Browser) PSS() (uint64, error) {
	if b.exited() {
		return 0, ErrExited
	}
	return treePSS(b.pid)
}

// RendererPIDs returns the descendants of the browser whose command line has
// --type=renderer (for fault-injection tests: SIGKILL one to crash the tab).
func (b *Browser) RendererPIDs() []int {
	if b.exited() {
		return nil
	}
	var out []int
	for _, pid := range descendants(allStats(), b.pid) {
		if pid != b.pid && cmdlineHasArg(cmdline(pid), "--type=renderer") {
			out = append(out, pid)
		}
	}
	return out
}
