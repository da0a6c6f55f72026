package console

// Console sessions, sign-in and CSRF.
//
// A console session is a random 32-byte id in the cookie sessionCookie
// (HttpOnly, SameSite=Strict, Path=/, Secure over TLS and behind a
// TLS-terminating proxy); the server keeps,
// under the SHA-256 of that id, the session's CSRF token, its expiry and the
// token it signed in with. With Options.Tokens a session exists only after a
// sign-in; without, the first request of a browser opens one (everybody on
// loopback may use the console, and the session only carries the CSRF
// token).
//
// The login form is protected without server state: GET /login sets a random
// value in loginCookie and puts HMAC(loginKey, value) in the form; POST
// /login needs both to match. A successful sign-in always opens a new session
// with a new id, so an id planted before cannot be used after (fixation).
//
// Wrong tokens are counted per client address (internal/authlimit, shared
// with the gRPC API in the daemon): from the 4th wrong one in a row, the
// address waits a growing delay before its next sign-in is even checked
// (429 with Retry-After). Each is logged with the address, never the token.
//
// Every request asks Options.Tokens again for the session's token: its
// Access (which tenants, and whether it may act) follows the tokens file as
// reloaded, and a withdrawn token ends its sessions.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

const (
	sessionCookie = "wapool_console"
	loginCookie   = "wapool_console_login"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
	// loginTTL is how long a login form stays valid.
	loginTTL = time.Hour
	// maxFormBytes bounds a POST body (a phone number, a token, a CSRF token).
	maxFormBytes = 16 << 10
)

var (
	errNoCSRF     = errors.New("missing or wrong CSRF token: reload the page and try again")
	errCrossSite  = errors.New("cross-site request refused")
	errFormTooBig = errors.New("request body too large")
)

// Surface names the console in AuthObserver calls and metrics.
const Surface = "console"

// Access is what a signed-in token may see and do. The zero value sees and
// does everything (a token with no scope, or no tokens at all).
type Access struct {
	// Tenant reports whether the token covers the tenant id; nil: every
	// tenant. The console lists and acts on those only.
	Tenant func(id string) bool
	// ReadOnly: the token may look at its tenants (state, messages) but not
	// link them, take screenshots or log them out (the API's role send).
	ReadOnly bool
}

// covers reports whether a covers the tenant id.
func (a Access) covers(id string) bool { return a.Tenant == nil || a.Tenant(id) }

// AuthObserver counts refused sign-ins (the daemon's metrics).
type AuthObserver interface {
	// AuthFailed counts a wrong token on surface ("console").
	AuthFailed(surface string)
	// AuthThrottled counts a sign-in refused unchecked: its address failed
	// too often and must still wait.
	AuthThrottled(surface string)
}

// TokenSet returns a Tokens func accepting exactly tokens (empty strings are
// ignored) with full Access, comparing in constant time: digests of equal
// length, every one compared, no early exit. With no token at all it
// returns nil (no tokens).
func TokenSet(tokens ...string) func(string) (Access, bool) {
	var sums [][sha256.Size]byte
	for _, t := range tokens {
		if t != "" {
			sums = append(sums, sha256.Sum256([]byte(t)))
		}
	}
	if len(sums) == 0 {
		return nil
	}
	return func(token string) (Access, bool) {
		sum := sha256.Sum256([]byte(token))
		match := 0
		for i := range sums {
			match |= subtle.ConstantTimeCompare(sum[:], sums[i][:])
		}
		return Access{}, match == 1 && token != ""
	}
}

// session is one console session; its fields do not change once made.
type session struct {
	csrf    string
	token   string // the token it signed in with; "" without tokens
	expires time.Time
}

// sessions is the table of console sessions.
type sessions struct {
	max int
	now func() time.Time

	mu   sync.Mutex                     // mu guards the field that follows
	byID map[[sha256.Size]byte]*session // key: SHA-256 of the cookie's id
}

func newSessions(max int, now func() time.Time) *sessions {
	return &sessions{max: max, now: now, byID: map[[sha256.Size]byte]*session{}}
}

