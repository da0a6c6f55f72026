# wapool — build, test, demo and benchmarks.
# `make demo` and `make test` work on a fresh Debian machine: missing tools
# are installed here (Chromium and PostgreSQL with apt-get, Go tools with
# `go install` at pinned versions into .tools/bin).

SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
# protoc-gen-grpc-gateway and protoc-gen-openapiv2: the same release as the
# github.com/grpc-ecosystem/grpc-gateway/v2 runtime in go.mod.
GRPC_GATEWAY_VERSION := v2.34.0
GRPCURL_VERSION := v1.9.3
HEALTH_PROBE_VERSION := v0.4.62

BUF := $(TOOLS)/buf
PROTOC_GEN_GO := $(TOOLS)/protoc-gen-go
PROTOC_GEN_GO_GRPC := $(TOOLS)/protoc-gen-go-grpc
PROTOC_GEN_GATEWAY := $(TOOLS)/protoc-gen-grpc-gateway
PROTOC_GEN_OPENAPI := $(TOOLS)/protoc-gen-openapiv2
PROTO_PLUGINS := $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) $(PROTOC_GEN_GATEWAY) $(PROTOC_GEN_OPENAPI)
GRPCURL := $(TOOLS)/grpcurl
HEALTH_PROBE := $(TOOLS)/grpc-health-probe

# The suite's own budget; CI allows 90 minutes, the suite stays well under 15.
TEST_TIMEOUT ?= 14m
# Packages tested at once. The browser packages (e2e, supervisor, waweb,
# fakewa) mostly wait on fakewa's timings: with go test's default (one per
# core) the suite used under 0.8 of the CI machine's 2 cores on average.
TEST_PACKAGES ?= 3
# The build the idle table measures beside this one (before the idle work
# of issue 27).
IDLE_BASELINE ?= 0746fda

.PHONY: all build test vet lint proto proto-check clients tools chromium chromium-version postgresql run demo bench soak clean

all: build

build:
	$(GO) build -o bin/ ./cmd/wapoold ./cmd/wapoolctl ./cmd/fakewa

$(BUF):
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(PROTOC_GEN_GO):
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(PROTOC_GEN_GO_GRPC):
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(PROTOC_GEN_GATEWAY):
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
$(PROTOC_GEN_OPENAPI):
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
$(GRPCURL):
	GOBIN=$(TOOLS) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
$(HEALTH_PROBE):
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-health-probe@$(HEALTH_PROBE_VERSION)

tools: $(PROTO_PLUGINS) $(GRPCURL) $(HEALTH_PROBE)

# Chromium from Debian's packages, only when no chromium is on PATH.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "installing chromium with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && $$SUDO apt-get install -y chromium; }

# PostgreSQL from Debian's packages (the store tests start a real server
# through internal/pgtest), only when no initdb is installed.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
		echo "installing postgresql with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && $$SUDO apt-get install -y postgresql; }

# The Go code (messages, gRPC, the HTTP/JSON gateway) into proto/, and the
# OpenAPI document into server/openapi/ (served at /openapi.json).
# What the README's client examples need (e2e/clients_test.go runs them):
# curl, Node 18+ (fetch), and for the Python one Debian's grpcio and a
# protoc with the gRPC Python plugin, each from apt-get when missing.
clients:
	@missing=""; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v protoc >/dev/null 2>&1 || missing="$$missing protobuf-compiler"; \
	command -v grpc_python_plugin >/dev/null 2>&1 || missing="$$missing protobuf-compiler-grpc"; \
	/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || missing="$$missing python3-grpcio"; \
	[ -z "$$missing" ] || { \
		echo "installing$$missing with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && $$SUDO apt-get install -y $$missing; }

proto: $(PROTO_PLUGINS)
	$(BUF) lint
	$(BUF) generate

# Fails when buf lint fails or the committed generated code or OpenAPI
# document is stale.
proto-check: $(PROTO_PLUGINS)
	$(BUF) lint
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BUF) generate --output "$$tmp" && \
	diff -r "$$tmp/proto" proto --exclude='*.proto' && \
	diff -r "$$tmp/server/openapi" server/openapi || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }

# The Chromium the browser tests run ($WAPOOL_CHROMIUM, else chromium or
# chromium-browser on PATH, as internal/chromiumtest picks it), printed once
# the chromium target has installed one: Debian's version moves from day to
# day, and a failure is read against it.
chromium-version: chromium
	@bin="$${WAPOOL_CHROMIUM:-$$(command -v chromium || command -v chromium-browser)}"; \
	echo "chromium: $$bin: $$("$$bin" --version 2>/dev/null || echo 'no version: --version failed')"

test: chromium chromium-version postgresql clients tools vet proto-check build
	$(GO) test -race -p $(TEST_PACKAGES) -timeout $(TEST_TIMEOUT) ./...

run: build
	bin/wapoold --log-format console

demo: chromium build
	$(GO) run ./internal/demo

# Go benchmarks with real Chromium against fakewa, one run each, their
# -json output kept in bin/ and read into the README's tables: first
# internal/bench (send, late editor, restart, memory, hibernation, kill
# cycles), then issue 13's idle cost of a tenant (internal/idlebench).
bench: chromium postgresql build
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m -json ./internal/bench/ \
		| tee bin/bench.json | $(GO) run ./internal/bench
	set -o pipefail; $(GO) test -run '^$$' -bench IdleCost -benchtime 1x -timeout 60m -json ./internal/idlebench/ \
		-args -baseline $(IDLE_BASELINE) -cpu-rounds 3 \
		| tee bin/idlebench.json | $(GO) run ./internal/idlebench
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m -json ./internal/clusterbench/ \
		| tee bin/clusterbench.json | $(GO) run ./internal/clusterbench

# Exactly-once under random SIGKILLs, two runs (both run; either failing
# fails the target): the single-node soak (browsers and the daemon killed),
# then the cluster soak (3 nodes on a PostgreSQL it starts itself through
# internal/pgtest, nodes SIGKILLed and SIGTERMed). Longer runs: flags, see
# `go run ./internal/soak -h`.
soak: chromium postgresql build
	status=0; \
	$(GO) run ./internal/soak || status=1; \
	$(GO) run ./internal/soak -cluster || status=1; \
	exit $$status

clean:
	rm -rf bin .tools
