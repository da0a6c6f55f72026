package console

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/authlimit"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// Supervisor is what the console needs of the supervisor; the daemon passes
// its *supervisor.Supervisor.
type Supervisor interface {
	ListSessions(ctx context.Context) ([]supervisor.Session, error)
	Status(ctx context.Context, id string) (supervisor.Session, error)
	// Link creates the tenant when new and calls emit for every event of the
	// attempt until it links, its codes run out, or ctx ends.
	Link(ctx context.Context, id, phone string, emit func(supervisor.LinkEvent) error) error
	Screenshot(ctx context.Context, id string) ([]byte, error)
	Logout(ctx context.Context, id string) error
	// RecentMessages returns the tenant's newest messages, newest first,
	// without their text.
	RecentMessages(ctx context.Context, tenantID string, limit int) ([]supervisor.Message, error)
}

var _ Supervisor = (*supervisor.Supervisor)(nil)

// Options configure a Console. The zero value is a loopback-only console
// without sign-in, with the defaults named on each field.
type Options struct {
	// Tokens reports whether token is one of the accepted tokens, and what
	// it may do, in constant time (TokenSet builds one; the daemon passes
	// the API's, with each token's scope). nil means no tokens: no sign-in,
	// and the console serves only on loopback. With tokens, every request
	// needs a console session, which the login form opens for a valid
	// token; the token is asked again at every request, so one that stops
	// being valid ends its sessions, and a changed scope applies at once.
	Tokens func(token string) (Access, bool)
	// TLS, when set, makes Serve speak HTTPS with it (certificates through
	// Certificates or GetCertificate); nil: plain HTTP.
	TLS *tls.Config
	// BehindTLSProxy says a TLS-terminating proxy serves the console to its
	// users: cookies get the Secure flag, a non-loopback address is
	// allowed with tokens and no TLS, and sign-ins are counted by the last
	// X-Forwarded-For address. Default false.
	BehindTLSProxy bool
	// Insecure allows a non-loopback address with tokens and neither TLS
	// nor BehindTLSProxy: tokens and cookies then cross the network in
	// clear. It never allows a non-loopback address without tokens.
	// Default false.
	Insecure bool
	// Limiter counts wrong sign-ins per client address; nil: one of its
	// own with authlimit's defaults (the daemon shares the API's).
	Limiter *authlimit.Limiter
	// Observer counts refused sign-ins; nil: none.
	Observer AuthObserver
	// SessionTTL is how long a console session lasts after sign-in (an
	// absolute expiry; without tokens, after the first visit); 0: 12h.
	SessionTTL time.Duration
	// MaxSessions bounds the console sessions kept at once; when full, the
	// one nearest its expiry is dropped. 0: 1000.
	MaxSessions int
	// RecentMessages is how many of a tenant's newest messages its page
	// lists; 0: 20.
	RecentMessages int
	// Refresh is how often the pages poll the sessions' state; 0: 1s.
	Refresh time.Duration
	// ScreenshotTimeout bounds one screenshot of a tenant's page; 0: 15s.
	ScreenshotTimeout time.Duration
	// Log receives sign-ins, refused requests and failed calls (never a
	// token, a full phone number or a message text); nil: no logs.
	Log *zap.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 1000
	}
	if o.RecentMessages <= 0 {
		o.RecentMessages = 20
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.ScreenshotTimeout <= 0 {
		o.ScreenshotTimeout = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Limiter == nil {
		o.Limiter = authlimit.New(authlimit.Config{Now: o.Now})
	}
}

// Console is the web console, an http.Handler. Serve runs it on a listener;
// its methods are safe for concurrent use.
type Console struct {
	sup      Supervisor
	opts     Options
	log      *zap.Logger
	sessions *sessions
	loginKey []byte // HMAC key of the login form's CSRF tokens; random per Console
	limiter  *authlimit.Limiter
	mux      *http.ServeMux
	static   http.Handler
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// staticFiles are served to anyone, signed in or not (the login page needs
// the style sheet); nothing else under /static/ is.
var staticFiles = map[string]bool{"/static/console.js": true, "/static/console.css": true}

// pages are the parsed templates, each page with the layout.
var pages = parsePages("sessions", "tenant", "logout", "login", "error")

func parsePages(names ...string) map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, n := range names {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

// New returns a console over sup.
func New(sup Supervisor, opts Options) *Console {
	opts.defaults()
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	c := &Console{
		sup:      sup,
		opts:     opts,
		log:      opts.Log.Named("console"),
		sessions: newSessions(opts.MaxSessions, opts.Now),
		loginKey: key,
		limiter:  opts.Limiter,
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	c.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	c.mux = c.routes()
	return c
}

// tokens reports whether sign-in with a token is on.
func (c *Console) tokens() bool { return c.opts.Tokens != nil }

// routes are the endpoints that need a console session (ServeHTTP checks
// it first). The doc comment of the package lists them.
func (c *Console) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", c.sessionsPage)
	m.HandleFunc("GET /t", c.openTenant)
	m.HandleFunc("GET /t/{id}", c.tenantPage)
	m.HandleFunc("POST /t/{id}/link", c.link)
	m.HandleFunc("GET /t/{id}/screenshot.png", c.screenshot)
	m.HandleFunc("GET /t/{id}/logout", c.logoutPage)
	m.HandleFunc("POST /t/{id}/logout", c.logout)
	m.HandleFunc("GET /api/sessions", c.apiSessions)
	m.HandleFunc("GET /api/tenants/{id}", c.apiTenant)
	m.HandleFunc("POST /signout", c.signOut)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, http.StatusNotFound, "No such page.")
	})
	return m
}

