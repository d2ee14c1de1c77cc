#!/usr/bin/env bash
# Runs Herald's whole test suite: unit, property and virtual-time tests, the RFC 4475 torture
# suite, and black-box tests of the real binary against SIPp and a real PostgreSQL.
# Installs the peers it needs first (SIPp, PostgreSQL, iproute2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh test
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
