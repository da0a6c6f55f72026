package server

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI (Swagger 2.0) document of the HTTP/JSON API,
// generated from the proto by `make proto` (protoc-gen-openapiv2) and
// committed; `make proto-check` fails when it is stale. The gateway serves
// it at /openapi.json, with no credentials: it holds nothing but the API.
//
//go:embed openapi/wapool.swagger.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI)
}
