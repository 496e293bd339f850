# Uptake: the only entry point. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := ingest webhooks query admin aggregate alerts
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help deps dev aggregate nightly test test-short lint build bench bench-go fuzz clean chaos load contract
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z%_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## install what the local stack and tests need (Java, DynamoDB Local)
	@infra/deps.sh

dev: deps ## run the whole stack locally: API on http://127.0.0.1:3000
	@$(GO) build -o bin/uptake-dev ./infra/cmd/uptake-dev
	bin/uptake-dev serve

aggregate: ## run the nightly job on the running stack: make aggregate FROM=2026-10-01 TO=2026-10-31
	$(GO) run ./infra/cmd/uptake-dev aggregate -from "$(FROM)" -to "$(TO)"

nightly: deps ## run the scheduled job (yesterday and late days) on .data, with the stack stopped
	$(GO) run ./infra/cmd/uptake-dev nightly

test: deps ## the whole test suite, against DynamoDB Local and a real S3 server
	$(GO) test -count=1 -timeout 15m ./...

contract: deps ## validate real answers of every route against openapi.json (kin-openapi, OpenAPI 3.1)
	$(GO) test -count=1 -v -run 'TestResponsesMatchDocument|TestFaultAnswersMatchDocument' ./shared/openapi/

chaos: deps ## fault-injection suite (DynamoDB Local killed, S3 down, throttling, nightly faults)
	UPTAKE_CHAOS=1 $(GO) test -count=1 -v -timeout 20m ./infra/chaos/...

lint: ## gofmt, go vet, staticcheck, go mod tidy check
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

build: ## build every function's bootstrap into bin/<name>/ (linux/arm64)
	@for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	  echo "bin/$$f/bootstrap $$(du -k bin/$$f/bootstrap | cut -f1) KB"; \
	done

bench: deps ## issue 7's measures P1-P6 (DuckDB, limits), written to docs/benchmarks.md
	@rm -rf bench/results && mkdir -p bench/results
	@for s in bench/p*.sh; do echo "== $$s"; GO="$(GO)" $$s || echo "$$s failed: its goal is reported as not measured"; done
	$(GO) run ./bench/cmd/report > docs/benchmarks.md
	@echo "docs/benchmarks.md written"

bench-go: ## every Go benchmark of the module (go test -bench .)
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 10s): make fuzz FUZZTIME=1m
	@GO="$(GO)" infra/fuzz.sh

DURATION ?= 10m
RATE ?= 10
load: deps ## 10-minute mixed load on a local stack: make load DURATION=10m RATE=50
	@$(GO) build -o bin/uptake-load ./infra/cmd/uptake-load
	bin/uptake-load -duration "$(DURATION)" -rate "$(RATE)"

URL ?= http://127.0.0.1:3000
.PHONY: import
import: ## back-fill history: make import FILES="export.ndjson.gz surveys.csv tickets.csv" [URL=...] [ARGS=-dry-run]
	@test -n "$(FILES)" || { echo 'usage: make import FILES="export.ndjson.gz surveys.csv tickets.csv" [URL=http://127.0.0.1:3000] [ARGS="-dry-run"]'; exit 2; }
	@$(GO) build -o bin/uptake-import ./infra/cmd/uptake-import
	bin/uptake-import -url "$(URL)" $(ARGS) $(FILES)

.PHONY: web
web: deps ## type-check web/src and rebuild the dashboard's bundle web/dist (commit it; a test checks it is current)
	cd web && npm run --silent check && npm run --silent build

clean: ## remove build output and local data
	rm -rf bin .aws-sam .data

SAM ?= sam
SAMCONFIG ?= samconfig.toml
.PHONY: deploy
deploy: ## sam build, sam deploy (samconfig.toml; --guided without one)
	@command -v $(SAM) >/dev/null 2>&1 || { echo "deploy: the AWS SAM CLI ($(SAM)) is not installed; install it (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html) and run make deploy again" >&2; exit 1; }
	$(SAM) build
	@if [ -f "$(SAMCONFIG)" ]; then \
	  echo "$(SAM) deploy --config-file $(SAMCONFIG)"; $(SAM) deploy --config-file "$(SAMCONFIG)"; \
	else \
	  echo "deploy: no $(SAMCONFIG): sam deploy --guided asks for each setting and saves them (samconfig.example.toml has safe ones)"; \
	  $(SAM) deploy --guided; \
	fi

# sam build calls these (BuildMethod: makefile), with ARTIFACTS_DIR set.
build-IngestFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/ingest
build-WebhooksFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/webhooks
build-QueryFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/query
build-AdminFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/admin
build-AggregateFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/aggregate
build-AlertsFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/alerts
