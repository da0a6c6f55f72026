// Package openapitest checks the HTTP/JSON API against its OpenAPI
// document (server.OpenAPI) with a real validator, kin-openapi: the
// document itself (Load), and the answers a running daemon gives
// (ValidateResponse). Tests only: the daemon does not import it.
//
// protoc-gen-openapiv2 writes Swagger 2.0; Load converts it to OpenAPI 3
// (openapi2conv), which is what kin-openapi validates documents and
// responses against.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Load reads doc (Swagger 2.0 JSON), converts it to OpenAPI 3 and
// validates it.
func Load(doc []byte) (*openapi3.T, error) {
	var v2 openapi2.T
	if err := json.Unmarshal(doc, &v2); err != nil {
		return nil, fmt.Errorf("the OpenAPI document does not parse: %w", err)
	}
	if v2.Swagger != "2.0" {
		return nil, fmt.Errorf("the OpenAPI document says swagger %q, want 2.0", v2.Swagger)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return nil, fmt.Errorf("converting the OpenAPI document to version 3: %w", err)
	}
	if err := v3.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	return v3, nil
}

// ValidateResponse checks an answer of the operation at method and path
// (a path of the document, such as /v1/tenants/{tenantId}) against doc:
// its status, Content-Type and body (a non-2xx one against the default
// response, google.rpc.Status).
func ValidateResponse(doc *openapi3.T, method, path string, status int, header http.Header, body []byte) error {
	item, op, err := operation(doc, method, path)
	if err != nil {
		return err
	}
	req := httptest.NewRequest(method, path, nil)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req,
			Route:   &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
		},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s answered %d: %w", method, path, status, err)
	}
	return nil
}

// ValidateRequest checks a request body for the operation at method and
// path against doc; pathParams names the path's parameters (tenantId, …).
func ValidateRequest(doc *openapi3.T, method, path string, pathParams map[string]string, body []byte) error {
	item, op, err := operation(doc, method, path)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: pathParams,
		Route:      &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// Match finds the operation of doc that serves method on urlPath (such as
// /v1/tenants/a-1:link): its path in the document and the path's
// parameters. ok is false when the document describes no such operation.
func Match(doc *openapi3.T, method, urlPath string) (path string, params map[string]string, ok bool) {
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		if item == nil || item.GetOperation(method) == nil {
			continue
		}
		re, names := templateRegexp(p)
		m := re.FindStringSubmatch(urlPath)
		if m == nil {
			continue
		}
		params = map[string]string{}
		for i, n := range names {
			params[n] = m[i+1]
		}
		return p, params, true
	}
	return "", nil, false
}

// templateRegexp turns a path template into a regexp matching whole paths,
// a parameter being one segment without ':' (the custom verb's mark).
func templateRegexp(tmpl string) (*regexp.Regexp, []string) {
	var b strings.Builder
	var names []string
	b.WriteString("^")
	for rest := tmpl; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:i]))
		names = append(names, rest[i+1:i+j])
		b.WriteString("([^/:]+)")
		rest = rest[i+j+1:]
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()), names
}

// operation finds the operation at method and path in doc, and its path.
func operation(doc *openapi3.T, method, path string) (*openapi3.PathItem, *openapi3.Operation, error) {
	item := doc.Paths.Find(path)
	if item == nil {
		return nil, nil, fmt.Errorf("the OpenAPI document has no path %s", path)
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, nil, fmt.Errorf("the OpenAPI document has no %s %s", method, path)
	}
	return item, op, nil
}
