package console

// What the pages and the JSON endpoints show. Every view is built here from
// the supervisor's values, field by field: a phone goes through
// redact.Phone, and no view has a field for a message's text.

import (
	"fmt"
	"html/template"
	"time"

	"github.com/wapool/wapool/internal/redact"
	"github.com/wapool/wapool/supervisor"
)

// sessionView is one tenant as the console shows it.
type sessionView struct {
	TenantID   string `json:"tenant_id"`
	State      string `json:"state"`
	StateClass string `json:"state_class"` // the badge's CSS classes
	Phone      string `json:"phone"`       // masked: "…2222"; "" when unknown
	Linked     bool   `json:"linked"`
	Queued     int    `json:"queued"`
	Restarts   int    `json:"restarts"`
	LastError  string `json:"last_error"`
	// PageContract names the page contract's check the tenant's page fails
	// while its queue is held ("" when the contract holds).
	PageContract   string    `json:"page_contract"`
	Running        bool      `json:"running"`
	PID            int       `json:"pid"`
	MemoryBytes    uint64    `json:"memory_bytes"`
	Memory         string    `json:"memory"` // "129 MB", or "—" when not running or not sampled yet
	ProfileBytes   int64     `json:"profile_bytes"`
	Profile        string    `json:"profile"`
	LastActive     time.Time `json:"last_active,omitzero"`
	LastActiveText string    `json:"last_active_text"` // "12 s ago"
	Browser        string    `json:"browser"`          // "running, pid 123, up 3 min" or "not running"
	LastExit       string    `json:"last_exit"`
}

func (c *Console) sessionView(s supervisor.Session) sessionView {
	now := c.opts.Now()
	v := sessionView{
		TenantID:       s.TenantID,
		State:          s.State.String(),
		StateClass:     stateClass(s.State.String()),
		Linked:         s.Linked,
		Queued:         s.Queued,
		Restarts:       s.Restarts,
		LastError:      s.LastError,
		PageContract:   s.PageContract,
		Running:        s.Running,
		PID:            s.PID,
		MemoryBytes:    s.MemoryBytes,
		Memory:         megabytes(s.MemoryBytes),
		ProfileBytes:   s.ProfileBytes,
		Profile:        megabytes(uint64(max(s.ProfileBytes, 0))),
		LastActive:     s.LastActive,
		LastActiveText: ago(now, s.LastActive),
		Browser:        "not running",
		LastExit:       s.LastExit,
	}
	if s.Phone != "" {
		v.Phone = redact.Phone(s.Phone)
	}
	if s.Running {
		v.Browser = fmt.Sprintf("running, pid %d", s.PID)
		if !s.StartedAt.IsZero() {
			v.Browser += ", up " + age(now.Sub(s.StartedAt))
		}
	}
	return v
}

// messageView is one message of the outbox, without its text.
type messageView struct {
	ID string `json:"id"`
	To string `json:"to"` // masked
	// File names a message's file and its size ("invoice.pdf, 2.1 MB,
	// document"); "" for a text. Never the content.
	File        string `json:"file"`
	State       string `json:"state"`
	StateClass  string `json:"state_class"`
	Created     string `json:"created"`
	CreatedAgo  string `json:"created_ago"`
	Sent        string `json:"sent"` // "" until SENT
	Attempts    int    `json:"attempts"`
	ErrorReason string `json:"error_reason"`
	Error       string `json:"error"`
}

func (c *Console) messageView(m supervisor.Message) messageView {
	v := messageView{
		ID:          m.ID,
		To:          redact.Phone(m.To),
		State:       m.State.String(),
		StateClass:  stateClass(m.State.String()),
		Created:     stamp(m.CreatedAt),
		CreatedAgo:  ago(c.opts.Now(), m.CreatedAt),
		Attempts:    m.Attempts,
		ErrorReason: m.ErrorReason,
		Error:       m.Error,
	}
	if !m.SentAt.IsZero() {
		v.Sent = stamp(m.SentAt)
	}
	if md := m.Media; md != nil {
		kind := "picture"
		if md.AsDocument {
			kind = "document"
		}
		v.File = fmt.Sprintf("%s, %s, %s", md.Filename, fileSize(md.Size), kind)
	}
	return v
}

// fileSize shows a file's size in decimal units, as megabytes does: "840
// bytes", "12.3 kB", "2.1 MB".
func fileSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// megabytes shows a size in decimal megabytes (as the README's tables do).
func megabytes(b uint64) string {
	switch {
	case b == 0:
		return "—"
	case b < 10e6:
		return fmt.Sprintf("%.1f MB", float64(b)/1e6)
	}
	return fmt.Sprintf("%.0f MB", float64(b)/1e6)
}

// ago says how long before now t was: "just now", "42 s ago", "5 min ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return age(d) + " ago"
}

// age is a short duration: "42 s", "5 min", "3 h", "2 days".
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// stamp is a time in UTC to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// stateClass is the CSS class of a state badge.
func stateClass(state string) string {
	switch state {
	case "READY":
		return "state state-ok"
	case "HIBERNATED":
		return "state state-idle"
	case "LINKING", "STARTING", "RESTARTING", "QUEUED", "SENDING":
		return "state state-busy"
	case "UNLINKED":
		return "state state-warn"
	case "FAILED":
		return "state state-bad"
	case "SENT":
		return "state state-ok"
	}
	return "state"
}

var funcs = template.FuncMap{"stateClass": stateClass}
