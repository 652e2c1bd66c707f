# Album API — developer entry points. `make demo` and `make test` are the
# whole set-up on a fresh machine (Rust, Node and Python 3 present).
SHELL := /bin/bash
.DEFAULT_GOAL := help
FUNCTION ?= DuplicateAlbumFunction
EVENT ?= events/duplicate-album.json
ARCH ?= arm64
# make invoke runs what ships (release, built by cargo lambda like sam build); PROFILE=dev for a quick debug build
PROFILE ?= release
SAM := SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/sam

.PHONY: help deps demo dev test test-moto invoke build deploy bench lint fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install the local DynamoDB (npm) and the Python tools (.venv)
	@[ -f node_modules/dynalite/cli.js ] || npm install --no-audit --no-fund --silent
	@scripts/venv.sh

demo: deps ## Seed a 5-image album and duplicate it through the Lambda runtime emulator
	@scripts/with-dynalite.sh scripts/demo.sh

test: lint ## make lint, then unit and integration tests against dynalite and again against moto, the OpenAPI check, the log check
	.venv/bin/python scripts/check-openapi.py
	scripts/with-dynalite.sh cargo test --tests
	scripts/with-moto.sh cargo test --tests
	scripts/with-dynalite.sh scripts/check-logs.sh

test-moto: deps ## The integration suite against moto's server, a second DynamoDB implementation
	scripts/with-moto.sh cargo test --tests

lint: deps ## cargo fmt --check, clippy -D warnings, sam validate --lint, cfn-lint
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .venv/bin/sam validate --lint
	.venv/bin/cfn-lint template.yaml

dev: ## Serve the whole API at http://127.0.0.1:9000 against a persistent local DynamoDB
	@scripts/dev.sh

invoke: deps ## Invoke FUNCTION (template logical id) with EVENT under the Lambda runtime emulator, like sam local invoke
	@PROFILE=$(PROFILE) scripts/with-dynalite.sh bash -c 'scripts/demo-data.sh >/dev/null && scripts/invoke.sh "$(FUNCTION)" "$(EVENT)"'

build: deps ## sam build without Docker (cargo lambda + zig) for ARCH=arm64|x86_64; checks and sizes each bootstrap
	$(SAM) build --parameter-overrides Architecture=$(ARCH)
	scripts/check-artifacts.sh $(ARCH)

deploy: build ## sam deploy (guided the first time: asks for the stack, region and secrets)
	@if grep -q '^region' samconfig.toml; then $(SAM) deploy --parameter-overrides Architecture=$(ARCH); \
	else $(SAM) deploy --guided --parameter-overrides Architecture=$(ARCH); fi

bench: deps ## Benchmarks: copy throughput vs boto3 and the ceiling, scaling, cold start, memory, latency, size (BENCHMARKS.md)
	scripts/bench.sh

fmt: ## Format the code
	cargo fmt

clean: ## Remove build output and local state (the dev data in .local too)
	cargo clean
	rm -rf .local .aws-sam
