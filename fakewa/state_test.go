package fakewa

// Unit tests of the server state and the control API, with no browser: the
// test plays the page through its /_fakeapi/ requests and moves a fake clock.

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/internal/testclock"
	"github.com/wapool/wapool/internal/wait"
)

func newTestServer(t *testing.T, o Options) (*Server, *testclock.Clock) {
	t.Helper()
	s := New(o)
	clk := testclock.New(time.Date(2026, 3, 4, 10, 32, 0, 0, time.UTC))
	s.now = clk.Now
	t.Cleanup(s.Close)
	return s, clk
}

// do sends one request to s and decodes a JSON answer into out (if not nil).
func do(t *testing.T, s *Server, method, path string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if out != nil && rec.Code < 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, rec.Body.String())
		}
	}
	return rec.Code
}

// page is a page instance the test plays.
type page struct {
	t   *testing.T
	s   *Server
	sid string
}

type bootAnswer struct {
	SID    string `json:"sid"`
	Linked bool   `json:"linked"`
	Phone  string `json:"phone"`
}

func bootPage(t *testing.T, s *Server, token string) (*page, bootAnswer) {
	t.Helper()
	var b bootAnswer
	if st := do(t, s, "POST", "/_fakeapi/boot", map[string]string{"token": token}, &b); st != 200 {
		t.Fatalf("boot: %d", st)
	}
	return &page{t, s, b.SID}, b
}

type pollAnswer struct {
	State  string `json:"state"`
	Token  string `json:"token"`
	Active bool   `json:"active"`
	Hang   bool   `json:"hang"`
}

func (p *page) poll() pollAnswer {
	p.t.Helper()
	var a pollAnswer
	if st := do(p.t, p.s, "GET", "/_fakeapi/poll?sid="+p.sid, nil, &a); st != 200 {
		p.t.Fatalf("poll: %d", st)
	}
	return a
}

type qrAnswer struct {
	Code      string   `json:"code"`
	Matrix    []string `json:"matrix"`
	ExpiresIn int64    `json:"expires_in_ms"`
	Exhausted bool     `json:"exhausted"`
}

func (p *page) qr(reload bool) qrAnswer {
	p.t.Helper()
	var a qrAnswer
	path := "/_fakeapi/qr?sid=" + p.sid
	if reload {
		path += "&reload=1"
	}
	if st := do(p.t, p.s, "GET", path, nil, &a); st != 200 {
		p.t.Fatalf("qr: %d", st)
	}
	return a
}

// link boots a page, shows its QR and scans it for phone; it returns the
// page and its device token.
func link(t *testing.T, s *Server, phone string) (*page, string) {
	t.Helper()
	p, _ := bootPage(t, s, "")
	if err := s.Scan(p.qr(false).Code, phone); err != nil {
		t.Fatalf("scan: %v", err)
	}
	a := p.poll()
	if a.State != "linked" || a.Token == "" || !a.Active {
		t.Fatalf("after scan poll = %+v", a)
	}
	return p, a.Token
}

func TestDefaultsFillZeroFields(t *testing.T) {
	if got := New(Options{}).Options(); got != DefaultOptions() {
		t.Fatalf("New(Options{}) options = %+v, want %+v", got, DefaultOptions())
	}
	s := New(Options{AckDelay: time.Second, QRRotations: -1})
	if o := s.Options(); o.AckDelay != time.Second || o.BootDelay != 1500*time.Millisecond || o.rotations() != 0 {
		t.Fatalf("options = %+v", o)
	}
	s.SetOptions(func(o *Options) { o.AckDelay = 0; o.InvalidSuffix = "99" })
	if o := s.Options(); o.AckDelay != 400*time.Millisecond || o.InvalidSuffix != "99" {
		t.Fatalf("after SetOptions: %+v", o)
	}
}