// create opens a session and returns its cookie id.
func (ss *sessions) create(token string, ttl time.Duration) (string, *session) {
	id, csrf := randomString(), randomString()
	s := &session{csrf: csrf, token: token, expires: ss.now().Add(ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweepLocked()
	if len(ss.byID) >= ss.max {
		var oldest [sha256.Size]byte
		var at time.Time
		for k, v := range ss.byID {
			if at.IsZero() || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		delete(ss.byID, oldest)
	}
	ss.byID[sha256.Sum256([]byte(id))] = s
	return id, s
}

// get returns the live session of id.
func (ss *sessions) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[k]
	if ok && !ss.now().Before(s.expires) {
		delete(ss.byID, k)
		return nil, false
	}
	return s, ok
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, sha256.Sum256([]byte(id)))
}

func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byID)
}

// sweepLocked drops expired sessions.
func (ss *sessions) sweepLocked() {
	now := ss.now()
	for k, s := range ss.byID {
		if !now.Before(s.expires) {
			delete(ss.byID, k)
		}
	}
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

type sessionKey struct{}

// signedIn is a request's console session and what its token may do now.
type signedIn struct {
	s      *session
	access Access
}

func withSession(ctx context.Context, s *session, a Access) context.Context {
	return context.WithValue(ctx, sessionKey{}, signedIn{s: s, access: a})
}

func sessionFrom(ctx context.Context) *session {
	si, _ := ctx.Value(sessionKey{}).(signedIn)
	return si.s
}

// accessFrom returns what the request's token may do; full access outside
// a session (no tokens).
func accessFrom(ctx context.Context) Access {
	si, _ := ctx.Value(sessionKey{}).(signedIn)
	return si.access
}

// session returns the request's console session and its token's Access.
// Without tokens it opens one when there is none; with tokens it answers
// the request itself when there is none (a page: to the login form; the API
// or a POST: 401) and returns false.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (*session, Access, bool) {
	var id string
	if ck, err := r.Cookie(sessionCookie); err == nil {
		id = ck.Value
	}
	s, ok := c.sessions.get(id)
	var access Access
	if ok && c.tokens() {
		if access, ok = c.opts.Tokens(s.token); !ok {
			c.sessions.drop(id) // the token was withdrawn (tokens file reloaded)
		}
	}
	if ok {
		return s, access, true
	}
	if !c.tokens() && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		id, s = c.sessions.create("", c.opts.SessionTTL)
		c.setSessionCookie(w, r, id)
		return s, Access{}, true
	}
	if !c.tokens() {
		// A POST from a browser that never loaded a page here cannot
		// carry a CSRF token.
		c.refuse(w, r, http.StatusForbidden, errNoCSRF.Error())
		return nil, Access{}, false
	}
	if r.Method == http.MethodGet && !wantsJSON(r) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return nil, Access{}, false
	}
	c.refuse(w, r, http.StatusUnauthorized, "sign in first: this console needs a token")
	return nil, Access{}, false
}

// secure tells whether cookies of r get the Secure flag: over TLS, and
// behind a TLS-terminating proxy (Options.BehindTLSProxy).
func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.opts.BehindTLSProxy }

func (c *Console) setSessionCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", MaxAge: int(c.opts.SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r),
	})
}

func (c *Console) clearCookie(w http.ResponseWriter, r *http.Request, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
}

// checkCSRF refuses a state-changing request that is cross-site or lacks the
// session's CSRF token (form field csrf or header X-CSRF-Token).
func (c *Console) checkCSRF(r *http.Request, s *session) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		if err := parseForm(r); err != nil {
			return err
		}
		got = r.PostForm.Get(csrfField)
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
		return errNoCSRF
	}
	return nil
}

// sameOrigin refuses a request a browser marks as coming from another site:
// a second line behind the CSRF token and SameSite=Strict. Browsers send
// Sec-Fetch-Site, which is enough; without it, an Origin naming another
// host is refused. (Under Referrer-Policy no-referrer a browser sends
// "Origin: null" even for our own forms, so null proves nothing either way.)
func sameOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return nil
	case "":
	default:
		return errCrossSite
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return errCrossSite
		}
	}
	return nil
}