// ServeHTTP sets the security headers, refuses what needs refusing (a
// non-loopback Host without tokens, a request without a console session, a
// POST without its CSRF token) and hands the rest to the routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if !c.tokens() && !loopbackHost(r.Host) {
		c.log.Warn("refused a request for a non-loopback host without tokens", zap.String("host", r.Host), zap.String("remote", r.RemoteAddr))
		http.Error(w, "this console has no tokens configured and answers only on a loopback address (127.0.0.1, ::1, localhost)", http.StatusMisdirectedRequest)
		return
	}
	switch r.URL.Path {
	case "/favicon.ico":
		w.WriteHeader(http.StatusNoContent)
		return
	case "/login":
		c.login(w, r)
		return
	}
	if staticFiles[r.URL.Path] && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Cache-Control", "no-cache")
		c.static.ServeHTTP(w, r)
		return
	}
	s, access, ok := c.session(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := c.checkCSRF(r, s); err != nil {
			c.log.Warn("refused a request", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr), zap.Error(err))
			c.refuse(w, r, http.StatusForbidden, err.Error())
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r.WithContext(withSession(r.Context(), s, access)))
}

// errOutOfScope: a tenant the signed-in token does not cover.
var errOutOfScope = errors.New("outside this token's tenants")

// errReadOnly: an action the signed-in token may not take.
var errReadOnly = errors.New("this token may look but not link, take screenshots or log out (role send)")

// check returns nil when the request's token covers tenant id and, when
// act, may act on it; else errOutOfScope or errReadOnly, which the handler
// answers with 403 (and logs here). An id that is not valid passes: the
// handler answers 400. The answer never depends on whether the tenant
// exists.
func (c *Console) check(r *http.Request, id string, act bool) error {
	a := accessFrom(r.Context())
	var err error
	switch {
	case sessionstore.ValidateTenantID(id) == nil && !a.covers(id):
		err = fmt.Errorf("tenant %q is %w", id, errOutOfScope)
	case act && a.ReadOnly:
		err = errReadOnly
	default:
		return nil
	}
	c.log.Info("refused a request", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr), zap.Error(err))
	return err
}

// refuse answers a refused request: JSON for the API and the script, a page
// otherwise.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if wantsJSON(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	c.errorPage(w, r, code, msg)
}

// wantsJSON: a call of the script or the API rather than a page view.
func wantsJSON(r *http.Request) bool {
	return r.Header.Get(csrfHeader) != "" || strings.HasPrefix(r.URL.Path, "/api/") ||
		r.Header.Get("Accept") == "application/json" || r.Header.Get("Accept") == "application/x-ndjson"
}

// httpStatus maps a supervisor error to an HTTP status.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, errOutOfScope), errors.Is(err, errReadOnly):
		return http.StatusForbidden
	case errors.Is(err, supervisor.ErrInvalidTenantID), errors.Is(err, supervisor.ErrInvalidPhone):
		return http.StatusBadRequest
	case errors.Is(err, supervisor.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, supervisor.ErrNotLinked), errors.Is(err, supervisor.ErrSessionFailed),
		errors.Is(err, supervisor.ErrNotRunning), errors.Is(err, supervisor.ErrProfileLocked):
		return http.StatusConflict
	case errors.Is(err, supervisor.ErrUnavailable), errors.Is(err, supervisor.ErrNoCapacity), errors.Is(err, supervisor.ErrQueueFull):
		return http.StatusServiceUnavailable
	case errors.Is(err, supervisor.ErrCodesExhausted), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// errorText is what a person reads of err.
func errorText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "the daemon did not answer in time"
	}
	return fmt.Sprint(err) // the supervisor's errors quote ids and mask phones: fit for display
}