func TestConfigEndpoint(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	var c map[string]any
	st := do(t, s, "POST", "/_fake/config", map[string]any{"ack_delay": "200ms", "qr_rotations": 2, "invalid_suffix": "99", "hang": true}, &c)
	if st != 200 || c["ack_delay"] != "200ms" || c["qr_rotations"] != 2.0 || c["hang"] != true || c["boot_delay"] != "1.5s" {
		t.Fatalf("POST config: %d %v", st, c)
	}
	if o := s.Options(); o.AckDelay != 200*time.Millisecond || o.QRRotations != 2 || o.InvalidSuffix != "99" {
		t.Fatalf("options = %+v", o)
	}
	if p, _ := bootPage(t, s, ""); !p.poll().Hang {
		t.Fatal("hang switch not seen by the page")
	}
	if st := do(t, s, "POST", "/_fake/config", map[string]any{"ack_delay": "soon"}, nil); st != 400 {
		t.Fatalf("bad duration: %d, want 400", st)
	}
	if st := do(t, s, "POST", "/_fake/config", map[string]any{"ackdelay": "1s"}, nil); st != 400 {
		t.Fatalf("unknown field: %d, want 400", st)
	}
	c = nil
	if do(t, s, "GET", "/_fake/config", nil, &c); c["ack_delay"] != "200ms" {
		t.Fatalf("GET config: %v", c)
	}
}

func TestQRSeriesRotatesAndExpires(t *testing.T) {
	s, clk := newTestServer(t, Options{FirstQRLifetime: 60 * time.Second, QRLifetime: 20 * time.Second, QRRotations: 2})
	p, b := bootPage(t, s, "")
	if b.Linked {
		t.Fatal("fresh page linked")
	}
	first := p.qr(false)
	parts := strings.Split(first.Code, ",")
	if len(parts) != 4 || !strings.HasPrefix(parts[0], "2@") || first.ExpiresIn != 60000 || len(first.Matrix) < 21 {
		t.Fatalf("first code = %q expires %d, %d rows", first.Code, first.ExpiresIn, len(first.Matrix))
	}
	if again := p.qr(false); again.Code != first.Code || again.ExpiresIn != 60000 {
		t.Fatalf("the same code is shown until it expires: %q", again.Code)
	}
	shown := s.QRCodes()
	if len(shown) != 1 || shown[0].Code != first.Code || !shown[0].DisplayedAt.Equal(clk.Now()) {
		t.Fatalf("QRCodes = %+v", shown)
	}

	clk.Advance(60 * time.Second)
	if got := s.QRCodes(); len(got) != 0 {
		t.Fatalf("an expired code is listed: %+v", got)
	}
	if err := s.Scan(first.Code, "15550001111"); !errors.Is(err, ErrExpiredCode) {
		t.Fatalf("scan expired: %v", err)
	}
	second := p.qr(false)
	if second.Code == first.Code || second.ExpiresIn != 20000 {
		t.Fatalf("second code %q expires %d", second.Code, second.ExpiresIn)
	}
	if !strings.HasSuffix(second.Code, strings.TrimPrefix(first.Code, parts[0])) {
		t.Fatal("the device keys changed between codes of one page")
	}
	clk.Advance(20 * time.Second)
	third := p.qr(false)
	clk.Advance(20 * time.Second)
	if a := p.qr(false); !a.Exhausted || a.Code != third.Code {
		t.Fatalf("after 1+2 codes: %+v, want exhausted keeping the last code", a)
	}
	if got := s.QRCodes(); len(got) != 0 {
		t.Fatalf("exhausted page lists %+v", got)
	}
	fresh := p.qr(true)
	if fresh.Exhausted || fresh.Code == third.Code || fresh.ExpiresIn != 60000 {
		t.Fatalf("reload: %+v", fresh)
	}
	if err := s.Scan(third.Code, "15550001111"); !errors.Is(err, ErrExpiredCode) {
		t.Fatalf("scan of an old series: %v", err)
	}
}

