package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wapool/wapool/supervisor"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	fullPhone = "4915112345678"
	secret    = "Your code is 8842, do not share it"
)

func newFake() *fakeSup {
	now := time.Now()
	return &fakeSup{
		sessions: []supervisor.Session{
			{TenantID: "shop-1", State: supervisor.StateReady, Phone: fullPhone, Linked: true, LastActive: now.Add(-5 * time.Second),
				Running: true, PID: 4242, StartedAt: now.Add(-3 * time.Minute), Restarts: 2, MemoryBytes: 129_400_000, Queued: 1},
			{TenantID: "shop-2", State: supervisor.StateFailed, LastError: "crash loop: 5 deaths in 60s"},
		},
		messages: map[string][]supervisor.Message{
			"shop-1": {
				{ID: "0000000000000002aaaaaaaa", TenantID: "shop-1", To: "15550002222", Text: secret, State: supervisor.MessageQueued, CreatedAt: now},
				{ID: "0000000000000001bbbbbbbb", TenantID: "shop-1", To: "15550003333", Text: secret, State: supervisor.MessageFailed,
					ErrorReason: supervisor.ReasonRecipientNotOnWhatsApp, Error: "recipient not on WhatsApp", Attempts: 1, CreatedAt: now},
			},
		},
	}
}

// client is a browser stand-in: a cookie jar, no redirects followed.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) { return c.do("GET", path, nil, nil) }

var csrfMeta = regexp.MustCompile(`name="csrf-token" content="([^"]*)"`)

// csrf loads path and returns the page's CSRF token.
func (c *client) csrf(path string) string {
	c.t.Helper()
	resp, body := c.get(path)
	m := csrfMeta.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || m[1] == "" {
		c.t.Fatalf("GET %s: %d, no CSRF token in:\n%s", path, resp.StatusCode, body)
	}
	return m[1]
}

func serve(t *testing.T, sup Supervisor, opts Options) *httptest.Server {
	ts := httptest.NewServer(New(sup, opts))
	t.Cleanup(ts.Close)
	return ts
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	for _, tokens := range []bool{false, true} {
		opts := Options{}
		if tokens {
			opts.Tokens = TokenSet("s3cret")
		}
		ts := serve(t, newFake(), opts)
		c := newClient(t, ts.URL)
		for _, req := range []struct{ method, path string }{
			{"GET", "/"}, {"GET", "/t/shop-1"}, {"GET", "/api/sessions"}, {"GET", "/static/console.js"},
			{"GET", "/static/console.css"}, {"GET", "/login"}, {"GET", "/nope"}, {"POST", "/t/shop-1/logout"},
			{"GET", "/t/shop-1/screenshot.png"}, {"GET", "/t/shop-1/logout"},
		} {
			resp, _ := c.do(req.method, req.path, url.Values{}, nil)
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
				strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") ||
				!strings.Contains(csp, "default-src 'none'") {
				t.Errorf("tokens=%v %s %s: CSP %q", tokens, req.method, req.path, csp)
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("tokens=%v %s %s: headers %v", tokens, req.method, req.path, h)
			}
		}
	}
}

// The pages carry no inline script, event handler or style attribute: the
// CSP would block them, so they would be broken features.
func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	ts := serve(t, newFake(), Options{})
	c := newClient(t, ts.URL)
	const ours = `<script src="/static/console.js" defer></script>`
	handlers := regexp.MustCompile(`(?i)\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:`)
	for _, p := range []string{"/", "/t/shop-1", "/t/new-one", "/t/shop-1/logout", "/nope", "/?loggedout=shop-9"} {
		_, body := c.get(p)
		if n := strings.Count(strings.ToLower(body), "<script"); n != 1 || !strings.Contains(body, ours) {
			t.Errorf("GET %s: %d script tags, want only %s", p, n, ours)
		}
		if m := handlers.FindString(body); m != "" {
			t.Errorf("GET %s has an inline handler or style: %q", p, m)
		}
	}
}

