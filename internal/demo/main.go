// Command demo is `make demo`: it shows the main job of wapool on the
// embedded default, fakewa, with the real binaries. It starts fakewa and
// wapoold, links tenant "demo" with `wapoolctl link` (the QR code drawn in
// this terminal, then scanned through fakewa's control API, as a phone
// would), sends a message with `wapoolctl send`, prints `wapoolctl status`
// and what fakewa received, and stops everything, leaving no process behind.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wapool/wapool/internal/freeport"
	"github.com/wapool/wapool/internal/wait"
	"github.com/wapool/wapool/internal/wapooldtest"
)

func main() {
	bin := flag.String("bin", "bin", "directory of wapoold, wapoolctl and fakewa")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	account   = "15550001111" // the phone that "scans"
	recipient = "+15550002222"
)

func step(format string, a ...any) { fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", a...) }

// proc is fakewa, started as a plain process (wapoold is started by
// wapooldtest).
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

func startFake(logFile *os.File, path, addr string) (*proc, error) {
	cmd := exec.Command(path, "--addr", addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting fakewa: %w", err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// stop sends SIGTERM and waits; SIGKILL after the timeout.
func (p *proc) stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("fakewa did not stop within %v", timeout)
	}
}

func run(bin string) error {
	fakeAddr, err := freeport.Addr()
	if err != nil {
		return err
	}
	dataDir, err := os.MkdirTemp("", "wapool-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	logPath := filepath.Join(dataDir, "wapoold.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fakeURL := "http://" + fakeAddr
	consoleAddr, err := freeport.Addr()
	if err != nil {
		return err
	}

	step("starting fakewa, a local stand-in for WhatsApp Web, on %s", fakeURL)
	fake, err := startFake(logFile, filepath.Join(bin, "fakewa"), fakeAddr)
	if err != nil {
		return err
	}
	defer fake.stop(10 * time.Second)

	step("starting wapoold (its log: %s)", logPath)
	daemon, err := wapooldtest.Start(context.Background(), wapooldtest.Options{
		Bin: filepath.Join(bin, "wapoold"),
		Args: []string{"--data-dir", dataDir, "--target-url", fakeURL,
			"--metrics-addr", "", "--log-format", "console", "--send-interval", "0", "--console-addr", consoleAddr},
		Env: os.Environ(), // WAPOOL_CHROMIUM and the like still apply; the flags win
		Log: logFile,
	})
	if err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	defer daemon.Close()
	defer daemon.Stop(25 * time.Second) // a no-op once stopped
	daemonAddr := daemon.Addr()
	fmt.Printf("wapoold serves on %s\n", daemonAddr)
	consoleURL := "http://" + consoleAddr + "/"
	if err := checkConsole(consoleURL); err != nil {
		return err
	}
	fmt.Printf("web console: %s (open it while the demo runs; see docs/console.md)\n", consoleURL)
	ctl := func(args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, "wapoolctl"), append([]string{"--addr", daemonAddr}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd
	}

	step("wapoolctl link demo — the QR code a person scans with WhatsApp on the phone")
	linkCmd := ctl("link", "demo")
	if err := linkCmd.Start(); err != nil {
		return err
	}
	linkDone := make(chan error, 1)
	go func() { linkDone <- linkCmd.Wait() }()
	var code string
	if err := wait.Until(60*time.Second, 200*time.Millisecond, func() bool {
		var shown []struct{ Code string }
		if getJSON(fakeURL+"/_fake/qr", &shown) == nil && len(shown) > 0 {
			code = shown[0].Code
		}
		return code != ""
	}); err != nil {
		_ = linkCmd.Process.Kill()
		return fmt.Errorf("no QR code shown: %w", err)
	}
	time.Sleep(2 * time.Second) // let the person see the code before the "phone" scans it
	step("the phone %s scans it (fakewa's control API: POST /_fake/scan)", account)
	if err := postJSON(fakeURL+"/_fake/scan", map[string]string{"code": code, "phone": account}); err != nil {
		return err
	}
	select {
	case err := <-linkDone:
		if err != nil {
			return fmt.Errorf("wapoolctl link: %w", err)
		}
	case <-time.After(60 * time.Second):
		_ = linkCmd.Process.Kill()
		return errors.New("link did not finish")
	}

	step("wapoolctl send demo %s ...", recipient)
	if err := ctl("send", "demo", recipient, "Hello from wapool! Your order #1042 has shipped 📦").Run(); err != nil {
		return fmt.Errorf("wapoolctl send: %w", err)
	}
	step("wapoolctl status demo")
	if err := ctl("status", "demo").Run(); err != nil {
		return fmt.Errorf("wapoolctl status: %w", err)
	}
	step("what fakewa received for account %s (GET /_fake/messages)", account)
	var msgs []map[string]any
	if err := getJSON(fakeURL+"/_fake/messages?account="+account, &msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		fmt.Printf("  to %v: %q (ack %v)\n", m["to"], m["text"], m["ack"])
	}
	if len(msgs) != 1 {
		return fmt.Errorf("fakewa received %d messages, want 1", len(msgs))
	}

	step("stopping wapoold (SIGTERM) and fakewa")
	if code, err := daemon.Stop(25 * time.Second); err != nil || code != 0 {
		return fmt.Errorf("wapoold stopped with exit code %d: %v (see %s)", code, err, logPath)
	}
	if left := wapooldtest.WaitNoBrowsers(dataDir, 5*time.Second); len(left) > 0 {
		return fmt.Errorf("browsers left running: %v", left)
	}
	fmt.Println("done: no process left behind.")
	return nil
}

func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func postJSON(url string, body any) error {
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// checkConsole fetches the console's sessions page once.
func checkConsole(url string) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return fmt.Errorf("web console: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("web console %s: %s", url, resp.Status)
	}
	return nil
}