func TestScanLinksAndControlStatuses(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	p, _ := bootPage(t, s, "")
	code := p.qr(false).Code
	if p.poll().State != "landing" {
		t.Fatal("not on the landing before the scan")
	}
	if st := do(t, s, "POST", "/_fake/scan", map[string]string{"code": "nope,a,b,c", "phone": "15550001111"}, nil); st != 404 {
		t.Fatalf("unknown code: %d", st)
	}
	if st := do(t, s, "POST", "/_fake/scan", map[string]string{"code": code, "phone": "call me"}, nil); st != 400 {
		t.Fatalf("bad phone: %d", st)
	}
	if st := do(t, s, "POST", "/_fake/scan", map[string]string{"code": code, "phone": "+1 555-000-1111"}, nil); st != 200 {
		t.Fatalf("scan: %d", st)
	}
	if a := p.poll(); a.State != "linked" || !a.Active || a.Token == "" {
		t.Fatalf("poll after scan: %+v", a)
	}
	if err := s.Scan(code, "15550001111"); !errors.Is(err, ErrExpiredCode) {
		t.Fatalf("second scan of the same code: %v", err)
	}
	if st := do(t, s, "POST", "/_fake/scan", map[string]string{"code": code, "phone": "15550001111"}, nil); st != 410 {
		t.Fatalf("second scan over HTTP: %d", st)
	}
	if got := s.QRCodes(); len(got) != 0 {
		t.Fatalf("a linked page still lists %+v", got)
	}
}

func TestLoginPersistsUntilRemoteLogout(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	old, token := link(t, s, "15550001111")
	if _, b := bootPage(t, s, token); !b.Linked || b.Phone != "15550001111" {
		t.Fatalf("boot with the token: %+v", b)
	}
	if _, b := bootPage(t, s, ""); b.Linked {
		t.Fatal("a fresh profile is linked")
	}
	if _, b := bootPage(t, s, "forged"); b.Linked {
		t.Fatal("a forged token is linked")
	}
	if st := do(t, s, "POST", "/_fake/logout", map[string]string{"phone": "+15550001111"}, nil); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	if a := old.poll(); a.State != "logged_out" {
		t.Fatalf("poll after logout: %+v", a)
	}
	if _, b := bootPage(t, s, token); b.Linked {
		t.Fatal("the token works after a remote logout")
	}
}

func TestConflictAndUseHere(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	first, token := link(t, s, "15550001111")
	second, _ := bootPage(t, s, token) // a copy of the profile, another window
	if a := first.poll(); a.State != "linked" || a.Active {
		t.Fatalf("first page after a second one opened: %+v", a)
	}
	if a := second.poll(); !a.Active {
		t.Fatalf("second page: %+v", a)
	}
	// The conflict page cannot send.
	if st := do(t, s, "POST", "/_fakeapi/send?sid="+first.sid, map[string]string{"id": "3EB0AAAABBBBCCCCDDDD", "to": "15550002222", "text": "hi"}, nil); st != http.StatusConflict {
		t.Fatalf("send from the inactive page: %d", st)
	}
	if st := do(t, s, "POST", "/_fakeapi/takeover?sid="+first.sid, nil, nil); st != 200 {
		t.Fatalf("use here: %d", st)
	}
	if !first.poll().Active || second.poll().Active {
		t.Fatal("Use here did not move the account to the first page")
	}
	// Another device linked to the same phone is the same account.
	other, _ := link(t, s, "15550001111")
	if first.poll().Active || !other.poll().Active {
		t.Fatal("a second link of the account does not take over")
	}
}

