# The two commands a newcomer needs: `make dev` runs GOBI locally, `make test` runs every test.
# Both install what they need (into .local/, ignored by git) on first use.

SHELL := /bin/bash
STACK := infra/stack.sh
# DynamoDB Local and moto for tests listen on their own ports, so `make test` and `make dev` can run side by side.
TEST_DYNAMODB_PORT ?= 8100
TEST_MOTO_PORT ?= 5100
TEST_SERVER_PORT ?= 3100

.PHONY: dev test bench bench-import bench-dialer token openapi stack-up stack-down lint-template schemathesis fmt build-SystemFunction build-AuthFunction build-PhoneNumbersFunction build-AgentsFunction build-RuntimeFunction build-SchedulerFunction build-TwilioWebhookFunction build-HandoffWorkerFunction build-LegalHoldWorkerFunction build-AutomationFunction build-TenantsFunction build-ClientFunction build-LeadListsFunction build-LeadImportWorkerFunction build-CampaignsFunction build-DialerFunction build-WebhooksFunction build-WebhookWorkerFunction

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

# Every function's release binary (x86_64 here) under a Lambda Runtime API emulator, against a
# local stack of its own behind counting proxies, beside hello-world lambda_http baselines built
# the same way: one table of binary size, init, first and warm invoke, peak RSS and AWS requests
# per invocation, medians over RUNS (default 5) interleaved runs of 1 + WARM (default 5) invokes.
# The functions are built on their own (`-p`), as `cargo lambda build` builds them: built with
# the bench (which links gobi-infra), Cargo would turn on their `openapi` feature.
BENCH_DYNAMODB_PORT ?= 8200
BENCH_MOTO_PORT ?= 5200
bench:
	@cargo build -q --release $$(infra/function-packages.sh) --bins
	@cargo build -q --release -p gobi-tests --bin gobi-baseline-hello --bin gobi-baseline-sdk \
		--bin gobi-baseline-sdk-call --bin gobi-bench-functions
	@export STACK_NAME=bench DYNAMODB_PORT=$(BENCH_DYNAMODB_PORT) MOTO_PORT=$(BENCH_MOTO_PORT); \
	$(STACK) start --memory && eval "$$($(STACK) env)" && \
	target/release/gobi-bench-functions $(RUNS) $(WARM); \
	status=$$?; $(STACK) stop; exit $$status

# The lead-import worker on a generated file (ROWS, default 150000) against a local stack of its
# own, in memory; prints rows/s, peak RSS and DynamoDB requests per 1,000 rows.
bench-import:
	@export STACK_NAME=bench DYNAMODB_PORT=$(BENCH_DYNAMODB_PORT) MOTO_PORT=$(BENCH_MOTO_PORT); \
	$(STACK) start --memory && eval "$$($(STACK) env)" && \
	cargo run -q --release -p gobi-tests --bin gobi-bench-import -- $(ROWS); \
	status=$$?; $(STACK) stop; exit $$status

# A campaign of LEADS (default 10000) at CONCURRENCY (default 100) against the Twilio stand-in.
bench-dialer:
	@export STACK_NAME=bench DYNAMODB_PORT=$(BENCH_DYNAMODB_PORT) MOTO_PORT=$(BENCH_MOTO_PORT); \
	$(STACK) start --memory && eval "$$($(STACK) env)" && \
	cargo run -q --release -p gobi-tests --bin gobi-bench-dialer -- $(LEADS) $(CONCURRENCY); \
	status=$$?; $(STACK) stop; exit $$status

fmt:
	cargo fmt --all

# `sam build` runs these, one per function of template.yaml (BuildMethod: makefile, built in
# source): the first builds every function for arm64 with cargo-lambda, each copies its own
# binary into ARTIFACTS_DIR as bootstrap.
build-SystemFunction:
	@infra/lambda-package.sh gobi-system

build-AuthFunction:
	@infra/lambda-package.sh gobi-auth

build-PhoneNumbersFunction:
	@infra/lambda-package.sh gobi-phone-numbers

build-AgentsFunction:
	@infra/lambda-package.sh gobi-agents

build-RuntimeFunction:
	@infra/lambda-package.sh gobi-runtime

build-SchedulerFunction:
	@infra/lambda-package.sh gobi-scheduler

build-TwilioWebhookFunction:
	@infra/lambda-package.sh gobi-twilio-webhook

build-HandoffWorkerFunction:
	@infra/lambda-package.sh gobi-handoff-worker

build-LegalHoldWorkerFunction:
	@infra/lambda-package.sh gobi-legal-hold-worker

build-AutomationFunction:
	@infra/lambda-package.sh gobi-automation

build-TenantsFunction:
	@infra/lambda-package.sh gobi-tenants

build-ClientFunction:
	@infra/lambda-package.sh gobi-client

build-LeadListsFunction:
	@infra/lambda-package.sh gobi-lead-lists

build-CampaignsFunction:
	@infra/lambda-package.sh gobi-campaigns

build-DialerFunction:
	@infra/lambda-package.sh gobi-dialer

build-WebhooksFunction:
	@infra/lambda-package.sh gobi-webhooks

build-WebhookWorkerFunction:
	@infra/lambda-package.sh gobi-webhook-worker

build-LeadImportWorkerFunction:
	@infra/lambda-package.sh gobi-lead-import
