package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/wapool/wapool/internal/wait"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

type ctlOpts struct {
	env    map[string]string
	stdin  string
	tty    bool
	ctx    context.Context
	stdout io.Writer // nil: a fresh buffer
}

type ctlResult struct {
	code           int
	stdout, stderr string
}

// runWith runs one wapoolctl invocation in process.
func runWith(t *testing.T, o ctlOpts, args ...string) ctlResult {
	t.Helper()
	var out, errb bytes.Buffer
	stdout := o.stdout
	if stdout == nil {
		stdout = &out
	}
	ctx := o.ctx
	if ctx == nil {
		ctx = t.Context()
	}
	c := &cli{
		stdin:  strings.NewReader(o.stdin),
		stdout: stdout,
		stderr: &errb,
		getenv: func(k string) string { return o.env[k] },
		tty:    o.tty,
	}
	code := c.run(ctx, args)
	return ctlResult{code, out.String(), errb.String()}
}

// runCtl runs wapoolctl --addr addr args...
func runCtl(t *testing.T, addr string, args ...string) ctlResult {
	t.Helper()
	return runWith(t, ctlOpts{}, append([]string{"--addr", addr}, args...)...)
}

func (r ctlResult) want(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

// qrDrawings cuts the colour QR drawings out of link's output, in order.
func qrDrawings(out string) []string {
	var drawings []string
	var cur strings.Builder
	for line := range strings.Lines(out) {
		// On a terminal a redraw starts with cursor-up + clear on the line.
		line = ansiRedraw.ReplaceAllString(line, "")
		if strings.HasPrefix(line, blackOnWhite) {
			cur.WriteString(line)
			continue
		}
		if cur.Len() > 0 {
			drawings = append(drawings, cur.String())
			cur.Reset()
		}
	}
	if cur.Len() > 0 {
		drawings = append(drawings, cur.String())
	}
	return drawings
}

func TestLinkQRRotationThenLinked(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)
	r := runCtl(t, addr, "link", "newshop")
	r.want(t, 0, []string{
		`linking tenant "newshop"`,
		"Linked devices → Link a device",
		"code 1, valid for 60s (until ",
		"code 2, valid for 20s (until ",
		"linked to +" + linkedPhone + "\n",
	}, nil)
	if strings.Contains(r.stdout, "\x1b[J") {
		t.Error("cursor movements written to a non-terminal")
	}
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}
	drawings := qrDrawings(r.stdout)
	fake.mu.Lock()
	codes := fake.qrCodes
	fake.mu.Unlock()
	if len(drawings) != 2 || len(codes) != 2 {
		t.Fatalf("%d drawings of %d codes, want 2 of 2", len(drawings), len(codes))
	}
	for i := range codes {
		checkQRDrawing(t, drawings[i], codes[i], qrColor)
	}
	if strings.Index(r.stdout, "code 1,") > strings.Index(r.stdout, "code 2,") {
		t.Error("codes out of order")
	}
}

func TestLinkRedrawsOnTerminal(t *testing.T) {
	addr := serve(t, newFakeService(t))
	r := runWith(t, ctlOpts{tty: true}, "--addr", addr, "link", "ttyshop", "--qr", "plain")
	r.want(t, 0, []string{"linked to +" + linkedPhone}, nil)
	// Drawings are separated by "cursor up <lines of the previous one>, clear".
	parts := ansiRedraw.Split(r.stdout, -1)
	ups := ansiRedraw.FindAllStringSubmatch(r.stdout, -1)
	if len(parts) != 4 || len(ups) != 3 { // waiting, QR 1, QR 2, linked
		t.Fatalf("%d drawings, want 4:\n%q", len(parts), r.stdout)
	}
	for i, up := range ups {
		if want := fmt.Sprint(strings.Count(parts[i], "\n")); up[1] != want {
			t.Errorf("redraw %d moves up %s lines, the previous drawing has %s", i+1, up[1], want)
		}
	}
	if parts[3] != "linked to +"+linkedPhone+"\n" {
		t.Errorf("last screen %q", parts[3])
	}
	if strings.Contains(r.stdout, blackOnWhite) {
		t.Error("--qr plain wrote colour escapes")
	}
}