func TestPairingCode(t *testing.T) {
	s, clk := newTestServer(t, Options{PairingLifetime: 3 * time.Minute})
	p, _ := bootPage(t, s, "")
	p.qr(false)
	if st := do(t, s, "POST", "/_fakeapi/mode?sid="+p.sid, map[string]string{"mode": "phone"}, nil); st != 200 {
		t.Fatalf("mode: %d", st)
	}
	if got := s.QRCodes(); len(got) != 0 {
		t.Fatalf("the phone form still lists QR codes: %+v", got)
	}
	if st := do(t, s, "POST", "/_fakeapi/pairing?sid="+p.sid, map[string]string{"phone": "12"}, nil); st != 400 {
		t.Fatalf("short number: %d", st)
	}
	var a struct {
		Code      string `json:"code"`
		ExpiresIn int64  `json:"expires_in_ms"`
	}
	if st := do(t, s, "POST", "/_fakeapi/pairing?sid="+p.sid, map[string]string{"phone": "+1 555 000 1112"}, &a); st != 200 {
		t.Fatalf("pairing: %d", st)
	}
	if len(a.Code) != 8 || strings.Trim(a.Code, pairAlphabet) != "" || a.ExpiresIn != 180000 {
		t.Fatalf("pairing code %q expires %d", a.Code, a.ExpiresIn)
	}
	var listed []Pairing
	do(t, s, "GET", "/_fake/pairing", nil, &listed)
	if len(listed) != 1 || listed[0] != (Pairing{Code: a.Code, Phone: "15550001112"}) {
		t.Fatalf("/_fake/pairing = %+v", listed)
	}
	if st := do(t, s, "POST", "/_fake/pair", map[string]string{"code": "0000-0000"}, nil); st != 404 { // 0 is not in the alphabet
		t.Fatalf("unknown pairing code: %d", st)
	}

	// The code expires; the page then asks for a new one.
	clk.Advance(3 * time.Minute)
	if err := s.Pair(a.Code); !errors.Is(err, ErrExpiredCode) {
		t.Fatalf("pair expired: %v", err)
	}
	if got := s.PairingCodes(); len(got) != 0 {
		t.Fatalf("expired code listed: %+v", got)
	}
	do(t, s, "POST", "/_fakeapi/pairing?sid="+p.sid, map[string]string{"phone": "15550001112"}, &a)
	dashed := strings.ToLower(a.Code[:4] + "-" + a.Code[4:])
	if st := do(t, s, "POST", "/_fake/pair", map[string]string{"code": dashed}, nil); st != 200 {
		t.Fatalf("pair %q: %d", dashed, st)
	}
	if a := p.poll(); a.State != "linked" || !a.Active {
		t.Fatalf("poll after pair: %+v", a)
	}
	var b bootAnswer
	do(t, s, "POST", "/_fakeapi/boot", map[string]string{"token": p.poll().Token}, &b)
	if b.Phone != "15550001112" {
		t.Fatalf("linked to %q, want the typed number", b.Phone)
	}
}

