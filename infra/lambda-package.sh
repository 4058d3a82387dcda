#!/usr/bin/env bash
# `sam build`'s step for one function (template.yaml: `BuildMethod: makefile`; the Makefile's
# `build-<LogicalId>` targets call this with the function's binary name).
#
# The first call builds every function of the workspace at once (cargo-lambda, release, arm64);
# the others find that build done, so the functions share one compilation and parallel builds
# never race each other. Then the function's binary is copied into ARTIFACTS_DIR as `bootstrap`.
set -euo pipefail
binary=${1:?usage: lambda-package.sh <binary>}
artifacts=${ARTIFACTS_DIR:?sam build sets ARTIFACTS_DIR}
cd "$(dirname "$0")/.."

mapfile -t packages < <(infra/function-packages.sh)

mkdir -p target
# One build at a time; whoever waits finds it done (cargo has nothing left to compile).
exec 9>target/lambda-build.lock
flock 9
cargo lambda build --release --arm64 "${packages[@]}" >&2
flock -u 9

cp "target/lambda/$binary/bootstrap" "$artifacts/bootstrap"