func TestLinkNoColorInverts(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)
	r := runWith(t, ctlOpts{env: map[string]string{"NO_COLOR": "1"}}, "--addr", addr, "link", "nocolour")
	r.want(t, 0, []string{"linked to +"}, nil)
	if strings.Contains(r.stdout, "\x1b[") {
		t.Fatal("escapes written despite NO_COLOR")
	}
	// The first code's drawing is the block right after the waiting line.
	lines := strings.Split(r.stdout, "\n")
	fake.mu.Lock()
	code := fake.qrCodes[0]
	fake.mu.Unlock()
	want, _ := renderQR(code, qrInvert)
	got := strings.Join(lines[1:1+strings.Count(want, "\n")], "\n") + "\n"
	checkQRDrawing(t, got, code, qrInvert)
}

func TestLinkPairingCode(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)
	r := runCtl(t, addr, "link", "byphone", "--phone", "+49 151 1234 5678")
	big := renderBigText("WXYZ-2345")
	r.want(t, 0, []string{"    WXYZ-2345\n", "code 1, valid for 180s", "Link with phone number", "linked to +" + linkedPhone}, nil)
	for line := range strings.Lines(big) {
		if !strings.Contains(r.stdout, "    "+line) {
			t.Fatalf("big code line %q missing:\n%s", line, r.stdout)
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if got := fake.links[0].GetPhoneNumber(); got != "+49 151 1234 5678" {
		t.Errorf("daemon got phone %q", got)
	}
}

func TestLinkAlreadyLinked(t *testing.T) {
	addr := serve(t, newFakeService(t))
	r := runCtl(t, addr, "link", "shop1")
	r.want(t, 0, []string{"already linked to +4915199999999\n"}, nil)
	if strings.Contains(r.stdout, "code ") {
		t.Error("a code shown for a linked tenant")
	}
}

func TestLinkCodesRunOut(t *testing.T) {
	addr := serve(t, newFakeService(t))
	r := runCtl(t, addr, "link", tenantExpire)
	r.want(t, 1, []string{"code 1, valid for 60s"},
		[]string{"the link codes ran out before the phone linked: run `wapoolctl link expire` again"})
}

func TestLinkCancel(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	res := make(chan ctlResult, 1)
	go func() { res <- runWith(t, ctlOpts{ctx: ctx, stdout: out}, "--addr", addr, "link", tenantHang) }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "code 1, valid for 60s") })
	cancel() // what SIGINT does
	r := <-res
	r.want(t, 1, nil, []string{"link cancelled", "browser stays warm"})
	waitFor(t, func() bool {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.cancelled
	})
}

func TestLinkJSON(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)
	r := runWith(t, ctlOpts{}, "-o", "json", "--addr", addr, "link", "jsonshop")
	r.want(t, 0, nil, nil)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), r.stdout)
	}
	fake.mu.Lock()
	codes := fake.qrCodes
	fake.mu.Unlock()
	for i, line := range lines {
		var ev wapoolv1.LinkResponse
		if err := protojson.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if i < 2 && (ev.GetQr().GetCode() != codes[i] || ev.GetQr().GetSequence() != uint32(i+1)) {
			t.Errorf("line %d: %v", i, &ev)
		}
		if i == 2 && ev.GetLinked().GetPhone() != linkedPhone {
			t.Errorf("last line %v", &ev)
		}
	}
}

