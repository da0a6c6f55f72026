package openapitest

import (
	"maps"
	"testing"

	"github.com/wapool/wapool/server"
)

func TestMatch(t *testing.T) {
	doc, err := Load(server.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, url, path string
		params            map[string]string
	}{
		{"GET", "/v1/tenants/a-1", "/v1/tenants/{tenantId}", map[string]string{"tenantId": "a-1"}},
		{"GET", "/v1/tenants", "/v1/tenants", map[string]string{}},
		{"POST", "/v1/tenants/a-1:link", "/v1/tenants/{tenantId}:link", map[string]string{"tenantId": "a-1"}},
		{"POST", "/v1/tenants:prune", "/v1/tenants:prune", map[string]string{}},
		{"GET", "/v1/tenants/a-1/messages/m1", "/v1/tenants/{tenantId}/messages/{messageId}", map[string]string{"tenantId": "a-1", "messageId": "m1"}},
		{"DELETE", "/v1/tenants/a-1", "/v1/tenants/{tenantId}", map[string]string{"tenantId": "a-1"}},
	} {
		path, params, ok := Match(doc, c.method, c.url)
		if !ok || path != c.path || !maps.Equal(params, c.params) {
			t.Errorf("Match(%s %s) = %q %v %v, want %q %v", c.method, c.url, path, params, ok, c.path, c.params)
		}
	}
	if _, _, ok := Match(doc, "GET", "/v1/events"); ok {
		t.Error("/v1/events is not in the document (it is SSE)")
	}
}
