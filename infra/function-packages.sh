#!/usr/bin/env bash
# The arguments that select every function's package for cargo (`-p gobi-auth -p gobi-tenants …`),
# one per line, read from functions/*/Cargo.toml: `mapfile -t packages < <(infra/function-packages.sh)`.
set -euo pipefail
cd "$(dirname "$0")/.."
for manifest in functions/*/Cargo.toml; do
  printf -- '-p\n%s\n' "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1)"
done