func TestPhonesMaskedAndTextsNeverShown(t *testing.T) {
	ts := serve(t, newFake(), Options{})
	c := newClient(t, ts.URL)
	for _, p := range []string{"/", "/t/shop-1", "/api/sessions", "/api/tenants/shop-1", "/t/shop-1/logout"} {
		_, body := c.get(p)
		for _, leak := range []string{fullPhone, "15112345678", "15550002222", "5550002222", secret, "8842"} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %s shows %q", p, leak)
			}
		}
	}
	_, body := c.get("/t/shop-1")
	for _, want := range []string{"…5678", "…2222", "…3333", "RECIPIENT_NOT_ON_WHATSAPP", "QUEUED", "FAILED", "129 MB", "running, pid 4242, up 3 min"} {
		if !strings.Contains(body, want) {
			t.Errorf("the tenant page lacks %q", want)
		}
	}
	var api struct {
		Sessions []sessionView `json:"sessions"`
	}
	_, raw := c.get("/api/sessions")
	if err := json.Unmarshal([]byte(raw), &api); err != nil || len(api.Sessions) != 2 {
		t.Fatalf("GET /api/sessions: %v\n%s", err, raw)
	}
	if s := api.Sessions[0]; s.TenantID != "shop-1" || s.State != "READY" || s.Phone != "…5678" || s.Queued != 1 ||
		s.Restarts != 2 || s.Memory != "129 MB" || s.LastActiveText != "5 s ago" {
		t.Errorf("shop-1 shows as %+v", s)
	}
	if s := api.Sessions[1]; s.State != "FAILED" || s.LastError == "" || s.Phone != "" || s.Memory != "—" {
		t.Errorf("shop-2 shows as %+v", s)
	}
}