func TestSend(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)

	r := runCtl(t, addr, "send", "shop1", "+4915100000001", "hello", "there", "--key", "order-1")
	r.want(t, 0, []string{"id", "m1", "state", "SENT", "wa id", "true_4915100000001@c.us_3EB0m1"}, nil)

	// Flags first, text from stdin, --no-wait.
	text := "line one\nשלום 👋\n"
	r = runWith(t, ctlOpts{stdin: text}, "--addr", addr, "send", "--no-wait", "shop1", "4915100000002", "-")
	r.want(t, 0, []string{"QUEUED", "not sent yet: follow it with `wapoolctl get shop1 m2`"}, nil)

	// Text starting with a dash goes after --.
	r = runCtl(t, addr, "send", "shop1", "4915100000003", "--", "-5", "degrees")
	r.want(t, 0, []string{"SENT"}, nil)

	fake.mu.Lock()
	sends := fake.sends
	fake.mu.Unlock()
	want := []*wapoolv1.SendRequest{
		{TenantId: "shop1", To: "+4915100000001", Text: "hello there", IdempotencyKey: "order-1"},
		{TenantId: "shop1", To: "4915100000002", Text: text, Wait: wapoolv1.Wait_WAIT_ACCEPTED},
		{TenantId: "shop1", To: "4915100000003", Text: "-5 degrees"},
	}
	if len(sends) != len(want) {
		t.Fatalf("%d sends, want %d", len(sends), len(want))
	}
	for i := range want {
		if !proto.Equal(sends[i], want[i]) {
			t.Errorf("send %d: got %v, want %v", i, sends[i], want[i])
		}
	}

	// get shows the stored message in full.
	r = runCtl(t, addr, "get", "shop1", "m1")
	r.want(t, 0, []string{"tenant", "shop1", "to", "+4915100000001", "SENT", "key", "order-1", "attempts"}, nil)
	r = runCtl(t, addr, "get", "shop1", "m99")
	r.want(t, 1, nil, []string{`message "m99" of tenant "shop1" not found`})

	// A FAILED message exits 1 and says why.
	r = runCtl(t, addr, "send", "shop1", "4915100000004", "please fail")
	r.want(t, 1, []string{"FAILED", "no tick within 60s"}, []string{"the message failed: no tick within 60s"})

	// Daemon errors, carried over the wire with their ErrorInfo.
	r = runCtl(t, addr, "send", "shop2", "4915100000005", "hi")
	r.want(t, 1, nil, []string{"wapoolctl: tenant \"shop2\" is not linked: run `wapoolctl link shop2`\n"})
	r = runCtl(t, addr, "send", "shop1", "0001234", "hi")
	r.want(t, 1, nil, []string{"recipient 0001234 is not on WhatsApp"})
	r = runCtl(t, addr, "send", "shop1", "4915100000009", "other text", "--key", "order-1")
	r.want(t, 1, nil, []string{`idempotency key "order-1" was already used`})
	r = runCtl(t, addr, "send", "ghost", "4915100000009", "hi")
	r.want(t, 1, nil, []string{`tenant "ghost" not found`})
}

func TestSendJSON(t *testing.T) {
	addr := serve(t, newFakeService(t))
	r := runCtl(t, addr, "send", "shop1", "4915100000001", "hi", "-o", "json")
	r.want(t, 0, nil, nil)
	var resp wapoolv1.SendResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.GetMessage().GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT || resp.GetMessage().GetId() != "m1" {
		t.Fatalf("response %v", &resp)
	}

	// Errors in JSON, on stdout, one object.
	r = runCtl(t, addr, "-o", "json", "send", "shop2", "4915100000001", "hi")
	r.want(t, 1, nil, nil)
	var e map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
		t.Fatalf("%v: %q", err, r.stdout)
	}
	if e["code"] != "FAILED_PRECONDITION" || e["reason"] != "NOT_LINKED" || !strings.Contains(e["message"], "not linked") ||
		!strings.Contains(e["hint"], "wapoolctl link shop2") || e["detail"] != "tenant is not linked" {
		t.Fatalf("error object %v", e)
	}
}

func TestStatus(t *testing.T) {
	addr := serve(t, newFakeService(t))
	r := runCtl(t, addr, "status", "shop1")
	r.want(t, 0, []string{"READY", "+4915199999999", "linked       yes", "queued       1",
		"running, pid 4242", "restarts     2", "signal: killed", "(3m ago)", "12.0 MiB"}, nil)

	r = runCtl(t, addr, "status", "shop2")
	r.want(t, 0, []string{"UNLINKED", "not running", "logged out from the phone", "hint: not linked: run `wapoolctl link shop2`"}, nil)

	r = runCtl(t, addr, "status", "shop1", "-o", "json")
	r.want(t, 0, nil, nil)
	var resp wapoolv1.StatusResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.GetSession().GetBrowser().GetPid() != 4242 || resp.GetSession().GetState() != wapoolv1.SessionState_SESSION_STATE_READY {
		t.Fatalf("response %v", &resp)
	}
	if !strings.Contains(r.stdout, `"lastError":""`) {
		t.Errorf("zero fields left out of the JSON: %s", r.stdout)
	}

	r = runCtl(t, addr, "status", "nope")
	r.want(t, 1, nil, []string{`tenant "nope" not found: see ` + "`wapoolctl list`"})
}

