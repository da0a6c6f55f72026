package console

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/internal/testclock"
	"github.com/wapool/wapool/internal/testpki"
	"github.com/wapool/wapool/supervisor"
)

const (
	opsAToken  = "ops-a-token-0123456789abcdef-0123"
	sendAToken = "send-a-token-0123456789abcdef-012"
)

// scopedTokens is what the daemon passes: ops on a-*, send (read-only) on
// a-1.
func scopedTokens(tok string) (Access, bool) {
	switch tok {
	case opsAToken:
		return Access{Tenant: func(id string) bool { return strings.HasPrefix(id, "a-") }}, true
	case sendAToken:
		return Access{Tenant: func(id string) bool { return id == "a-1" }, ReadOnly: true}, true
	}
	return Access{}, false
}

func scopedFake() *fakeSup {
	f := newFake()
	f.sessions = []supervisor.Session{
		{TenantID: "a-1", State: supervisor.StateReady, Linked: true},
		{TenantID: "b-1", State: supervisor.StateReady, Linked: true},
		{TenantID: "a-2", State: supervisor.StateUnlinked},
	}
	f.png = []byte("\x89PNG")
	return f
}

// signIn signs c in with token through the login form.
func (c *client) signIn(token string) *http.Response {
	c.t.Helper()
	lc := c.csrf("/login")
	resp, _ := c.do("POST", "/login", url.Values{"csrf": {lc}, "token": {token}}, nil)
	return resp
}

// TestScopedConsole: signed in with a token scoped to a-*, the console lists
// only a-* and refuses the pages and actions of b-1 (and of a missing b-*
// alike); a read-only token sees its tenant but may not act on it.
func TestScopedConsole(t *testing.T) {
	sup := scopedFake()
	ts := serve(t, sup, Options{Tokens: scopedTokens})
	c := newClient(t, ts.URL)
	if resp := c.signIn(opsAToken); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}

	resp, raw := c.get("/api/sessions")
	var api struct{ Sessions []sessionView }
	if err := json.Unmarshal([]byte(raw), &api); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/sessions: %d %v", resp.StatusCode, err)
	}
	var ids []string
	for _, s := range api.Sessions {
		ids = append(ids, s.TenantID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a-1", "a-2"}) {
		t.Errorf("the a-* token lists %v, want a-1 a-2", ids)
	}
	if _, body := c.get("/"); !strings.Contains(body, `data-tenant="a-1"`) || strings.Contains(body, "b-1") {
		t.Errorf("the sessions page shows b-1 or not a-1:\n%s", body)
	}

	tok := c.csrf("/t/a-1")
	for _, id := range []string{"b-1", "b-404"} {
		for _, req := range []struct {
			method, path string
			form         url.Values
		}{
			{"GET", "/t/" + id, nil},
			{"GET", "/api/tenants/" + id, nil},
			{"GET", "/t/" + id + "/screenshot.png", nil},
			{"GET", "/t/" + id + "/logout", nil},
			{"POST", "/t/" + id + "/logout", url.Values{"csrf": {tok}, "confirm": {id}}},
			{"POST", "/t/" + id + "/link", url.Values{"csrf": {tok}}},
		} {
			resp, body := c.do(req.method, req.path, req.form, nil)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "outside this token") {
				t.Errorf("%s %s: %d, want 403 outside this token's tenants", req.method, req.path, resp.StatusCode)
			}
		}
	}
	if len(sup.logouts()) != 0 || len(sup.links()) != 0 {
		t.Fatalf("refused requests reached the supervisor: %v %v", sup.logouts(), sup.links())
	}
	if resp, body := c.get("/t/a-1"); resp.StatusCode != 200 || !strings.Contains(body, `id="link-card"`) || !strings.Contains(body, `id="logout-card"`) {
		t.Errorf("GET /t/a-1 with ops: %d, want the link and logout cards", resp.StatusCode)
	}
	if resp, _ := c.get("/t/a-1/screenshot.png"); resp.StatusCode != 200 {
		t.Errorf("screenshot of a-1 with ops: %d", resp.StatusCode)
	}

	// Read-only (role send): a-1 only, and no action.
	ro := newClient(t, ts.URL)
	if resp := ro.signIn(sendAToken); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	resp, body := ro.get("/t/a-1")
	if resp.StatusCode != 200 || strings.Contains(body, `id="link-card"`) || strings.Contains(body, `id="logout-card"`) || !strings.Contains(body, `id="read-only"`) {
		t.Errorf("GET /t/a-1 read-only: %d, want no link or logout card:\n%s", resp.StatusCode, body)
	}
	if resp, _ := ro.get("/t/a-2"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /t/a-2 with a token for a-1: %d", resp.StatusCode)
	}
	rtok := ro.csrf("/t/a-1")
	for _, req := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/t/a-1/screenshot.png", nil},
		{"GET", "/t/a-1/logout", nil},
		{"POST", "/t/a-1/logout", url.Values{"csrf": {rtok}, "confirm": {"a-1"}}},
		{"POST", "/t/a-1/link", url.Values{"csrf": {rtok}}},
	} {
		if resp, _ := ro.do(req.method, req.path, req.form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("read-only %s %s: %d, want 403", req.method, req.path, resp.StatusCode)
		}
	}
	if len(sup.logouts()) != 0 || len(sup.links()) != 0 {
		t.Fatalf("refused requests reached the supervisor: %v %v", sup.logouts(), sup.links())
	}
}

