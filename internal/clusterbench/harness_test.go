package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/wait"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	ready      = wapoolv1.SessionState_SESSION_STATE_READY
	hibernated = wapoolv1.SessionState_SESSION_STATE_HIBERNATED
	// stopTimeout bounds a SIGTERM; the nodes' own --stop-timeout is 30 s,
	// and a node that drains moves its tenants before that bound starts.
	stopTimeout = 90 * time.Second
)

// env is the benchmark's world: the wapoold that TestMain built, Chromium,
// and an in-process fakewa with its default (realistic) timings, shared by
// every daemon of the run. Every Chrome profile of the run lives under
// root; the clean-up, which runs after every daemon's (clean-ups run last
// in, first out), fails the benchmark when a Chrome is left there.
//
// The benchmark starts no goroutine of its own: wapooldtest copies each
// daemon's output and waits for it; the steps poll.
type env struct {
	root, chromium, url string
	fake                *fakewa.Server
	logs                []*os.File // the daemons' log files (-logs), closed at the end
}

func setup(b *testing.B) *env {
	if wapooldBin == "" {
		b.Fatal("wapoold was not built (TestMain builds it when -bench is given)")
	}
	chromium := chromiumtest.Path(b)
	root := b.TempDir()
	fake, url := wapooldtest.Fake(b, fakewa.Options{}, root)
	e := &env{root: root, chromium: chromium, url: url, fake: fake}
	b.Cleanup(func() {
		for _, f := range e.logs {
			_ = f.Close()
		}
	})
	return e
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "clusterbench: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// logsFlag keeps every daemon's log; pass it after -args.
var logsFlag = flag.String("logs", "", "write each wapoold's log to a file in this dir (empty: logs are kept in memory only)")

// node is one wapoold process and its data dir.
type node struct {
	*wapooldtest.Daemon
	id, dataDir string
}

// start runs wapoold on dataDir with pacing off, no metrics and JSON logs;
// extra flags come last and win.
func (e *env) start(id, dataDir string, extra ...string) (*node, error) {
	var log io.Writer
	if *logsFlag != "" {
		name := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(dataDir, e.root), "/"), "/", "-")
		f, err := os.OpenFile(filepath.Join(*logsFlag, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		e.logs = append(e.logs, f)
		log = f
	}
	d, err := wapooldtest.Start(context.Background(), wapooldtest.Options{
		Bin: wapooldBin,
		Log: log,
		Args: append([]string{
			"--data-dir", dataDir, "--target-url", e.url, "--chromium", e.chromium,
			"--send-interval", "0", "--send-jitter", "0", "--metrics-addr", "", "--log-format", "json",
			"--stop-timeout", "30s",
		}, extra...),
	})
	if err != nil {
		return nil, err
	}
	return &node{Daemon: d, id: id, dataDir: dataDir}, nil
}

// stop sends SIGTERM, waits for the exit (code 0) and for the browsers on
// the node's data dir to be gone; it returns how long the exit took.
func (n *node) stop() (time.Duration, error) {
	t0 := time.Now()
	defer n.Close()
	code, err := n.Stop(stopTimeout)
	took := time.Since(t0)
	if err != nil {
		return took, fmt.Errorf("node %s: %w", n.id, err)
	}
	if code != 0 {
		return took, fmt.Errorf("node %s exited %d after SIGTERM\n%s", n.id, code, logTail(n, 30))
	}
	if left := wapooldtest.WaitNoBrowsers(n.dataDir, 10*time.Second); left != nil {
		return took, fmt.Errorf("node %s: browsers left after its exit: %v", n.id, left)
	}
	return took, nil
}

// logTail is the last lines of the node's log, for an error.
func logTail(n *node, lines int) string {
	all := strings.Split(strings.TrimRight(n.Log(), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// link links tenant through n, scanning its QR code with phone in fakewa.
func (e *env) link(n *node, tenant, phone string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := n.Link(ctx, tenant, func(code string) error { return e.fake.Scan(code, phone) })
	return err
}

// status asks n for one tenant's session (forwarded to its holder in a
// cluster).
func (n *node) status(tenant string) (*wapoolv1.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := n.Client().Status(ctx, &wapoolv1.StatusRequest{TenantId: tenant})
	if err != nil {
		return nil, err
	}
	return resp.GetSession(), nil
}

// waitUntil polls cond every period until it holds or timeout passes;
// its error names what it waited for.
func waitUntil(what string, timeout, period time.Duration, cond func() bool) error {
	if err := wait.Until(timeout, period, cond); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
