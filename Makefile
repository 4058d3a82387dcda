# The two commands a newcomer needs: `make dev` runs GOBI locally, `make test` runs every test.
# Both install what they need (into .local/, ignored by git) on first use.

SHELL := /bin/bash
STACK := infra/stack.sh
# DynamoDB Local and moto for tests listen on their own ports, so `make test` and `make dev` can run side by side.
TEST_DYNAMODB_PORT ?= 8100
TEST_MOTO_PORT ?= 5100
TEST_SERVER_PORT ?= 3100

.PHONY: dev test token openapi stack-up stack-down lint-template schemathesis fmt

dev: .env
	@$(STACK) start
	@eval "$$($(STACK) env)" && cargo run -q -p gobi-infra --bin gobi-local -- serve

.env:
	cp .env.example .env

token: .env
	@cargo run -q -p gobi-infra --bin gobi-local -- token $(ARGS)

# Regenerates functions/system/openapi.json from the routers (a test fails when it is stale).
openapi:
	@cargo run -q -p gobi-infra --bin gobi-local -- openapi

stack-down:
	@$(STACK) stop

test:
	@bash infra/test.sh

fmt:
	cargo fmt --all
