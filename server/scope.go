package server

// Scopes: what an authenticated caller may do.
//
// A Scope is a role and a set of tenants. A bearer token carries one (its
// line in --auth-tokens), and so does a client certificate when
// --tls-client-scopes maps certificate names to scopes. A call made with
// both a token and a certificate gets what both allow. A credential with no
// scope written keeps the meaning it had before scopes existed: admin on
// every tenant.
//
// Roles, each including the one before:
//
//	send   Send, SendFile, GetMessage, Status and ListSessions, of its
//	       tenants
//	ops    also Link, Logout, Screenshot, Diagnose and WatchEvents
//	admin  also the calls about every tenant at once: PruneSessions,
//	       DrainNode, ListDeadEvents, RedeliverDeadEvents; those need a
//	       scope over every tenant
//
// and node, the certificate of another wapoold node (cluster mode): it does
// nothing on its own and relays the scope of the caller whose call it
// forwards (callerScopeHeader).
//
// Outside its scope a call is PERMISSION_DENIED, whether or not the tenant
// exists: the answer depends only on the id asked and the scope. Lists
// (ListSessions, WatchEvents without a filter, health List) leave out the
// tenants outside the scope, as if they did not exist.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
)

// Role is what a credential may do to the tenants of its scope. The zero
// Role is not valid.
type Role int

// The roles, each including the one before; RoleNode includes none.
const (
	RoleSend Role = iota + 1
	RoleOps
	RoleAdmin
	// RoleNode is a cluster node's certificate: it only relays calls it
	// forwards, each with its caller's scope. Only --tls-client-scopes
	// grants it.
	RoleNode
)

var roleNames = map[Role]string{RoleSend: "send", RoleOps: "ops", RoleAdmin: "admin", RoleNode: "node"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// covers reports whether r may make a call that needs need.
func (r Role) covers(need Role) bool { return r != RoleNode && r >= need }

// errScope: a scope that does not parse.
var errScope = errors.New("bad scope")

// ParseRole reads "send", "ops", "admin" or "node".
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role=: want send, ops or admin: %w", errScope)
}

// Scope is a role over a set of tenants.
type Scope struct {
	// Role is what the credential may do; see the file comment.
	Role Role
	// Tenants are the tenants it covers: ids ("shop-1") and prefix
	// patterns ("shop-*": every id starting with "shop-"). nil: every
	// tenant. Never empty but nil.
	Tenants []string
}

// AdminScope is the scope of a credential with none written: admin on every
// tenant.
var AdminScope = Scope{Role: RoleAdmin}

// Tenant reports whether the scope covers the tenant id.
func (s Scope) Tenant(id string) bool {
	if s.Tenants == nil {
		return true
	}
	for _, p := range s.Tenants {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(id, prefix) {
				return true
			}
		} else if p == id {
			return true
		}
	}
	return false
}

// EveryTenant reports whether the scope covers every tenant.
func (s Scope) EveryTenant() bool { return s.Tenants == nil }

// String is the scope as a tokens file writes it: "tenants=a-*,b role=ops",
// or "role=admin" for every tenant.
func (s Scope) String() string {
	if s.Tenants == nil {
		return "role=" + s.Role.String()
	}
	return "tenants=" + strings.Join(s.Tenants, ",") + " role=" + s.Role.String()
}

// ParseScope reads the key=value fields of a scope: "tenants=P[,P…]" and
// "role=R", each at most once, either left out (every tenant; admin).
// Patterns are tenant ids or an id's start followed by "*"; "*" alone is
// every tenant. Errors quote no field (a tokens line's fields follow a
// secret) but name the key at fault.
func ParseScope(fields []string) (Scope, error) {
	s := AdminScope
	seen := map[string]bool{}
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok || (key != "tenants" && key != "role") {
			return Scope{}, fmt.Errorf("want tenants=… and role=… only: %w", errScope)
		}
		if seen[key] {
			return Scope{}, fmt.Errorf("%s= given twice: %w", key, errScope)
		}
		seen[key] = true
		switch key {
		case "role":
			r, err := ParseRole(val)
			if err != nil {
				return Scope{}, err
			}
			s.Role = r
		case "tenants":
			ts, err := parsePatterns(val)
			if err != nil {
				return Scope{}, err
			}
			s.Tenants = ts
		}
	}
	return s, nil
}

// parsePatterns reads "a-*,b,c" into patterns; nil when one is "*".
func parsePatterns(val string) ([]string, error) {
	if val == "" {
		return nil, fmt.Errorf("tenants= names no tenant: %w", errScope)
	}
	var out []string
	for i, p := range strings.Split(val, ",") {
		if p == "*" {
			return nil, nil
		}
		id, prefix := strings.CutSuffix(p, "*")
		// An id's start is itself an id ("shop-" is one).
		if err := sessionstore.ValidateTenantID(id); err != nil || strings.Contains(id, "*") {
			return nil, fmt.Errorf("tenants=: pattern %d is neither a tenant id nor an id's start followed by *: %w", i+1, errScope)
		}
		if prefix {
			p = id + "*"
		}
		out = append(out, p)
	}
	return out, nil
}

// grant is what the credentials of one call allow: every scope in it must
// allow a step (a token's and a certificate's). A call with no grant in its
// context (no credentials configured) may do everything.
type grant struct{ scopes []Scope }

type grantKey struct{}