// parseForm reads a bounded urlencoded (or multipart) body.
func parseForm(r *http.Request) error {
	if r.PostForm != nil {
		return nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxFormBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errFormTooBig
		}
		return err
	}
	return nil
}

// loginMAC is the login form's CSRF token for the value of its cookie.
func (c *Console) loginMAC(v string) string {
	m := hmac.New(sha256.New, c.loginKey)
	m.Write([]byte("login\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type loginData struct {
	Next  string
	Error string
}

// login serves GET and POST /login.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !c.tokens() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		c.loginForm(w, r, http.StatusOK, localPath(r.URL.Query().Get("next")), "")
	case http.MethodPost:
		c.loginPost(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		c.errorPage(w, r, http.StatusMethodNotAllowed, "Method not allowed.")
	}
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request, code int, next, msg string) {
	v := randomString()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v, Path: "/login", MaxAge: int(loginTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
	c.render(w, r, code, "login", pageMeta{Title: "Sign in", CSRF: c.loginMAC(v)}, loginData{Next: next, Error: msg})
}

func (c *Console) loginPost(w http.ResponseWriter, r *http.Request) {
	if err := sameOrigin(r); err != nil {
		c.errorPage(w, r, http.StatusForbidden, err.Error())
		return
	}
	if err := parseForm(r); err != nil {
		c.errorPage(w, r, http.StatusBadRequest, err.Error())
		return
	}
	next := localPath(r.PostForm.Get("next"))
	ck, err := r.Cookie(loginCookie)
	if err != nil || ck.Value == "" || !hmac.Equal([]byte(r.PostForm.Get(csrfField)), []byte(c.loginMAC(ck.Value))) {
		c.log.Warn("refused a sign-in without its CSRF token", zap.String("remote", r.RemoteAddr))
		c.loginForm(w, r, http.StatusForbidden, next, "The form was stale or not ours: sign in again.")
		return
	}
	client := c.clientAddr(r)
	if wait := c.limiter.Wait(client); wait > 0 {
		c.log.Info("refused a sign-in unchecked: its address failed too often", zap.String("remote", client), zap.Duration("wait", wait))
		if c.opts.Observer != nil {
			c.opts.Observer.AuthThrottled(Surface)
		}
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.loginForm(w, r, http.StatusTooManyRequests, next, fmt.Sprintf("Too many wrong tokens from this address: try again in %d s.", secs))
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		c.loginForm(w, r, http.StatusUnauthorized, next, "Enter a token.")
		return
	}
	if _, ok := c.opts.Tokens(token); !ok {
		n, delay := c.limiter.Failed(client)
		c.log.Warn("sign-in with a wrong token", zap.String("remote", client), zap.Int("failures_in_a_row", n), zap.Duration("next_checked_after", delay))
		if c.opts.Observer != nil {
			c.opts.Observer.AuthFailed(Surface)
		}
		msg := "Wrong token."
		if delay > 0 {
			msg += fmt.Sprintf(" Too many in a row: the next try is checked in %d s.", int((delay+time.Second-1)/time.Second))
		}
		c.loginForm(w, r, http.StatusUnauthorized, next, msg)
		return
	}
	c.limiter.Succeeded(client)
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.drop(ck.Value)
	}
	id, _ := c.sessions.create(token, c.opts.SessionTTL)
	c.setSessionCookie(w, r, id)
	c.clearCookie(w, r, loginCookie, "/login")
	c.log.Info("signed in", zap.String("remote", client))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// clientAddr is the address the sign-in limiter counts: the peer's, or
// behind a TLS-terminating proxy (Options.BehindTLSProxy) the last address
// of X-Forwarded-For, the one the proxy added.
func (c *Console) clientAddr(r *http.Request) string {
	if c.opts.BehindTLSProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(hops[len(hops)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	return r.RemoteAddr
}

// signOut ends the console session (POST /signout).
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.drop(ck.Value)
	}
	c.clearCookie(w, r, sessionCookie, "/")
	if c.tokens() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath returns p when it is a path on this host, else "/": a
// redirect after sign-in never leaves the console.
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}