func TestList(t *testing.T) {
	addr := serve(t, newFakeService(t))
	r := runCtl(t, addr, "list")
	r.want(t, 0, nil, nil)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want a header and 2 rows:\n%s", len(lines), r.stdout)
	}
	for i, want := range [][]string{
		{"TENANT", "STATE", "PHONE", "LINKED", "QUEUED", "RESTARTS", "LAST", "ACTIVE", "LAST", "ERROR"},
		{"shop1", "READY", "+4915199999999", "yes", "1", "2", "3m", "ago", "-"},
		{"shop2", "UNLINKED", "-", "no", "0", "0", "-", "logged", "out", "from", "the", "phone"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d: %q, want %q", i, got, want)
		}
	}
	// Columns line up.
	if strings.Index(lines[0], "STATE") != strings.Index(lines[1], "READY") {
		t.Errorf("columns misaligned:\n%s", r.stdout)
	}

	r = runCtl(t, addr, "-o", "json", "list")
	var resp wapoolv1.ListSessionsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.GetSessions()) != 2 {
		t.Fatalf("json list %v", &resp)
	}
}

func TestLogout(t *testing.T) {
	addr := serve(t, newFakeService(t))
	r := runCtl(t, addr, "logout", "shop2")
	r.want(t, 0, []string{"done"}, nil)
	runCtl(t, addr, "status", "shop2").want(t, 1, nil, []string{`tenant "shop2" not found`})
	runCtl(t, addr, "logout", "shop2").want(t, 1, nil, []string{`tenant "shop2" not found`})
	r = runCtl(t, addr, "-o", "json", "logout", "shop1")
	r.want(t, 0, []string{"{}"}, nil)
}

func TestScreenshot(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)
	dir := t.TempDir()

	check := func(path string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, fake.shot) {
			t.Fatal("file differs from the daemon's PNG")
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() != 4 {
			t.Fatalf("not the PNG: %v", err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	}

	a := filepath.Join(dir, "a.png")
	runCtl(t, addr, "screenshot", "shop1", "-o", a).want(t, 0, []string{"wrote " + a}, nil)
	check(a)

	// Global -o json before the command, file -o after it.
	b := filepath.Join(dir, "b.png")
	r := runCtl(t, addr, "-o", "json", "screenshot", "-o", b, "shop1")
	r.want(t, 0, nil, nil)
	check(b)
	var res struct {
		Path  string
		Bytes int
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Path != b || res.Bytes != len(fake.shot) {
		t.Fatalf("json %q: %v", r.stdout, err)
	}

	c := filepath.Join(dir, "c.png")
	runCtl(t, addr, "screenshot", "shop1", "--out", c).want(t, 0, nil, nil)
	check(c)

	r = runCtl(t, addr, "screenshot", "shop1", "-f", "-")
	r.want(t, 0, nil, nil)
	if r.stdout != string(fake.shot) {
		t.Fatal("-f - did not write the PNG to stdout")
	}

	runCtl(t, addr, "screenshot", "shop1").want(t, 2, nil, []string{"-o file.png"})
	runCtl(t, addr, "screenshot", "shop2", "-o", filepath.Join(dir, "d.png")).
		want(t, 1, nil, []string{"the browser is not running"})
	if _, err := os.Stat(filepath.Join(dir, "d.png")); !os.IsNotExist(err) {
		t.Error("a file was written for a failed screenshot")
	}
}

func TestUsageErrors(t *testing.T) {
	addr := serve(t, newFakeService(t))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"status"}, "status needs 1 argument(s)"},
		{[]string{"status", "a", "b"}, "status takes 1 argument(s)"},
		{[]string{"send", "shop1", "491"}, "send needs 3 argument(s)"},
		{[]string{"send", "shop1", "491", "-x"}, "put text that starts with - after --"},
		{[]string{"-o", "yaml", "list"}, "-o must be text or json"},
		{[]string{"--timeout", "soon", "list"}, "invalid value"},
		{[]string{"link", "x", "--qr", "rainbow"}, "--qr must be color, invert or plain"},
		{[]string{"--token", "a", "--token-file", "f", "list"}, "not both"},
		{[]string{"--tls-cert", "c.pem", "list"}, "--tls-cert and --tls-key go together"},
	} {
		r := runCtl(t, addr, tc.args...)
		r.want(t, 2, nil, []string{tc.want, "usage: wapoolctl"})
	}
	r := runCtl(t, addr, "help", "send")
	r.want(t, 0, []string{"usage: wapoolctl [global flags] send", "--no-wait"}, nil)
	runCtl(t, addr, "send", "-h").want(t, 0, []string{"--key K"}, nil)
	runCtl(t, addr, "-h").want(t, 0, []string{"commands:", "screenshot <tenant> -o <file.png>"}, nil)
}

