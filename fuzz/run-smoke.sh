#!/usr/bin/env bash
# Smoke run of every cargo-fuzz target: build them all, then fuzz each for a short, bounded
# time from a seed corpus. Exits non-zero if a target does not build or finds a crash.
#
#   bash fuzz/run-smoke.sh                 # 20 s per target
#   FUZZ_SECONDS=300 bash fuzz/run-smoke.sh
#   FUZZ_TARGETS="sip_message sdp" bash fuzz/run-smoke.sh
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_JOBS      targets fuzzed at the same time (default: number of CPUs, at most 4)
#   FUZZ_TARGETS   space-separated subset of targets (default: all)
#   TORTURE_DIR    RFC 4475 torture messages (default: ../shared/conformance/sip-torture/rfc4475
#                  next to the repository); copied into a temporary corpus, never committed.
#
# Corpora live in a temporary directory that is deleted at exit. Crashing inputs are kept in
# fuzz/artifacts/<target>/ (git-ignored); reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
seconds="${FUZZ_SECONDS:-20}"
cpus="$(nproc 2>/dev/null || echo 2)"
jobs="${FUZZ_JOBS:-$(( cpus < 4 ? cpus : 4 ))}"
targets="${FUZZ_TARGETS:-sip_message sip_framing sdp transaction_ops endpoint rtp rtcp telephone_event srtp media_stream vxml_document ivr_session dtmf_grammar dialplan recording_reader}"
torture="${TORTURE_DIR:-$repo/../shared/conformance/sip-torture/rfc4475}"
export RUSTC_BOOTSTRAP=1

start=$SECONDS
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== building fuzz targets"
cd "$here"
cargo fuzz build
host="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="${CARGO_TARGET_DIR:-$here/target}/$host/release"
echo "   built in $(( SECONDS - start )) s"

work="$(mktemp -d "${TMPDIR:-/tmp}/herald-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Seeds: our own committed ones, plus the RFC 4475 messages for the SIP text targets.
seed_corpus() {
    local target="$1" corpus="$work/corpus/$1"
    mkdir -p "$corpus"
    if [ -d "$here/seeds/$target" ]; then
        cp "$here/seeds/$target/"* "$corpus/" 2>/dev/null || true
    fi
    case "$target" in
        sip_message | sip_framing)
            cp "$here/seeds/sip_message/"* "$corpus/" 2>/dev/null || true
            if [ -d "$torture" ]; then
                cp "$torture/"* "$corpus/" 2>/dev/null || true
            fi
            ;;
    esac
}

fuzz_one() {
    local target="$1"
    local log="$work/$target.log" artifacts="$here/artifacts/$target"
    local dict=()
    case "$target" in
        sip_message | sip_framing | endpoint) dict=(-dict="$here/dictionaries/sip.dict") ;;
        sdp) dict=(-dict="$here/dictionaries/sdp.dict") ;;
    esac
    mkdir -p "$artifacts"
    if "$bin_dir/$target" "$work/corpus/$target" "${dict[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
        local runs
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
        echo "ok    $target ($runs runs, $(ls "$work/corpus/$target" | wc -l) corpus entries)"
    else
        echo "FAIL  $target (details below, crashing input in $artifacts/)"
        { grep -a -m1 -A3 "panicked" "$log" || grep -a -m1 "ERROR" "$log"; grep -a "Test unit written" "$log"; } |
            sed 's/^/      /'
        return 1
    fi
}

if [ -d "$torture" ]; then
    echo "== RFC 4475 messages from $torture"
else
    echo "== no RFC 4475 messages at $torture (seeding with our own messages only)"
fi
for target in $targets; do
    seed_corpus "$target"
done

echo "== fuzzing each target for ${seconds} s, ${jobs} at a time"
failed=0
running=0
for target in $targets; do
    fuzz_one "$target" >"$work/$target.result" 2>&1 &
    running=$(( running + 1 ))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$(( running - 1 ))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$(( running - 1 ))
done
for target in $targets; do
    cat "$work/$target.result"
done

echo "== done in $(( SECONDS - start )) s"
if [ "$failed" -ne 0 ]; then
    echo "== a fuzz target crashed" >&2
    exit 1
fi
