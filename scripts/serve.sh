#!/usr/bin/env bash
# Builds Herald (release) and runs `herald serve` on the embedded defaults, or with the
# arguments given (e.g. --config herald.toml). Installs what the build needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh build
cargo build --release --locked -p herald
exec target/release/herald serve "$@"
