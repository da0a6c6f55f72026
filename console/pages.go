package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// pageMeta is what the layout needs of every page.
type pageMeta struct {
	Title     string
	CSRF      string // the session's CSRF token (the login form's on /login)
	SignedIn  bool   // signed in with a token: offer "Sign out"
	RefreshMS int64  // how often the script polls
	Page      string // the page's name, read by the script (body data-page)
	Tenant    string // the tenant of a tenant page (body data-tenant)
}

type pageData struct {
	Meta pageMeta
	Data any
}

// meta fills the parts of pageMeta every page of a session shares.
func (c *Console) meta(r *http.Request, page, title string) pageMeta {
	m := pageMeta{Title: title, SignedIn: c.tokens(), RefreshMS: c.opts.Refresh.Milliseconds(), Page: page}
	if s := sessionFrom(r.Context()); s != nil {
		m.CSRF = s.csrf
	}
	return m
}

// render executes a page into a buffer first, so a template error never
// leaves half a page behind.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, page string, m pageMeta, data any) {
	if m.Page == "" {
		m.Page = page
	}
	var buf bytes.Buffer
	if err := pages[page].Execute(&buf, pageData{Meta: m, Data: data}); err != nil {
		c.log.Error("rendering a page", zap.String("page", page), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorData struct {
	Code    int
	Status  string
	Message string
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	c.render(w, r, code, "error", c.meta(r, "error", http.StatusText(code)),
		errorData{Code: code, Status: http.StatusText(code), Message: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// --- Sessions ---

type sessionsData struct {
	Sessions  []sessionView
	Error     string // the supervisor did not answer
	LoggedOut string // a tenant just logged out (the redirect after a logout)
}

// listSessions returns the tenants the request's token covers.
func (c *Console) listSessions(ctx context.Context) ([]sessionView, error) {
	ss, err := c.sup.ListSessions(ctx)
	if err != nil {
		return nil, err
	}
	a := accessFrom(ctx)
	out := make([]sessionView, 0, len(ss))
	for _, s := range ss {
		if a.covers(s.TenantID) {
			out = append(out, c.sessionView(s))
		}
	}
	return out, nil
}

func (c *Console) sessionsPage(w http.ResponseWriter, r *http.Request) {
	d := sessionsData{}
	if id := r.URL.Query().Get("loggedout"); sessionstore.ValidateTenantID(id) == nil {
		d.LoggedOut = id
	}
	var err error
	if d.Sessions, err = c.listSessions(r.Context()); err != nil {
		d.Error = errorText(err)
	}
	c.render(w, r, http.StatusOK, "sessions", c.meta(r, "sessions", "Sessions"), d)
}

func (c *Console) apiSessions(w http.ResponseWriter, r *http.Request) {
	vs, err := c.listSessions(r.Context())
	if err != nil {
		writeJSON(w, httpStatus(err), map[string]string{"error": errorText(err)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": vs})
}

// openTenant sends the "open a tenant" form to the tenant's page.
func (c *Console) openTenant(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if err := sessionstore.ValidateTenantID(id); err != nil {
		c.errorPage(w, r, http.StatusBadRequest,
			"A tenant id is 1 to 64 letters, digits, '_' or '-', starting with a letter or digit.")
		return
	}
	http.Redirect(w, r, "/t/"+url.PathEscape(id), http.StatusSeeOther)
}

// --- One tenant ---

// tenantState is the tenant page's live part (GET /api/tenants/{id}).
type tenantState struct {
	TenantID string        `json:"tenant_id"`
	Exists   bool          `json:"exists"` // false: a new tenant, which a link creates
	Session  *sessionView  `json:"session,omitempty"`
	Messages []messageView `json:"messages"`
	Error    string        `json:"error,omitempty"` // the supervisor did not answer
	// ReadOnly: the token may not link, take screenshots or log out; the
	// page leaves those out.
	ReadOnly bool `json:"read_only"`
}

func (c *Console) tenantState(ctx context.Context, id string) (tenantState, error) {
	st := tenantState{TenantID: id, Messages: []messageView{}, ReadOnly: accessFrom(ctx).ReadOnly}
	s, err := c.sup.Status(ctx, id)
	switch {
	case errors.Is(err, supervisor.ErrNotFound):
		return st, nil
	case err != nil:
		return st, err
	}
	v := c.sessionView(s)
	st.Exists, st.Session = true, &v
	ms, err := c.sup.RecentMessages(ctx, id, c.opts.RecentMessages)
	if err != nil {
		return st, err
	}
	for _, m := range ms {
		st.Messages = append(st.Messages, c.messageView(m))
	}
	return st, nil
}

func (c *Console) tenantPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := sessionstore.ValidateTenantID(id); err != nil {
		c.errorPage(w, r, http.StatusBadRequest, errorText(err))
		return
	}
	if err := c.check(r, id, false); err != nil {
		c.errorPage(w, r, httpStatus(err), errorText(err))
		return
	}
	st, err := c.tenantState(r.Context(), id)
	if err != nil {
		st.Error = errorText(err)
	}
	m := c.meta(r, "tenant", id)
	m.Tenant = id
	c.render(w, r, http.StatusOK, "tenant", m, st)
}

func (c *Console) apiTenant(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := sessionstore.ValidateTenantID(id); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": errorText(err)})
		return
	}
	if err := c.check(r, id, false); err != nil {
		writeJSON(w, httpStatus(err), map[string]string{"error": errorText(err)})
		return
	}
	st, err := c.tenantState(r.Context(), id)
	if err != nil {
		writeJSON(w, httpStatus(err), map[string]string{"error": errorText(err)})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// screenshot serves a PNG of what the tenant's page shows now.
func (c *Console) screenshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := c.check(r, id, true); err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(httpStatus(err))
		_, _ = w.Write([]byte(errorText(err)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.opts.ScreenshotTimeout)
	defer cancel()
	png, err := c.sup.Screenshot(ctx, id)
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(httpStatus(err))
		_, _ = w.Write([]byte(errorText(err)))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(png)
}

// --- Logout ---

type logoutData struct {
	TenantID string
	Session  *sessionView
}

// logoutPage asks for the confirmation of a logout.
func (c *Console) logoutPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := c.check(r, id, true); err != nil {
		c.errorPage(w, r, httpStatus(err), errorText(err))
		return
	}
	s, err := c.sup.Status(r.Context(), id)
	if err != nil {
		c.errorPage(w, r, httpStatus(err), errorText(err))
		return
	}
	v := c.sessionView(s)
	m := c.meta(r, "logout", "Log out "+id)
	m.Tenant = id
	c.render(w, r, http.StatusOK, "logout", m, logoutData{TenantID: id, Session: &v})
}

// logout logs the tenant out: its browser closes, its profile and the
// tenant are deleted. The form of the confirmation page names the tenant
// again (confirm), so that no other POST logs a tenant out by accident.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := parseForm(r); err != nil {
		c.errorPage(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if err := c.check(r, id, true); err != nil {
		c.refuse(w, r, httpStatus(err), errorText(err))
		return
	}
	if r.PostForm.Get("confirm") != id {
		c.refuse(w, r, http.StatusBadRequest, "a logout needs its confirmation: open the tenant's Log out page")
		return
	}
	if err := c.sup.Logout(r.Context(), id); err != nil {
		c.log.Warn("logout", zap.String("tenant", id), zap.Error(err))
		c.refuse(w, r, httpStatus(err), errorText(err))
		return
	}
	c.log.Info("tenant logged out", zap.String("tenant", id), zap.String("remote", r.RemoteAddr))
	http.Redirect(w, r, "/?loggedout="+url.QueryEscape(id), http.StatusSeeOther)
}