func withGrant(ctx context.Context, g *grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// grantFrom returns the call's grant; nil: no credentials are configured,
// everything is allowed.
func grantFrom(ctx context.Context) *grant {
	g, _ := ctx.Value(grantKey{}).(*grant)
	return g
}

// tenant reports whether g covers the tenant id; a nil grant covers all.
func (g *grant) tenant(id string) bool {
	if g == nil {
		return true
	}
	for _, s := range g.scopes {
		if !s.Tenant(id) {
			return false
		}
	}
	return true
}

func (g *grant) everyTenant() bool {
	if g == nil {
		return true
	}
	for _, s := range g.scopes {
		if !s.EveryTenant() {
			return false
		}
	}
	return true
}

func (g *grant) role(need Role) bool {
	if g == nil {
		return true
	}
	for _, s := range g.scopes {
		if !s.Role.covers(need) {
			return false
		}
	}
	return true
}

// methodRule is what a method needs.
type methodRule struct {
	role  Role
	every bool // it acts on every tenant at once: a scope over all of them
}

// methodRules are the SessionService's methods. A method missing here (a
// new one) needs admin over every tenant until it is added.
var methodRules = map[string]methodRule{
	wapoolv1.SessionService_Send_FullMethodName:                {role: RoleSend},
	wapoolv1.SessionService_SendFile_FullMethodName:            {role: RoleSend},
	wapoolv1.SessionService_GetMessage_FullMethodName:          {role: RoleSend},
	wapoolv1.SessionService_Status_FullMethodName:              {role: RoleSend},
	wapoolv1.SessionService_ListSessions_FullMethodName:        {role: RoleSend},
	wapoolv1.SessionService_Link_FullMethodName:                {role: RoleOps},
	wapoolv1.SessionService_Logout_FullMethodName:              {role: RoleOps},
	wapoolv1.SessionService_Screenshot_FullMethodName:          {role: RoleOps},
	wapoolv1.SessionService_Diagnose_FullMethodName:            {role: RoleOps},
	wapoolv1.SessionService_WatchEvents_FullMethodName:         {role: RoleOps},
	wapoolv1.SessionService_PruneSessions_FullMethodName:       {role: RoleAdmin, every: true},
	wapoolv1.SessionService_DrainNode_FullMethodName:           {role: RoleAdmin, every: true},
	wapoolv1.SessionService_ListDeadEvents_FullMethodName:      {role: RoleAdmin, every: true},
	wapoolv1.SessionService_RedeliverDeadEvents_FullMethodName: {role: RoleAdmin, every: true},
}

var sessionServicePrefix = "/" + wapoolv1.SessionService_ServiceDesc.ServiceName + "/"

// ruleOf returns what method needs: the table for the SessionService, send
// (any authenticated caller) for the other services (health, reflection),
// whose tenant answers are checked one by one.
func ruleOf(method string) methodRule {
	if r, ok := methodRules[method]; ok {
		return r
	}
	if strings.HasPrefix(method, sessionServicePrefix) {
		return methodRule{role: RoleAdmin, every: true}
	}
	return methodRule{role: RoleSend}
}

// ErrorInfo reasons of PERMISSION_DENIED.
const (
	reasonTenantOutOfScope = "TENANT_OUT_OF_SCOPE"
	reasonRole             = "ROLE_TOO_LOW"
	reasonEveryTenant      = "NEEDS_EVERY_TENANT"
	reasonNoScope          = "NO_SCOPE"
)

func permissionDenied(reason, msg string, meta map[string]string) error {
	st := status.New(codes.PermissionDenied, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta}); err == nil {
		st = d
	}
	return st.Err()
}

// allowMethod checks that g may call method at all.
func (g *grant) allowMethod(method string) error {
	r := ruleOf(method)
	if !g.role(r.role) {
		return permissionDenied(reasonRole, fmt.Sprintf("%s needs role %s", method, r.role), map[string]string{"role": r.role.String()})
	}
	if r.every && !g.everyTenant() {
		return permissionDenied(reasonEveryTenant, fmt.Sprintf("%s acts on every tenant: it needs a credential whose scope covers them all", method), nil)
	}
	return nil
}

// allowTenant checks that g covers the tenant id. An id that is not valid
// passes: the handler refuses it (INVALID_ARGUMENT) before it touches
// anything.
func (g *grant) allowTenant(id string) error {
	if g.tenant(id) || sessionstore.ValidateTenantID(id) != nil {
		return nil
	}
	return permissionDenied(reasonTenantOutOfScope, fmt.Sprintf("tenant %q is outside this credential's tenants", id), map[string]string{"tenant": id})
}

// allowRequest checks the tenants a request names: its tenant_id, the
// tenant_ids of WatchEvents, the "tenant/<id>" of a health check.
func (g *grant) allowRequest(req any) error {
	if g == nil {
		return nil
	}
	switch r := req.(type) {
	case interface{ GetTenantId() string }:
		return g.allowTenant(r.GetTenantId())
	case *wapoolv1.SendFileRequest:
		// The header names the tenant; the chunks after it name none. The
		// header is checked as it is read, before any chunk.
		if h := r.GetHeader(); h != nil {
			return g.allowTenant(h.GetTenantId())
		}
	case *wapoolv1.WatchEventsRequest:
		for _, id := range r.GetTenantIds() {
			if err := g.allowTenant(id); err != nil {
				return err
			}
		}
	case *healthgrpc.HealthCheckRequest:
		if id, ok := strings.CutPrefix(r.GetService(), TenantHealthPrefix); ok {
			return g.allowTenant(id)
		}
	}
	return nil
}

// TenantAllowed reports whether the call of ctx may see the tenant id: true
// when no credentials are configured. Lists use it to leave the others out.
func TenantAllowed(ctx context.Context, id string) bool {
	return grantFrom(ctx).tenant(id)
}
