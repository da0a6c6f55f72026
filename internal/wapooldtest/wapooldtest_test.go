package wapooldtest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeEnv makes the test binary a fake wapoold (see fakeDaemon); its value
// says how it behaves.
const fakeEnv = "WAPOOLDTEST_FAKE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeDaemon(mode))
	}
	os.Exit(m.Run())
}

// fakeDaemon listens on --listen and logs the address as wapoold does, in
// the mode's format: "json", "console", "stubborn" (JSON, and ignores
// SIGTERM), "exit3" (exits with 3 at once) or "mute" (logs nothing). It
// exits 0 on SIGTERM.
func fakeDaemon(mode string) int {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:7440", "")
	fs.String("data-dir", "", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	fmt.Fprintln(os.Stderr, `{"level":"info","msg":"starting","env_listen":"`+os.Getenv("WAPOOL_LISTEN")+`"}`)
	if mode == "exit3" {
		fmt.Fprint(os.Stderr, "fatal: no luck") // no newline: the harness must keep it
		return 3
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return 1
	}
	defer lis.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	switch mode {
	case "json", "stubborn":
		fmt.Fprintf(os.Stderr, `{"level":"info","ts":1.5,"msg":"wapoold serving","listen":%q,"target_url":"x"}`+"\n", lis.Addr())
	case "console":
		fmt.Fprintf(os.Stderr, "2026-01-02T03:04:05.000Z\t\x1b[34mINFO\x1b[0m\tcmd/wapoold/main.go:183\twapoold serving\t{\"listen\": %q, \"target_url\": \"x\"}\n", lis.Addr())
	}
	for {
		<-sig
		if mode != "stubborn" {
			fmt.Fprintln(os.Stderr, `{"msg":"stopped"}`)
			return 0
		}
	}
}

func start(t *testing.T, mode string, o Options) (*Daemon, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o.Bin = exe
	t.Setenv(fakeEnv, mode) // inherited: Options.Env stays nil, its default is tested
	d, err := Start(context.Background(), o)
	if d != nil {
		t.Cleanup(func() { _ = d.Kill(); _ = d.Close() })
	}
	return d, err
}

// lockedBuffer is an Options.Log that the test reads while the daemon
// writes. mu guards b.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes []string
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, string(p))
	return l.b.Write(p)
}

