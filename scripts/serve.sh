#!/usr/bin/env bash
# Builds Herald (release) and runs `herald serve` on the embedded defaults, or with the
# arguments given (e.g. --config herald.toml). Installs what the build needs first.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bash "$repo/scripts/setup-deps.sh" build
cargo build --release --locked -p herald --manifest-path "$repo/Cargo.toml"
# Runs where the user stands: the embedded defaults keep data in ./data of this directory.
exec "${CARGO_TARGET_DIR:-$repo/target}/release/herald" serve "$@"