// countingObserver counts refused sign-ins.
type countingObserver struct {
	mu                 sync.Mutex
	failed, throttled  int
	failedS, throttleS []string
}

func (o *countingObserver) AuthFailed(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed++
	o.failedS = append(o.failedS, s)
}

func (o *countingObserver) AuthThrottled(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.throttled++
	o.throttleS = append(o.throttleS, s)
}

func (o *countingObserver) counts() (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed, o.throttled
}

// TestFifthWrongSignInIsDelayed: after 4 wrong tokens from one address the
// 5th sign-in waits (429, Retry-After), unchecked even with the right
// token; every failure is counted; once the delay passed the right token
// signs in.
func TestFifthWrongSignInIsDelayed(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	obs := &countingObserver{}
	ts := serve(t, scopedFake(), Options{Tokens: scopedTokens, Now: clock.Now, Observer: obs})
	c := newClient(t, ts.URL)
	for i := 1; i <= 4; i++ {
		if resp := c.signIn("wrong-" + opsAToken); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong sign-in %d: %d, want 401", i, resp.StatusCode)
		}
	}
	lc := c.csrf("/login")
	resp, body := c.do("POST", "/login", url.Values{"csrf": {lc}, "token": {opsAToken}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "try again in 1 s") {
		t.Fatalf("5th sign-in: %d, Retry-After %q, want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, k := range resp.Cookies() {
		if k.Name == sessionCookie && k.MaxAge >= 0 {
			t.Fatal("a throttled sign-in opened a session")
		}
	}
	if f, th := obs.counts(); f != 4 || th != 1 || obs.failedS[0] != Surface {
		t.Errorf("observed %d failures, %d throttled (%v), want 4, 1 on %q", f, th, obs.failedS, Surface)
	}
	clock.Advance(time.Second)
	if resp := c.signIn(opsAToken); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in once the delay passed: %d", resp.StatusCode)
	}
}

// TestConsoleTransportRules: with tokens a non-loopback address needs TLS,
// a TLS-terminating proxy or --insecure; without tokens, loopback only,
// --insecure or not.
func TestConsoleTransportRules(t *testing.T) {
	tlsConf := &tls.Config{}
	for _, tc := range []struct {
		name string
		opts Options
		want error
	}{
		{"tokens, plain", Options{Tokens: scopedTokens}, ErrPlaintextTokens},
		{"tokens, TLS", Options{Tokens: scopedTokens, TLS: tlsConf}, nil},
		{"tokens, behind a proxy", Options{Tokens: scopedTokens, BehindTLSProxy: true}, nil},
		{"tokens, insecure", Options{Tokens: scopedTokens, Insecure: true}, nil},
		{"no tokens, insecure", Options{Insecure: true}, ErrInsecureAddr},
		{"no tokens, TLS", Options{TLS: tlsConf}, ErrInsecureAddr},
	} {
		c := New(newFake(), tc.opts)
		if err := c.CheckAddr("0.0.0.0:7441"); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: CheckAddr(0.0.0.0:7441) = %v, want %v", tc.name, err, tc.want)
		}
		if err := c.CheckAddr("127.0.0.1:7441"); err != nil {
			t.Errorf("%s: CheckAddr(loopback) = %v", tc.name, err)
		}
	}
}

