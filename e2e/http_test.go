package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/openapitest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/server"
)

// httpAddr finds the --http-addr address the daemon logged.
func (d *daemon) httpAddr(t *testing.T) string {
	t.Helper()
	var addr string
	waitFor(t, "the http address in the log", 10*time.Second, func() bool {
		for _, line := range strings.Split(d.log(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "http serving" {
				addr = rec.Addr
				return true
			}
		}
		return false
	})
	return addr
}

// httpAPI calls a daemon's HTTP/JSON API with a real HTTP client, and
// checks every request body and answer of an operation the OpenAPI
// document describes against it (kin-openapi).
type httpAPI struct {
	t      *testing.T
	base   string // http://host:port
	client *http.Client
	doc    *openapi3.T // server.OpenAPI, validated
}

func newHTTPAPI(t *testing.T, d *daemon) *httpAPI {
	doc, err := openapitest.Load(server.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	return &httpAPI{t: t, base: "http://" + d.httpAddr(t), client: &http.Client{Timeout: 90 * time.Second}, doc: doc}
}

// httpReply is one HTTP response, read whole.
type httpReply struct {
	code   int
	header http.Header
	body   []byte
}

// call sends method path with token ("" = none) and body (nil = none;
// a string is sent as it is, anything else as JSON).
func (a *httpAPI) call(method, path, token string, body any) httpReply {
	a.t.Helper()
	var rd io.Reader
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		sent = j
	}
	if sent != nil {
		rd = bytes.NewReader(sent)
	}
	docPath, params, described := openapitest.Match(a.doc, method, path)
	if described {
		if err := openapitest.ValidateRequest(a.doc, method, docPath, params, sent); err != nil {
			a.t.Errorf("the request does not match the OpenAPI document: %v", err)
		}
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if described {
		if err := openapitest.ValidateResponse(a.doc, method, docPath, resp.StatusCode, resp.Header, b); err != nil {
			a.t.Errorf("the answer does not match the OpenAPI document: %v\n%s", err, b)
		}
	}
	return httpReply{code: resp.StatusCode, header: resp.Header, body: b}
}

// into reads r's body, which must be a 200, into m.
func (r httpReply) into(t *testing.T, what string, m proto.Message) {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", what, r.code, r.body)
	}
	if err := protojson.Unmarshal(r.body, m); err != nil {
		t.Fatalf("%s: %v in %s", what, err, r.body)
	}
}

// status reads r's body as a google.rpc.Status.
func (r httpReply) status(t *testing.T) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	if err := protojson.Unmarshal(r.body, st); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return st
}

// linkHTTP runs Link over HTTP (POST …:link, newline-delimited JSON) and
// scans the first QR code with phone through fakewa, until `linked`.
func (a *httpAPI) linkHTTP(f *fake, tenant, phone, token string) []*wapoolv1.LinkResponse {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.base+"/v1/tenants/"+tenant+":link", strings.NewReader("{}"))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		b, _ := io.ReadAll(resp.Body)
		a.t.Fatalf("link over HTTP: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	var events []*wapoolv1.LinkResponse
	scanned := false
	for sc.Scan() {
		var line struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			a.t.Fatalf("link over HTTP: a line that is not JSON: %q", sc.Text())
		}
		if line.Error != nil {
			a.t.Fatalf("link over HTTP: error line %s", line.Error)
		}
		ev := &wapoolv1.LinkResponse{}
		if err := protojson.Unmarshal(line.Result, ev); err != nil {
			a.t.Fatalf("link over HTTP: %v in %s", err, line.Result)
		}
		events = append(events, ev)
		if qr := ev.GetQr(); qr != nil && !scanned {
			if !slices.ContainsFunc(f.QRCodes(), func(s fakewa.ShownQR) bool { return s.Code == qr.Code }) {
				a.t.Fatalf("Link over HTTP streamed %q, which fakewa does not show", qr.Code)
			}
			if err := f.Scan(qr.Code, phone); err != nil {
				a.t.Fatal(err)
			}
			scanned = true
		}
		if ev.GetLinked() != nil {
			if sc.Scan() {
				a.t.Fatalf("link over HTTP: a line after linked: %q", sc.Text())
			}
			return events
		}
	}
	a.t.Fatalf("link over HTTP ended before linked (%d events): %v", len(events), sc.Err())
	return nil
}