func TestStartReadsTheAddressAndStops(t *testing.T) {
	for _, mode := range []string{"json", "console"} {
		t.Run(mode, func(t *testing.T) {
			var log lockedBuffer
			d, err := start(t, mode, Options{Args: []string{"--data-dir", "x"}, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			host, port, err := net.SplitHostPort(d.Addr())
			if err != nil || host != "127.0.0.1" || port == "0" {
				t.Errorf("Addr %q", d.Addr())
			}
			if d.Conn() == nil || d.Client() == nil || d.PID() <= 0 || d.StartedAt().IsZero() || !d.Running() {
				t.Errorf("daemon %+v not started", d)
			}
			if d.ExitCode() != -1 || d.ExitErr() != nil {
				t.Errorf("while running: ExitCode %d, ExitErr %v", d.ExitCode(), d.ExitErr())
			}
			code, err := d.Stop(10 * time.Second)
			if err != nil || code != 0 {
				t.Fatalf("Stop = %d, %v", code, err)
			}
			if !strings.Contains(d.Log(), "wapoold serving") || !strings.HasSuffix(d.Log(), "{\"msg\":\"stopped\"}\n") {
				t.Errorf("Log:\n%s", d.Log())
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			if log.b.String() != d.Log() {
				t.Errorf("Options.Log got\n%s\nLog is\n%s", log.b.String(), d.Log())
			}
			for _, w := range log.writes {
				if strings.Count(w, "\n") != 1 || !strings.HasSuffix(w, "\n") {
					t.Errorf("Options.Log got a write that is not one line: %q", w)
				}
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestStartCleansTheEnvironment(t *testing.T) {
	t.Setenv("WAPOOL_LISTEN", "127.0.0.1:1")
	d, err := start(t, "json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Log(), `"env_listen":""`) {
		t.Errorf("WAPOOL_LISTEN reached the daemon:\n%s", d.Log())
	}
	exe, _ := os.Executable()
	d2, err := Start(context.Background(), Options{Bin: exe, Env: []string{fakeEnv + "=json", "WAPOOL_LISTEN=x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	defer d2.Kill()
	if !strings.Contains(d2.Log(), `"env_listen":"x"`) {
		t.Errorf("Options.Env did not reach the daemon:\n%s", d2.Log())
	}
}

func TestStartFailsWithTheLog(t *testing.T) {
	var log lockedBuffer
	_, err := start(t, "exit3", Options{Log: &log})
	if err == nil || !strings.Contains(err.Error(), "exited at start: exit status 3") || !strings.Contains(err.Error(), "fatal: no luck") {
		t.Errorf("Start of a daemon that exits: %v", err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if !strings.HasSuffix(log.b.String(), "fatal: no luck\n") {
		t.Errorf("the last line without a newline did not reach Options.Log: %q", log.b.String())
	}
}

func TestStartTimesOut(t *testing.T) {
	_, err := start(t, "mute", Options{StartTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not log its address") {
		t.Errorf("Start of a mute daemon: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exe, _ := os.Executable()
	if _, err := Start(ctx, Options{Bin: exe, Env: []string{fakeEnv + "=mute"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with an ended ctx: %v", err)
	}
}

func TestStopKillsAStubbornDaemon(t *testing.T) {
	d, err := start(t, "stubborn", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := d.Wait(50 * time.Millisecond); !errors.Is(err, ErrStillRunning) || code != -1 {
		t.Errorf("Wait on a running daemon = %d, %v", code, err)
	}
	code, err := d.Stop(300 * time.Millisecond)
	if !errors.Is(err, ErrStillRunning) || code != -1 || d.Running() {
		t.Errorf("Stop of a daemon that ignores SIGTERM = %d, %v (running %v)", code, err, d.Running())
	}
	var ee interface{ ExitCode() int }
	if !errors.As(d.ExitErr(), &ee) || ee.ExitCode() != -1 {
		t.Errorf("ExitErr %v, want death by a signal", d.ExitErr())
	}
}

func TestKill(t *testing.T) {
	d, err := start(t, "json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Exited():
	default:
		t.Fatal("Exited is open after Kill")
	}
	if d.ExitCode() != -1 || d.ExitErr() == nil {
		t.Errorf("after SIGKILL: ExitCode %d, ExitErr %v", d.ExitCode(), d.ExitErr())
	}
	if err := d.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
	if code, err := d.Stop(time.Second); code != -1 || err != nil {
		t.Errorf("Stop after Kill = %d, %v", code, err)
	}
}

func TestServingAddr(t *testing.T) {
	cases := []struct {
		line string
		addr string
	}{
		{`{"level":"info","msg":"wapoold serving","listen":"127.0.0.1:5"}`, "127.0.0.1:5"},
		{`{"level":"info","msg":"metrics serving","addr":"127.0.0.1:6","listen":"127.0.0.1:6"}`, ""},
		{`{"msg":"wapoold serving"}`, ""},
		{"T\tINFO\tmain.go:1\twapoold serving\t{\"listen\": \"127.0.0.1:7\"}\n", "127.0.0.1:7"},
		{"T\tINFO\tmain.go:1\tmetrics serving\t{\"listen\": \"127.0.0.1:8\"}", ""},
		{"T\tINFO\tmain.go:1\twapoold serving\tnot json", ""},
		{"wapoold serving on 127.0.0.1:9", ""},
	}
	for _, tc := range cases {
		got, ok := servingAddr([]byte(tc.line))
		if ok != (tc.addr != "") || ok && got != tc.addr {
			t.Errorf("servingAddr(%q) = %q, %v; want %q", tc.line, got, ok, tc.addr)
		}
	}
}