func TestMessagesAndAcks(t *testing.T) {
	s, clk := newTestServer(t, Options{AckDelay: 400 * time.Millisecond})
	p, _ := link(t, s, "15550001111")
	send := func(id, to, text string) int {
		return do(t, s, "POST", "/_fakeapi/send?sid="+p.sid, map[string]string{"id": id, "to": to, "text": text}, nil)
	}
	if st := send("3EB0000000000000000A", "15550002222", "first"); st != 200 {
		t.Fatalf("send: %d", st)
	}
	clk.Advance(100 * time.Millisecond)
	if st := send("3EB0000000000000000B", "15550003333", "second\nline"); st != 200 {
		t.Fatalf("send: %d", st)
	}
	if st := send("3EB0000000000000000A", "15550002222", "first"); st != 200 {
		t.Fatalf("retry: %d", st)
	}
	for _, bad := range []struct{ id, to, text string }{
		{"3EB0000000000000000C", "15550100000", "not on WhatsApp"},
		{"nope", "15550002222", "bad id"},
		{"3EB0000000000000000D", "15550002222", ""},
	} {
		if st := send(bad.id, bad.to, bad.text); st != 400 {
			t.Fatalf("send %+v: %d, want 400", bad, st)
		}
	}
	acks := func() []int {
		var out []int
		for _, m := range s.Messages("+1 555 000 1111") {
			out = append(out, m.Ack)
		}
		return out
	}
	msgs := s.Messages("15550001111")
	if len(msgs) != 2 || msgs[0].Text != "first" || msgs[1].Text != "second\nline" || msgs[1].To != "15550003333" {
		t.Fatalf("messages = %+v", msgs)
	}
	if got := acks(); got[0] != 0 || got[1] != 0 {
		t.Fatalf("acks at send = %v, want recorded with ack 0", got)
	}
	clk.Advance(300 * time.Millisecond) // first at 400ms, second at 300ms
	if got := acks(); got[0] != 1 || got[1] != 0 {
		t.Fatalf("acks = %v, want [1 0]", got)
	}
	clk.Advance(400 * time.Millisecond) // first at 800ms, second at 700ms
	if got := acks(); got[0] != 2 || got[1] != 1 {
		t.Fatalf("acks = %v, want [2 1]", got)
	}
	var viaHTTP []Message
	if do(t, s, "GET", "/_fake/messages?account=15550001111", nil, &viaHTTP); len(viaHTTP) != 2 || viaHTTP[1].ID != "3EB0000000000000000B" {
		t.Fatalf("/_fake/messages = %+v", viaHTTP)
	}
	var unknown []Message
	if do(t, s, "GET", "/_fake/messages?account=19990000000", nil, &unknown); unknown == nil || len(unknown) != 0 {
		t.Fatalf("unknown account: %v", unknown)
	}
	if st := do(t, s, "GET", "/_fake/messages", nil, nil); st != 400 {
		t.Fatalf("no account: %d", st)
	}

	var open struct {
		OnWhatsApp bool `json:"on_whatsapp"`
		Messages   []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	do(t, s, "GET", "/_fakeapi/open?sid="+p.sid+"&phone=15550002222", nil, &open)
	if !open.OnWhatsApp || len(open.Messages) != 1 || open.Messages[0].ID != "3EB0000000000000000A" {
		t.Fatalf("open 15550002222: %+v", open)
	}
	do(t, s, "GET", "/_fakeapi/open?sid="+p.sid+"&phone=15550100000", nil, &open)
	if open.OnWhatsApp {
		t.Fatal("15550100000 is on WhatsApp")
	}
	s.SetOptions(func(o *Options) { o.InvalidSuffix = "2222" })
	do(t, s, "GET", "/_fakeapi/open?sid="+p.sid+"&phone=15550002222", nil, &open)
	if open.OnWhatsApp {
		t.Fatal("the invalid rule did not change at run time")
	}
}

func TestLivePagesOnly(t *testing.T) {
	s, clk := newTestServer(t, Options{LogoutPoll: time.Second})
	quiet, _ := bootPage(t, s, "")
	quiet.qr(false)
	gone, _ := bootPage(t, s, "")
	gone.qr(false)
	if got := s.QRCodes(); len(got) != 2 {
		t.Fatalf("QRCodes = %+v, want 2", got)
	}
	do(t, s, "POST", "/_fakeapi/bye?sid="+gone.sid, nil, nil)
	if got := s.QRCodes(); len(got) != 1 {
		t.Fatalf("a page that left is listed: %+v", got)
	}
	clk.Advance(10 * time.Second) // the first code lives 60s, but the page stopped polling
	if got := s.QRCodes(); len(got) != 0 {
		t.Fatalf("a page that stopped answering is listed: %+v", got)
	}
	quiet.poll()
	if got := s.QRCodes(); len(got) != 1 {
		t.Fatalf("a page that answers again is not listed: %+v", got)
	}
	if st := do(t, s, "GET", "/_fakeapi/poll?sid=unknown", nil, nil); st != 404 {
		t.Fatalf("poll of an unknown session: %d", st)
	}
}

func TestHangLongPoll(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()
	get := func() (string, time.Duration) {
		start := time.Now()
		r, err := http.Get(ts.URL + "/_fakeapi/hang")
		if err != nil {
			t.Error(err)
			return "", 0
		}
		defer r.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		return b.String(), time.Since(start)
	}
	if v, _ := get(); v != "off" {
		t.Fatalf("hang = %q, want off", v)
	}
	s.SetHang(true)
	if v, d := get(); v != "on" || d < hangWait/2 {
		t.Fatalf("hang = %q after %v, want on after waiting", v, d)
	}
	type res struct {
		v string
		d time.Duration
	}
	done := make(chan res, 1)
	go func() { v, d := get(); done <- res{v, d} }()
	// Turn the switch off while the request waits; it must answer at once.
	waitUntil(t, 2*time.Second, func() bool { return waitingHang(s) })
	s.SetHang(false)
	if r := <-done; r.v != "off" || r.d >= hangWait {
		t.Fatalf("after SetHang(false): %q after %v", r.v, r.d)
	}
	// Close wakes a waiting request too.
	s.SetHang(true)
	go func() { v, d := get(); done <- res{v, d} }()
	waitUntil(t, 2*time.Second, func() bool { return waitingHang(s) })
	s.Close()
	if r := <-done; r.d >= hangWait {
		t.Fatalf("Close did not wake the hang request (%v)", r.d)
	}
}

// waitingHang reports whether a request waits on the hang switch.
func waitingHang(s *Server) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hangWaiters > 0
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	if wait.Until(d, 5*time.Millisecond, cond) != nil {
		t.Fatal("condition not met in time")
	}
}