func writeTokens(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHTTPJSON drives the API over plain HTTP/JSON with net/http: Link
// (newline-delimited JSON) with a QR scanned, Send, GetMessage, Status,
// ListSessions and Logout, each answer the same as gRPC's for the same
// call; then the errors and the authentication, each compared with the
// same call over gRPC: code, message and details (ErrorInfo reasons), the
// HTTP status of the code, WWW-Authenticate on 401, Retry-After when
// throttled.
func TestHTTPJSON(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	const opsToken = "ops-token-0123456789abcdef-0123456"
	tokens := writeTokens(t, firstToken, scopedToken+" tenants=a-* role=send", opsToken+" tenants=a-* role=ops")
	f, d := startStack(t, "--auth-tokens", tokens, "--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	api := newHTTPAPI(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+firstToken)
	scoped := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+scopedToken)
	c := d.client()

	events := api.linkHTTP(f, "a-1", accountA, opsToken)
	if qr := events[0].GetQr(); qr == nil || qr.Sequence != 1 || !bytes.HasPrefix(qr.Png, []byte("\x89PNG")) {
		t.Fatalf("first HTTP link event: %v", events[0])
	}
	if l := events[len(events)-1].GetLinked(); l.GetPhone() != accountA {
		t.Fatalf("last HTTP link event: %v", events[len(events)-1])
	}

	// Send, with the body of the issue: {to, text, idempotency_key, wait}.
	text := hardText()
	var sent wapoolv1.SendResponse
	api.call("POST", "/v1/tenants/a-1/messages", scopedToken, map[string]any{
		"to": "+" + contact1, "text": text, "idempotency_key": "order-1", "wait": "WAIT_SENT",
	}).into(t, "Send", &sent)
	m := sent.GetMessage()
	if m.GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT || m.GetTo() != contact1 || m.GetTenantId() != "a-1" || m.GetIdempotencyKey() != "order-1" {
		t.Fatalf("Send over HTTP: %v", m)
	}
	if got := received(f, accountA, contact1); len(got) != 1 || got[0] != text {
		t.Fatalf("fakewa received %d messages; want the text sent once", len(got))
	}
	// The same key again (lowerCamelCase this time, as proto3 JSON writes
	// it): the same message, nothing sent again.
	var again wapoolv1.SendResponse
	api.call("POST", "/v1/tenants/a-1/messages", scopedToken, map[string]any{
		"to": contact1, "text": text, "idempotencyKey": "order-1",
	}).into(t, "Send again", &again)
	if again.GetMessage().GetId() != m.GetId() || len(received(f, accountA, contact1)) != 1 {
		t.Fatalf("Send again with the key: %v, want message %s and no second send", again.GetMessage(), m.GetId())
	}
	// The JSON itself: lowerCamelCase names and enums as names.
	raw := api.call("GET", "/v1/tenants/a-1/messages/"+m.GetId(), scopedToken, nil)
	for _, want := range []string{`"waMessageId"`, `"tenantId"`, `"MESSAGE_STATE_SENT"`, `"createdAt"`} {
		if !bytes.Contains(raw.body, []byte(want)) {
			t.Fatalf("GetMessage's JSON lacks %s: %s", want, raw.body)
		}
	}

	// Each read answers over HTTP what it answers over gRPC.
	var gm wapoolv1.GetMessageResponse
	raw.into(t, "GetMessage", &gm)
	gmGRPC, err := c.GetMessage(scoped, &wapoolv1.GetMessageRequest{TenantId: "a-1", MessageId: m.GetId()})
	if err != nil || !proto.Equal(&gm, gmGRPC) {
		t.Fatalf("GetMessage: HTTP %v, gRPC %v (%v)", &gm, gmGRPC, err)
	}
	var st wapoolv1.StatusResponse
	api.call("GET", "/v1/tenants/a-1", scopedToken, nil).into(t, "Status", &st)
	stGRPC, err := c.Status(scoped, &wapoolv1.StatusRequest{TenantId: "a-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := st.GetSession()
	if s.GetState() != wapoolv1.SessionState_SESSION_STATE_READY || !s.GetLinked() || s.GetPhone() != accountA ||
		s.GetBrowser().GetPid() != stGRPC.GetSession().GetBrowser().GetPid() || s.GetState() != stGRPC.GetSession().GetState() {
		t.Fatalf("Status: HTTP %v, gRPC %v", s, stGRPC.GetSession())
	}
	var ls wapoolv1.ListSessionsResponse
	api.call("GET", "/v1/tenants", scopedToken, nil).into(t, "ListSessions", &ls)
	if len(ls.GetSessions()) != 1 || ls.GetSessions()[0].GetTenantId() != "a-1" {
		t.Fatalf("ListSessions over HTTP: %v", &ls)
	}

	// Errors and authentication: the same status over both, as JSON under
	// the HTTP status of its code.
	cases := []struct {
		name         string
		method, path string
		token        string
		body         any
		grpc         func(ctx context.Context) error
		httpCode     int
		reason       string
	}{
		{"no token", "GET", "/v1/tenants/a-1", "", nil,
			func(ctx context.Context) error {
				_, err := c.Status(ctx, &wapoolv1.StatusRequest{TenantId: "a-1"})
				return err
			},
			http.StatusUnauthorized, ""},
		{"wrong token", "GET", "/v1/tenants", "wrong-token-0123456789abcdef-0123456", nil,
			func(context.Context) error {
				ctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer wrong-token-0123456789abcdef-0123456")
				_, err := c.ListSessions(ctx, &wapoolv1.ListSessionsRequest{})
				return err
			},
			http.StatusUnauthorized, ""},
		{"outside the token's tenants", "GET", "/v1/tenants/b-1", scopedToken, nil,
			func(context.Context) error {
				_, err := c.Status(scoped, &wapoolv1.StatusRequest{TenantId: "b-1"})
				return err
			},
			http.StatusForbidden, "TENANT_OUT_OF_SCOPE"},
		{"role too low for Logout", "DELETE", "/v1/tenants/a-1", scopedToken, nil,
			func(context.Context) error {
				_, err := c.Logout(scoped, &wapoolv1.LogoutRequest{TenantId: "a-1"})
				return err
			},
			http.StatusForbidden, "ROLE_TOO_LOW"},
		{"unknown tenant", "GET", "/v1/tenants/a-404", scopedToken, nil,
			func(context.Context) error {
				_, err := c.Status(scoped, &wapoolv1.StatusRequest{TenantId: "a-404"})
				return err
			},
			http.StatusNotFound, ""},
		{"unknown message", "GET", "/v1/tenants/a-1/messages/no-such-message", scopedToken, nil,
			func(context.Context) error {
				_, err := c.GetMessage(scoped, &wapoolv1.GetMessageRequest{TenantId: "a-1", MessageId: "no-such-message"})
				return err
			},
			http.StatusNotFound, ""},
		{"bad tenant id", "GET", "/v1/tenants/-bad", firstToken, nil,
			func(context.Context) error {
				_, err := c.Status(admin, &wapoolv1.StatusRequest{TenantId: "-bad"})
				return err
			},
			http.StatusBadRequest, "INVALID_TENANT_ID"},
		{"bad phone", "POST", "/v1/tenants/a-1/messages", scopedToken, map[string]any{"to": "12", "text": "hi"},
			func(context.Context) error {
				_, err := c.Send(scoped, &wapoolv1.SendRequest{TenantId: "a-1", To: "12", Text: "hi"})
				return err
			},
			http.StatusBadRequest, "INVALID_PHONE"},
		{"key reused", "POST", "/v1/tenants/a-1/messages", scopedToken, map[string]any{"to": contact1, "text": "other", "idempotencyKey": "order-1"},
			func(context.Context) error {
				_, err := c.Send(scoped, &wapoolv1.SendRequest{TenantId: "a-1", To: contact1, Text: "other", IdempotencyKey: "order-1"})
				return err
			},
			http.StatusBadRequest, "IDEMPOTENCY_KEY_REUSED"},
		{"not linked", "POST", "/v1/tenants/a-2/messages", scopedToken, map[string]any{"to": contact1, "text": "hi", "wait": "WAIT_ACCEPTED"},
			func(context.Context) error {
				_, err := c.Send(scoped, &wapoolv1.SendRequest{TenantId: "a-2", To: contact1, Text: "hi", Wait: wapoolv1.Wait_WAIT_ACCEPTED})
				return err
			},
			0, ""},
	}
	for _, tc := range cases {
		gerr := tc.grpc(ctx)
		want := status.Convert(gerr).Proto()
		if gerr == nil {
			t.Fatalf("%s: gRPC call succeeded", tc.name)
		}
		r := api.call(tc.method, tc.path, tc.token, tc.body)
		got := r.status(t)
		if !proto.Equal(got, want) {
			t.Errorf("%s: HTTP %d %v; gRPC %v", tc.name, r.code, got, want)
			continue
		}
		if tc.httpCode != 0 && r.code != tc.httpCode {
			t.Errorf("%s: HTTP status %d, want %d", tc.name, r.code, tc.httpCode)
		}
		if got := errorReason(got); got != tc.reason && tc.httpCode != 0 {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.reason)
		}
		if r.code == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate: Bearer: %v", tc.name, r.header)
		}
		t.Logf("%s: HTTP %d %s", tc.name, r.code, r.body)
	}

	// Webhooks over HTTP: admin over every tenant only.
	hook := map[string]any{"url": "http://127.0.0.1:9/hook", "tenantIds": []string{"a-*"}, "events": []string{"message.sent"}}
	if r := api.call("POST", "/v1/webhooks", scopedToken, hook); r.code != http.StatusForbidden {
		t.Fatalf("CreateWebhook with a send token: %d %s", r.code, r.body)
	}
	var made wapoolv1.CreateWebhookResponse
	api.call("POST", "/v1/webhooks", firstToken, hook).into(t, "CreateWebhook", &made)
	var hooks wapoolv1.ListWebhooksResponse
	api.call("GET", "/v1/webhooks", firstToken, nil).into(t, "ListWebhooks", &hooks)
	if len(made.GetSecret()) != 64 || len(hooks.GetWebhooks()) != 1 || hooks.GetWebhooks()[0].GetWebhookId() != made.GetWebhook().GetWebhookId() {
		t.Fatalf("CreateWebhook %v, then ListWebhooks %v", &made, &hooks)
	}
	var gone wapoolv1.DeleteWebhookResponse
	api.call("DELETE", "/v1/webhooks/"+made.GetWebhook().GetWebhookId(), firstToken, nil).into(t, "DeleteWebhook", &gone)

	// Logout over HTTP, with a token whose role allows it.
	var out wapoolv1.LogoutResponse
	api.call("DELETE", "/v1/tenants/a-1", firstToken, nil).into(t, "Logout", &out)
	if r := api.call("GET", "/v1/tenants/a-1", firstToken, nil); r.code != http.StatusNotFound {
		t.Fatalf("Status after Logout over HTTP: %d %s", r.code, r.body)
	}

	// The document the HTTP API describes itself with.
	if r := api.call("GET", "/openapi.json", "", nil); r.code != http.StatusOK || !bytes.Equal(r.body, server.OpenAPI) {
		t.Fatalf("/openapi.json: %d, %d bytes", r.code, len(r.body))
	}

	// Wrong tokens in a row from one address: the 5th attempt waits,
	// unchecked, with Retry-After.
	for i := 1; i <= 4; i++ {
		if r := api.call("GET", "/v1/tenants", fmt.Sprintf("wrong-token-%d-0123456789abcdef-0123456", i), nil); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d %s", i, r.code, r.body)
		}
	}
	r := api.call("GET", "/v1/tenants", firstToken, nil)
	if r.code != http.StatusUnauthorized || errorReason(r.status(t)) != "AUTH_THROTTLED" || r.header.Get("Retry-After") == "" {
		t.Fatalf("after 4 wrong tokens: %d %v %s", r.code, r.header, r.body)
	}
	if m := scrape(t, d.metricsAddr(t)); metric(m, `wapool_auth_failures_total{surface="http"}`) == "" {
		t.Errorf("no wapool_auth_failures_total for surface http")
	}
}

// errorReason is the ErrorInfo reason of st, "" without one.
func errorReason(st *spb.Status) string {
	for _, d := range status.FromProto(st).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