func TestTokensRequired(t *testing.T) {
	sup := newFake()
	var mu sync.Mutex // guards tokens
	tokens := map[string]bool{"s3cret": true}
	valid := func(tok string) (Access, bool) { mu.Lock(); defer mu.Unlock(); return Access{}, tokens[tok] }
	ts := serve(t, sup, Options{Tokens: valid})
	c := newClient(t, ts.URL)

	// Nothing is served without a session.
	resp, body := c.get("/t/shop-1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Ft%2Fshop-1" {
		t.Fatalf("GET /t/shop-1 without a token: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/api/sessions", "/api/tenants/shop-1"} {
		if resp, body = c.get(p); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "shop-1\"") {
			t.Fatalf("GET %s without a token: %d %s", p, resp.StatusCode, body)
		}
	}
	if resp, _ = c.do("POST", "/t/shop-1/logout", url.Values{"confirm": {"shop-1"}}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST logout without a token: %d", resp.StatusCode)
	}
	if resp, _ = c.do("POST", "/t/shop-1/link", url.Values{}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST link without a token: %d", resp.StatusCode)
	}
	if len(sup.logouts()) != 0 || len(sup.links()) != 0 {
		t.Fatalf("the supervisor was called: %v %v", sup.logouts(), sup.links())
	}

	// The login form: its CSRF token, then the token.
	lc := c.csrf("/login?next=/t/shop-1")
	if resp, _ = c.do("POST", "/login", url.Values{"token": {"s3cret"}, "next": {"/t/shop-1"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without its CSRF token: %d", resp.StatusCode)
	}
	lc = c.csrf("/login")
	if resp, body = c.do("POST", "/login", url.Values{"csrf": {lc}, "token": {"wrong"}}, nil); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong token") {
		t.Fatalf("login with a wrong token: %d", resp.StatusCode)
	}
	lc = c.csrf("/login")
	resp, _ = c.do("POST", "/login", url.Values{"csrf": {lc}, "token": {"s3cret"}, "next": {"//evil.example/x"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d → %q, want 303 → / (never off-site)", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck, login *http.Cookie
	for _, k := range resp.Cookies() {
		switch k.Name {
		case sessionCookie:
			ck = k
		case loginCookie:
			login = k
		}
	}
	if login == nil || login.MaxAge >= 0 || login.Path != "/login" {
		t.Errorf("the login form's cookie is not cleared: %+v", login)
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || len(ck.Value) < 40 || ck.Path != "/" {
		t.Fatalf("session cookie %+v", ck)
	}
	if resp, body = c.get("/t/shop-1"); resp.StatusCode != 200 || !strings.Contains(body, "Sign out") {
		t.Fatalf("signed in, GET /t/shop-1: %d", resp.StatusCode)
	}

	// A withdrawn token ends its sessions at the next request.
	mu.Lock()
	delete(tokens, "s3cret")
	mu.Unlock()
	if resp, _ = c.get("/api/sessions"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/sessions after the token was withdrawn: %d", resp.StatusCode)
	}
}

func TestSignOut(t *testing.T) {
	ts := serve(t, newFake(), Options{Tokens: TokenSet("s3cret")})
	c := newClient(t, ts.URL)
	lc := c.csrf("/login")
	if resp, _ := c.do("POST", "/login", url.Values{"csrf": {lc}, "token": {"s3cret"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	tok := c.csrf("/")
	if resp, _ := c.do("POST", "/signout", url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("sign out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := c.get("/api/sessions"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out: %d", resp.StatusCode)
	}
}

func TestPostsNeedTheirCSRFToken(t *testing.T) {
	sup := newFake()
	ts := serve(t, sup, Options{})
	c := newClient(t, ts.URL)
	tok := c.csrf("/t/shop-1")
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{"confirm": {"shop-1"}}, nil},
		{"wrong token", url.Values{"confirm": {"shop-1"}, "csrf": {tok + "x"}}, nil},
		{"wrong header", url.Values{"confirm": {"shop-1"}}, map[string]string{csrfHeader: "nope"}},
		{"cross-site", url.Values{"confirm": {"shop-1"}, "csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"other origin", url.Values{"confirm": {"shop-1"}, "csrf": {tok}}, map[string]string{"Origin": "http://evil.example"}},
	} {
		resp, _ := c.do("POST", "/t/shop-1/logout", tc.form, tc.header)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, resp.StatusCode)
		}
	}
	if resp, _ := c.do("POST", "/t/shop-1/link", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("link without a token: %d", resp.StatusCode)
	}
	// A fresh client (no cookie) cannot post either.
	if resp, _ := newClient(t, ts.URL).do("POST", "/t/shop-1/logout", url.Values{"confirm": {"shop-1"}, "csrf": {tok}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another browser with a stolen token: %d", resp.StatusCode)
	}
	if got := sup.logouts(); len(got) != 0 || len(sup.links()) != 0 {
		t.Fatalf("refused posts reached the supervisor: %v %v", got, sup.links())
	}
	// The confirmation is needed too.
	if resp, _ := c.do("POST", "/t/shop-1/logout", url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("logout without confirm: %d", resp.StatusCode)
	}
	resp, _ := c.do("POST", "/t/shop-1/logout", url.Values{"csrf": {tok}, "confirm": {"shop-1"}}, map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"} /* as Chromium sends it under no-referrer */)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?loggedout=shop-1" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := sup.logouts(); len(got) != 1 || got[0] != "shop-1" {
		t.Fatalf("logouts %v", got)
	}
	if _, body := c.get("/?loggedout=shop-1"); !strings.Contains(body, "was logged out and deleted") {
		t.Errorf("no notice after the logout")
	}
}

func TestLoopbackOnlyWithoutTokens(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		tokens bool
		ok     bool
	}{
		{"127.0.0.1:8080", false, true}, {"[::1]:8080", false, true}, {"localhost:8080", false, true},
		{"127.0.0.2:0", false, true}, {":8080", false, false}, {"0.0.0.0:8080", false, false},
		{"10.0.0.5:8080", false, false}, {"example.com:8080", false, false}, {"8080", false, false},
	} {
		opts := Options{}
		if tc.tokens {
			opts.Tokens = TokenSet("s3cret")
		}
		err := New(newFake(), opts).CheckAddr(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%q, tokens=%v) = %v, want ok=%v", tc.addr, tc.tokens, err, tc.ok)
		}
		if !tc.ok && strings.Contains(tc.addr, ":") && !errors.Is(err, ErrInsecureAddr) {
			t.Errorf("CheckAddr(%q) = %v, want ErrInsecureAddr", tc.addr, err)
		}
	}
	c := New(newFake(), Options{})
	if _, err := c.Listen("0.0.0.0:0"); !errors.Is(err, ErrInsecureAddr) {
		t.Errorf("Listen on every interface without tokens: %v", err)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Serve(context.Background(), ln); !errors.Is(err, ErrInsecureAddr) {
		t.Errorf("Serve on every interface without tokens: %v", err)
	}
	// A request naming another host (DNS rebinding) is refused too.
	ts := serve(t, newFake(), Options{})
	req, _ := http.NewRequest("GET", ts.URL+"/api/sessions", nil)
	req.Host = "rebind.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host rebind.example: %d, want 421", resp.StatusCode)
	}
}

// readLink posts a link and returns its NDJSON events.
func readLink(t *testing.T, c *client, tenant, phone string) (int, []linkEvent) {
	t.Helper()
	tok := c.csrf("/t/" + tenant)
	form := url.Values{"csrf": {tok}}
	if phone != "" {
		form.Set("phone", phone)
	}
	resp, body := c.do("POST", "/t/"+tenant+"/link", form, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("link: content type %q", ct)
	}
	var evs []linkEvent
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev linkEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("link line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return resp.StatusCode, evs
}

func TestLinkStream(t *testing.T) {
	sup := newFake()
	sup.link = []supervisor.LinkEvent{
		{QR: &supervisor.QRCode{Code: "2@abc,def,ghi,jkl", Sequence: 1, ValidFor: time.Minute}}, // no PNG: drawn here
		{QR: &supervisor.QRCode{Code: "2@xyz,def,ghi,jkl", PNG: []byte("page-png"), Sequence: 2, ValidFor: 20 * time.Second}},
		{Linked: &supervisor.Linked{Phone: fullPhone}},
	}
	ts := serve(t, sup, Options{})
	c := newClient(t, ts.URL)
	code, evs := readLink(t, c, "new-one", "")
	if code != 200 || len(evs) != 4 || evs[0].Type != "waiting" || evs[1].Type != "qr" || evs[2].Type != "qr" || evs[3].Type != "linked" {
		t.Fatalf("link: %d %+v", code, evs)
	}
	if evs[1].Code != "2@abc,def,ghi,jkl" || evs[1].Seq != 1 || evs[1].ValidForMS != 60000 {
		t.Errorf("first QR %+v", evs[1])
	}
	if img, err := png.Decode(bytes.NewReader(evs[1].PNG)); err != nil || img.Bounds().Dx() < 200 {
		t.Errorf("the QR drawn from the code is no PNG: %v", err)
	}
	if string(evs[2].PNG) != "page-png" {
		t.Errorf("the page's own PNG was not passed on: %q", evs[2].PNG)
	}
	if evs[3].Phone != "…5678" || strings.Contains(fmtJSON(evs), fullPhone) {
		t.Errorf("linked event shows %q", evs[3].Phone)
	}

	sup.mu.Lock()
	sup.link = []supervisor.LinkEvent{{Pairing: &supervisor.PairingCode{Code: "ABCD2FGH", Sequence: 1, ValidFor: 3 * time.Minute}}}
	sup.linkErr = supervisor.ErrCodesExhausted
	sup.mu.Unlock()
	code, evs = readLink(t, c, "new-two", "+49 151 1234 5678")
	if code != 200 || len(evs) != 3 || evs[1].Type != "pairing" || evs[1].Code != "ABCD-2FGH" || evs[2].Type != "error" || evs[2].Status != http.StatusGatewayTimeout {
		t.Fatalf("pairing link: %d %+v", code, evs)
	}
	if links := sup.links(); links[len(links)-1] != "new-two +49 151 1234 5678" {
		t.Errorf("Link called with %q", links[len(links)-1])
	}

	if code, evs = readLink(t, c, "new-three", "12ab"); code != http.StatusBadRequest || len(evs) != 1 || evs[0].Type != "error" {
		t.Fatalf("bad phone: %d %+v", code, evs)
	}
	if strings.Contains(evs[0].Error, "12ab") {
		t.Errorf("the error quotes the raw phone: %q", evs[0].Error)
	}
}

func fmtJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestScreenshot(t *testing.T) {
	sup := newFake()
	ts := serve(t, sup, Options{})
	c := newClient(t, ts.URL)
	resp, body := c.get("/t/shop-1/screenshot.png")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "no running browser") {
		t.Fatalf("screenshot without a browser: %d %q", resp.StatusCode, body)
	}
	sup.mu.Lock()
	sup.png = []byte("\x89PNG fake")
	sup.mu.Unlock()
	resp, body = c.get("/t/shop-1/screenshot.png")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || body != "\x89PNG fake" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("screenshot: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ = c.get("/t/nobody/screenshot.png"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("screenshot of an unknown tenant: %d", resp.StatusCode)
	}
}

func TestTenantPages(t *testing.T) {
	ts := serve(t, newFake(), Options{})
	c := newClient(t, ts.URL)
	if resp, body := c.get("/t/brand-new"); resp.StatusCode != 200 || !strings.Contains(body, "does not exist yet") {
		t.Fatalf("a new tenant's page: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/t/..%2Fetc"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad tenant id: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/t?id=shop-7"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/t/shop-7" {
		t.Errorf("open shop-7: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := c.get("/t?id=a%20b"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("open a bad id: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/t/nobody/logout"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("logout page of an unknown tenant: %d", resp.StatusCode)
	}
	var st tenantState
	_, raw := c.get("/api/tenants/brand-new")
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st.Exists || st.Session != nil || st.Messages == nil {
		t.Fatalf("API of a new tenant: %v %s", err, raw)
	}
}

func TestSessionsTableIsBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	ss := newSessions(3, clock)
	var ids []string
	for range 4 {
		id, _ := ss.create("", time.Hour)
		ids = append(ids, id)
		now = now.Add(time.Second)
	}
	if ss.len() != 3 {
		t.Fatalf("%d sessions, want 3", ss.len())
	}
	if _, ok := ss.get(ids[0]); ok {
		t.Error("the oldest session survived")
	}
	if _, ok := ss.get(ids[3]); !ok {
		t.Error("the newest session is gone")
	}
	now = now.Add(time.Hour)
	if _, ok := ss.get(ids[3]); ok {
		t.Error("an expired session is still valid")
	}
	ss.create("", time.Hour)
	if ss.len() != 1 {
		t.Errorf("expired sessions were not swept: %d left", ss.len())
	}
}

func TestTokenSetAndLocalPath(t *testing.T) {
	if TokenSet() != nil || TokenSet("") != nil {
		t.Error("TokenSet of no token is not nil")
	}
	ok := TokenSet("a1", "b2")
	for tok, want := range map[string]bool{"a1": true, "b2": true, "": false, "a": false, "a1 ": false, "c3": false} {
		if a, got := ok(tok); got != want || a.Tenant != nil || a.ReadOnly {
			t.Errorf("TokenSet(a1, b2)(%q) = %v", tok, !want)
		}
	}
	for in, want := range map[string]string{
		"/t/x": "/t/x", "/": "/", "": "/", "//evil.example": "/", "https://evil.example/": "/",
		"/\\evil.example": "/", "t/x": "/", "/t/x?y=1": "/t/x?y=1",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServeStopsWithItsContext(t *testing.T) {
	sup := newFake()
	sup.link = []supervisor.LinkEvent{{QR: &supervisor.QRCode{Code: "2@abc", PNG: []byte("x"), Sequence: 1}}}
	sup.linkBlock = true
	c := New(sup, Options{})
	ln, err := c.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	cl := newClient(t, "http://"+ln.Addr().String())
	tok := cl.csrf("/t/shop-1")
	// Open a link stream that only ends with the server.
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/t/shop-1/link", strings.NewReader("phone="))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(csrfHeader, tok)
	resp, err := cl.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for range 2 { // waiting, qr
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(shutdownTimeout + 2*time.Second):
		t.Fatal("Serve did not return")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Serve took %v to stop with a link stream open", d)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener is still open")
	}
}
