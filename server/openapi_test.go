package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"

	"github.com/wapool/wapool/internal/openapitest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// TestOpenAPIDocument: the committed OpenAPI document (make proto-check
// keeps it current) is a valid document for kin-openapi, describes every
// google.api.http route of the proto with proto3 JSON names, and its
// schemas hold a validator to the JSON the gateway writes: a real answer
// passes, one with an enum as a number or a field of the wrong type does
// not.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := openapitest.Load(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Info.Title != "wapool" || doc.Info.Version != "v1" {
		t.Errorf("info: %+v", doc.Info)
	}

	// Every routed method of the proto is in the document, at its path
	// with the parameters' JSON names ({tenant_id} is {tenantId}).
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	methods := wapoolv1.File_wapool_v1_session_service_proto.Services().Get(0).Methods()
	routed := 0
	for i := range methods.Len() {
		m := methods.Get(i)
		rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule == nil {
			continue
		}
		routed++
		var verb, path string
		switch p := rule.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			verb, path = http.MethodGet, p.Get
		case *annotations.HttpRule_Post:
			verb, path = http.MethodPost, p.Post
		case *annotations.HttpRule_Delete:
			verb, path = http.MethodDelete, p.Delete
		default:
			t.Fatalf("%s: a pattern this test does not know: %v", m.Name(), rule)
		}
		path = param.ReplaceAllStringFunc(path, func(s string) string {
			parts := strings.Split(strings.Trim(s, "{}"), "_")
			for j := 1; j < len(parts); j++ {
				parts[j] = strings.ToUpper(parts[j][:1]) + parts[j][1:]
			}
			return "{" + strings.Join(parts, "") + "}"
		})
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(verb) == nil {
			t.Errorf("%s: no %s %s in the OpenAPI document", m.Name(), verb, path)
		}
	}
	if routed < 6 {
		t.Errorf("only %d methods have a google.api.http route", routed)
	}

	h := http.Header{"Content-Type": {"application/json"}}
	good := `{"session":{"tenantId":"a-1","state":"SESSION_STATE_READY","linked":true,"browser":{"running":true,"pid":42,"restarts":0},"queued":0,"profileBytes":"1024","lastActive":"2026-01-02T03:04:05Z"}}`
	if err := openapitest.ValidateResponse(doc, http.MethodGet, "/v1/tenants/{tenantId}", 200, h, []byte(good)); err != nil {
		t.Errorf("a Status answer as the gateway writes it: %v", err)
	}
	for name, bad := range map[string]string{
		"enum as a number":  `{"session":{"tenantId":"a-1","state":4}}`,
		"unknown enum name": `{"session":{"state":"SESSION_STATE_ASLEEP"}}`,
		"string for a bool": `{"session":{"linked":"yes"}}`,
	} {
		if err := openapitest.ValidateResponse(doc, http.MethodGet, "/v1/tenants/{tenantId}", 200, h, []byte(bad)); err == nil {
			t.Errorf("%s: the validator let it through", name)
		}
	}
	errBody := `{"code":5,"message":"tenant \"x\": not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"R","domain":"wapool.dev","metadata":{}}]}`
	if err := openapitest.ValidateResponse(doc, http.MethodGet, "/v1/tenants/{tenantId}", 404, h, []byte(errBody)); err != nil {
		t.Errorf("an error answer: %v", err)
	}
	send := `{"to":"+15550002222","text":"hi","idempotencyKey":"k","wait":"WAIT_SENT"}`
	if err := openapitest.ValidateRequest(doc, http.MethodPost, "/v1/tenants/{tenantId}/messages", map[string]string{"tenantId": "a-1"}, []byte(send)); err != nil {
		t.Errorf("a Send body: %v", err)
	}
}
