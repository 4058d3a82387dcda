#!/usr/bin/env bash
# `make test`: brings up its own emulators, runs every Rust test, lints the template, runs
# schemathesis over the OpenAPI document against the local server, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

export STACK_NAME=test
export DYNAMODB_PORT="${TEST_DYNAMODB_PORT:-8100}"
export MOTO_PORT="${TEST_MOTO_PORT:-5100}"
server_port="${TEST_SERVER_PORT:-3100}"
server_pid=""
fakes_pid=""

cleanup() {
  for pid in $server_pid $fakes_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  infra/stack.sh stop
}
trap cleanup EXIT

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy -q --workspace --all-targets -- -D warnings
# The functions as they deploy (`cargo lambda build -p …`): without gobi-infra and the tests beside
# them, so without their `openapi` feature, which the workspace build above turns on.
echo "== cargo clippy (the functions' own builds)"
mapfile -t function_packages < <(infra/function-packages.sh)
cargo clippy -q "${function_packages[@]}" --bins -- -D warnings

infra/stack.sh start --memory
eval "$(infra/stack.sh env)"
venv=.local/venv/bin

# The binaries the tests and schemathesis run (tests/tests/api/dev_server.rs runs gobi-local).
cargo build -q -p gobi-infra --bin gobi-local
cargo build -q -p gobi-tests --bin gobi-fakes

echo "== cargo test"
cargo_log=.local/run/test/cargo-test.log
# Every AWS request a function makes in the suite, for the IAM check below.
export GOBI_AWS_REQUEST_LOG="$PWD/.local/run/test/aws-requests.jsonl"
rm -f "$GOBI_AWS_REQUEST_LOG"
cargo test --workspace --no-fail-fast 2>&1 | tee "$cargo_log"
cargo_status=${PIPESTATUS[0]}
[ "$cargo_status" -eq 0 ] || exit "$cargo_status"

echo "== IAM: the suite's AWS requests against template.yaml's policies"
cargo test -q -p gobi-tests --test iam -- --nocapture 2>&1 | tee -a "$cargo_log"
iam_status=${PIPESTATUS[0]}
[ "$iam_status" -eq 0 ] || exit "$iam_status"

echo "== cfn-lint template.yaml"
"$venv/cfn-lint" template.yaml

echo "== schemathesis"
# The server reads only the environment: no .env file, fresh tables, GOBI's own test secret.
export NODE_ENV=test PORT="$server_port" TABLE_PREFIX="schemathesis-$(date +%s)" \
  JWT_SECRET="schemathesis-secret-0123456789abcdef" JWT_ISSUER=gobi-test JWT_AUDIENCE=gobi \
  CORS_ORIGIN="http://localhost" RUST_LOG=warn JWT_PUBLIC_KEY="" \
  AUTH_BOOTSTRAP_KEY="schemathesis-auth-key" DEV_BOOTSTRAP_KEY="schemathesis-dev-key"
# Twilio and LiveKit are the local stand-ins from the test kit.
twilio_port="${TEST_TWILIO_PORT:-3201}" livekit_port="${TEST_LIVEKIT_PORT:-3202}"
export TWILIO_ACCOUNT_SID=AC0000000000000000000000000000beef TWILIO_AUTH_TOKEN=schemathesis-twilio-token \
  TWILIO_API_BASE_URL="http://127.0.0.1:$twilio_port" TWILIO_WEBHOOK_BASE_URL="https://hooks.gobi.test" \
  TWILIO_VALIDATE_SIGNATURE=false \
  LIVEKIT_URL="http://127.0.0.1:$livekit_port" LIVEKIT_API_KEY=APIschemathesis \
  LIVEKIT_API_SECRET=schemathesis-livekit-secret-0123456789 \
  LIVEKIT_SIP_AUTH_USERNAME=gobi-trunk LIVEKIT_SIP_AUTH_PASSWORD=schemathesis-trunk-password
target/debug/gobi-fakes "$twilio_port" "$livekit_port" >.local/run/test/fakes.log 2>&1 &
fakes_pid=$!
log=.local/run/test/server.log
target/debug/gobi-local serve >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$server_port/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
# An internal admin of the platform whose token also names a (made-up) tenant, so the client
# routes have one to read.
token=$(target/debug/gobi-local token --role internal_admin --tenant 0190f000-0000-7000-8000-000000000001)
# use_after_free is left out on purpose: DELETE /api/tenants/{id} without ?permanent=true
# deactivates, as the first seed specifies, so the tenant is still readable afterwards.
"$venv/schemathesis" run "http://127.0.0.1:$server_port/api-docs/swagger.json" \
  --header "Authorization: Bearer $token" \
  --header "x-auth-bootstrap-key: $AUTH_BOOTSTRAP_KEY" \
  --header "x-dev-bootstrap-key: $DEV_BOOTSTRAP_KEY" \
  --checks all \
  --exclude-checks use_after_free \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
  --seed 1 \
  --no-color

# One closing line for every Rust test that ran (schemathesis has printed its own summary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$cargo_log"
elapsed=$(($(date +%s) - started))
printf 'make test took %dm %02ds\n' $((elapsed / 60)) $((elapsed % 60))
