# Album API — developer entry points. `make demo` and `make test` are the
# whole set-up on a fresh machine (Rust, Node and Python 3 present).
SHELL := /bin/bash
.DEFAULT_GOAL := help
FUNCTION ?= DuplicateAlbumFunction
EVENT ?= events/duplicate-album.json

.PHONY: help deps demo dev test invoke lint fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install the local DynamoDB (npm) and the Python tools (.venv)
	@[ -f node_modules/dynalite/cli.js ] || npm install --no-audit --no-fund --silent
	@scripts/venv.sh

demo: deps ## Seed a 5-image album and duplicate it through the Lambda runtime emulator
	@scripts/with-dynalite.sh scripts/demo.sh

test: deps ## Format and lint checks, OpenAPI check, unit tests, integration tests against dynalite
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	.venv/bin/python scripts/check-openapi.py
	scripts/with-dynalite.sh cargo test --all-targets

dev: ## Serve the whole API at http://127.0.0.1:9000 against a persistent local DynamoDB
	@scripts/dev.sh

invoke: deps ## Invoke FUNCTION (template logical id) with EVENT, like sam local invoke
	@scripts/with-dynalite.sh bash -c 'scripts/demo-data.sh >/dev/null && scripts/invoke.sh "$(FUNCTION)" "$(EVENT)"'

fmt: ## Format the code
	cargo fmt

clean: ## Remove build output and local state
	cargo clean
	rm -rf .local