// TestBehindTLSProxy: behind a TLS-terminating proxy the cookies are
// Secure, and sign-ins are counted by the address the proxy names.
func TestBehindTLSProxy(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ts := serve(t, scopedFake(), Options{Tokens: scopedTokens, BehindTLSProxy: true, Now: clock.Now})
	c := newClient(t, ts.URL)
	resp, body := c.get("/login")
	for _, k := range resp.Cookies() {
		if k.Name == loginCookie && !k.Secure {
			t.Errorf("login cookie without Secure behind a TLS proxy: %+v", k)
		}
	}
	// The cookie jar keeps Secure cookies from http:// to itself: post by
	// hand with the login cookie.
	var loginValue string
	for _, k := range resp.Cookies() {
		if k.Name == loginCookie {
			loginValue = k.Value
		}
	}
	lc := csrfMeta.FindStringSubmatch(body)[1]
	post := func(token, from string) *http.Response {
		form := url.Values{"csrf": {lc}, "token": {token}}
		req, _ := http.NewRequest("POST", ts.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "203.0.113.9, "+from)
		req.AddCookie(&http.Cookie{Name: loginCookie, Value: loginValue})
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for range 4 {
		if resp := post("wrong", "198.51.100.1"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong sign-in: %d", resp.StatusCode)
		}
	}
	if resp := post("wrong", "198.51.100.2"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d, want 401 (not throttled)", resp.StatusCode)
	}
	if resp := post(opsAToken, "198.51.100.1"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("5th sign-in of the first client: %d, want 429", resp.StatusCode)
	}
	resp = post(opsAToken, "198.51.100.3")
	var session *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == sessionCookie {
			session = k
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure {
		t.Errorf("sign-in behind a TLS proxy: %d, session cookie %+v, want Secure", resp.StatusCode, session)
	}
}

// TestConsoleServesTLS: with a KeyPair the console speaks HTTPS on a real
// listener, off loopback allowed with tokens, its cookies Secure; Reload
// puts a new certificate in force for the next handshakes.
func TestConsoleServesTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := x509.NewCertPool()
	writePair := func(cn string) {
		cert := selfSigned(t, cn, certFile, keyFile)
		pool.AddCert(cert)
	}
	writePair("console-1")
	kp, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c := New(scopedFake(), Options{Tokens: scopedTokens, TLS: kp.TLSConfig()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	jar, _ := cookiejar.New(nil)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "console.test"}}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cl := &client{t: t, base: "https://" + ln.Addr().String(), hc: hc}
	resp := cl.signIn(opsAToken)
	var session *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == sessionCookie {
			session = k
		}
	}
	if resp.StatusCode != http.StatusSeeOther || resp.TLS == nil || session == nil || !session.Secure {
		t.Fatalf("sign-in over TLS: %d, session cookie %+v", resp.StatusCode, session)
	}
	if resp, _ := cl.get("/api/sessions"); resp.StatusCode != 200 {
		t.Errorf("signed in over TLS: %d", resp.StatusCode)
	}
	if resp.TLS.PeerCertificates[0].Subject.CommonName != "console-1" {
		t.Errorf("served certificate %q", resp.TLS.PeerCertificates[0].Subject.CommonName)
	}

	writePair("console-2")
	if err := kp.Reload(); err != nil {
		t.Fatal(err)
	}
	transport.CloseIdleConnections()
	resp, _ = cl.get("/login")
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "console-2" {
		t.Errorf("after Reload the console serves %v, want console-2", resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kp.Reload(); err == nil {
		t.Error("Reload of a broken certificate succeeded")
	}
}

// selfSigned writes a certificate for "console.test" named cn, from a CA
// of its own, and its key; it returns the CA's certificate.
func selfSigned(t *testing.T, cn, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	ca, err := testpki.NewCA(cn + " CA")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue(cn, func(c *x509.Certificate) {
		c.DNSNames = []string{"console.test"}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca.Cert
}