func TestPagesAndUserAgent(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	get := func(path, ua string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("User-Agent", ua)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	desktop := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	headless := strings.Replace(desktop, "Chrome/", "HeadlessChrome/", 1)
	for _, path := range []string{"/", "/?post_logout=1", "/send?phone=15550002222&text=hi"} {
		if st, body := get(path, desktop); st != 200 || !strings.Contains(body, `<div id="app"><div class="boot">`) || !strings.Contains(body, "<progress") {
			t.Fatalf("GET %s: %d %q", path, st, body)
		}
		if st, body := get(path, headless); st != 200 || strings.Contains(body, `id="app"`) || !strings.Contains(body, "update Chrome") || !strings.Contains(body, "Google Chrome") {
			t.Fatalf("GET %s as HeadlessChrome: %d %q", path, st, body)
		}
	}
	if st, body := get("/_fakeweb/app.js", desktop); st != 200 || !strings.Contains(body, "data-lexical-editor") {
		t.Fatalf("app.js: %d", st)
	}
	for _, path := range []string{"/nope", "/_fakeweb/secret.txt", "/_fake/unknown"} {
		if st, _ := get(path, desktop); st != 404 {
			t.Fatalf("GET %s: %d, want 404", path, st)
		}
	}
}

// TestEditorDelayKnob: EditorDelay is off at zero (no default replaces it),
// set through New, SetOptions and /_fake/config, and each chat open draws
// its own delay in [EditorDelay/4, EditorDelay] (fact 17).
func TestEditorDelayKnob(t *testing.T) {
	if o := New(Options{EditorDelay: -time.Second}).Options(); o.EditorDelay != 0 {
		t.Fatalf("negative EditorDelay became %v, want 0 (off)", o.EditorDelay)
	}
	s, _ := newTestServer(t, Options{EditorDelay: 800 * time.Millisecond})
	if o := s.Options(); o.EditorDelay != 800*time.Millisecond {
		t.Fatalf("EditorDelay %v after New, want 800ms", o.EditorDelay)
	}
	p, _ := link(t, s, "15550001111")
	open := func(phone string) int64 {
		t.Helper()
		var a struct {
			OnWhatsApp bool  `json:"on_whatsapp"`
			EditorMS   int64 `json:"editor_delay_ms"`
		}
		if st := do(t, s, "GET", "/_fakeapi/open?sid="+p.sid+"&phone="+phone, nil, &a); st != 200 {
			t.Fatalf("open: %d", st)
		}
		return a.EditorMS
	}
	seen := map[int64]bool{}
	for range 20 {
		d := open("15550002222")
		if d < 200 || d > 800 {
			t.Fatalf("editor delay %dms, want in [200, 800]", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Fatalf("20 opens all drew the same delay %v", seen)
	}
	if d := open("15550100000"); d != 0 {
		t.Fatalf("a number not on WhatsApp got an editor delay of %dms", d)
	}

	var c map[string]any
	if do(t, s, "GET", "/_fake/config", nil, &c); c["editor_delay"] != "800ms" {
		t.Fatalf("GET config: editor_delay %v, want 800ms", c["editor_delay"])
	}
	if do(t, s, "POST", "/_fake/config", map[string]any{"editor_delay": "40ms"}, &c); c["editor_delay"] != "40ms" {
		t.Fatalf("POST config: editor_delay %v, want 40ms", c["editor_delay"])
	}
	if d := open("15550002222"); d < 10 || d > 40 {
		t.Fatalf("after the change the delay is %dms, want in [10, 40]", d)
	}
	do(t, s, "POST", "/_fake/config", map[string]any{"ack_delay": "0s"}, &c)
	if c["editor_delay"] != "40ms" {
		t.Fatalf("another knob's change moved editor_delay to %v", c["editor_delay"])
	}
	if do(t, s, "POST", "/_fake/config", map[string]any{"editor_delay": "0s"}, &c); c["editor_delay"] != "0s" {
		t.Fatalf("POST config 0s: editor_delay %v, want 0s (off)", c["editor_delay"])
	}
	if d := open("15550002222"); d != 0 {
		t.Fatalf("knob off: delay %dms, want 0", d)
	}
	s.SetOptions(func(o *Options) { o.EditorDelay = time.Nanosecond })
	if d := open("15550002222"); d != 1 {
		t.Fatalf("EditorDelay 1ns: delay %dms, want 1", d)
	}
	s.SetOptions(func(o *Options) { o.AckDelay = 0 })
	if o := s.Options(); o.EditorDelay != time.Nanosecond {
		t.Fatalf("SetOptions of another field moved EditorDelay to %v", o.EditorDelay)
	}
}

// TestDrawingKnobs checks the Build, Drawing and LidSuffix knobs on the
// server side: their defaults, the control API (which refuses unknown
// values), what a booting page and a chat open learn, and the @lid rule.
func TestDrawingKnobs(t *testing.T) {
	if o := New(Options{Build: "1999", Drawing: "odd"}).Options(); o.Build != BuildDefault || o.Drawing != DrawingDefault || o.LidSuffix != "77" {
		t.Fatalf("unknown values through New: %+v", o)
	}
	if err := (Options{Build: "1999"}).Validate(); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Validate of build 1999: %v", err)
	}
	if err := (Options{Build: Build2026, Drawing: DrawingUnknown}).Validate(); err != nil {
		t.Fatalf("Validate of the known values: %v", err)
	}
	s, _ := newTestServer(t, Options{})
	p, _ := link(t, s, "15550001111")
	type openAnswer struct {
		JID     string `json:"jid"`
		Drawing string `json:"drawing"`
	}
	open := func(phone string) openAnswer {
		t.Helper()
		var a openAnswer
		if st := do(t, s, "GET", "/_fakeapi/open?sid="+p.sid+"&phone="+phone, nil, &a); st != 200 {
			t.Fatalf("open: %d", st)
		}
		return a
	}
	if a := open("15550002222"); a.JID != "15550002222@c.us" || a.Drawing != "" {
		t.Fatalf("open of a @c.us chat: %+v", a)
	}
	lid := LID("+1 555 000 1277")
	if a := open("15550001277"); a.JID != lid+"@lid" {
		t.Fatalf("open of a number ending in 77: %+v, want %s@lid", a, lid)
	}
	if len(lid) != 15 || digits(lid) != lid || lid == "15550001277" || LID("15550001277") != lid || LID("15550002277") == lid {
		t.Fatalf("LID(15550001277) = %q: want 15 digits of its own, the same each time, another for another number", lid)
	}

	var c map[string]any
	if do(t, s, "GET", "/_fake/config", nil, &c); c["build"] != "" || c["drawing"] != "" || c["lid_suffix"] != "77" {
		t.Fatalf("GET config: %v", c)
	}
	st := do(t, s, "POST", "/_fake/config", map[string]any{"build": "2026", "drawing": "unknown", "lid_suffix": "2222"}, &c)
	if st != 200 || c["build"] != "2026" || c["drawing"] != "unknown" || c["lid_suffix"] != "2222" {
		t.Fatalf("POST config: %d %v", st, c)
	}
	if a := open("15550002222"); a.JID != LID("15550002222")+"@lid" || a.Drawing != DrawingUnknown {
		t.Fatalf("open after the change: %+v", a)
	}
	if a := open("15550001277"); a.JID != "15550001277@c.us" {
		t.Fatalf("open of 15550001277 with lid_suffix 2222: %+v", a)
	}
	var boot struct {
		Build string `json:"build"`
	}
	if do(t, s, "POST", "/_fakeapi/boot", map[string]string{"token": ""}, &boot); boot.Build != Build2026 {
		t.Fatalf("a page booting after the change learns build %q", boot.Build)
	}
	for _, bad := range []map[string]any{{"build": "2025"}, {"drawing": "fancy"}} {
		if st := do(t, s, "POST", "/_fake/config", bad, nil); st != 400 {
			t.Fatalf("POST config %v: %d, want 400", bad, st)
		}
	}
	if o := s.Options(); o.Build != Build2026 || o.Drawing != DrawingUnknown {
		t.Fatalf("a refused POST changed the options: %+v", o)
	}
	do(t, s, "POST", "/_fake/config", map[string]any{"build": "", "drawing": "", "lid_suffix": ""}, &c)
	if c["build"] != "" || c["drawing"] != "" || c["lid_suffix"] != "77" {
		t.Fatalf("back to the defaults: %v", c)
	}
}