func TestAddrFromEnvironment(t *testing.T) {
	addr := serve(t, newFakeService(t))
	env := map[string]string{"WAPOOL_ADDR": addr}
	runWith(t, ctlOpts{env: env}, "status", "shop1").want(t, 0, []string{"READY"}, nil)
	// The flag wins over the environment.
	env["WAPOOL_ADDR"] = "127.0.0.1:1"
	runWith(t, ctlOpts{env: env}, "--addr", addr, "status", "shop1").want(t, 0, []string{"READY"}, nil)
	runWith(t, ctlOpts{env: env}, "status", "shop1", "--addr", addr).want(t, 0, []string{"READY"}, nil)
	runWith(t, ctlOpts{env: env}, "status", "shop1").want(t, 1, nil, []string{"not reachable at 127.0.0.1:1"})
}

func TestDaemonNotReachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	r := runCtl(t, addr, "list")
	r.want(t, 1, nil, []string{"wapoolctl: the daemon is not reachable at " + addr + " (is wapoold running?)"})
	r = runCtl(t, addr, "-o", "json", "status", "x")
	var e map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || e["code"] != "UNAVAILABLE" || r.code != 1 {
		t.Fatalf("exit %d, %q: %v", r.code, r.stdout, err)
	}
}

func TestTimeout(t *testing.T) {
	svc := &slowService{release: make(chan struct{})}
	addr := serve(t, svc)
	defer close(svc.release)
	start := time.Now()
	r := runCtl(t, addr, "--timeout", "200ms", "send", "shop1", "491", "hi", "--key", "k")
	r.want(t, 1, nil, []string{"no answer from the daemon within 200ms (--timeout)", "same --key"})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// slowService answers Send only when released.
type slowService struct {
	wapoolv1.UnimplementedSessionServiceServer
	release chan struct{}
}

func (s *slowService) Send(ctx context.Context, _ *wapoolv1.SendRequest) (*wapoolv1.SendResponse, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.release:
		return &wapoolv1.SendResponse{}, nil
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one poller.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	if wait.Until(10*time.Second, 5*time.Millisecond, cond) != nil {
		t.Fatal("condition not met within 10s")
	}
}

// TestDoctor: the doctor prints a table of checks and the drawing, exits 0
// when every check passes and 1 when one fails; --deep asks for the deep
// form; -o json prints the response.
func TestDoctor(t *testing.T) {
	addr := serve(t, newFakeService(t))
	runCtl(t, addr, "doctor", "shop1").want(t, 0, []string{"CHECK", "compose", "ok", "drawing: older"}, nil)
	runCtl(t, addr, "doctor", "shop1", "--deep").want(t, 0, []string{"chat_link"}, nil)
	r := runCtl(t, addr, "doctor", "shop3")
	r.want(t, 1, []string{"send_button", "FAIL", "1 of 2 checks failed", "WhatsApp Web changed"}, nil)
	runCtl(t, addr, "-o", "json", "doctor", "shop3").want(t, 1, []string{`"name":"send_button"`}, nil)
	runCtl(t, addr, "doctor").want(t, 2, nil, nil)
	runCtl(t, addr, "doctor", "nobody").want(t, 1, nil, []string{"nobody"})
}
