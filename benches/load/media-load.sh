#!/usr/bin/env bash
# Herald media load harness: N concurrent RTP sessions against the release `herald` binary and,
# in the same run, against rtpengine (Debian `rtpengine-daemon`, userspace forwarding) as the
# baseline, both driven by the same purpose-built load generator (benches/src/bin/media_load)
# on the same two cores.
#
#   Herald:    N SIP calls (a VoiceXML application: the welcome prompt, then listening); per session
#              Herald receives 50 and sends 50 RTP packets/s (20 ms PCMU)
#   rtpengine: N sessions over its ng protocol; per session it receives 50 and forwards 50
#              packets/s: the same packet work
#
# Per step: outbound packets late (> 20 ms behind schedule) or lost, server CPU per
# session-second, server RSS per session. The generator prints one JSON line per step;
# results go to WORK/results.jsonl and a table to WORK/summary.txt.
#
# Safety: everything on 127.0.0.1; every step bounded (setup deadline, fixed window,
# teardown deadline, `timeout` around the generator); servers stopped by PID.
#
# Usage: benches/load/media-load.sh [SESSIONS...]        (default: 500 1000 2000 3000)
# Environment:
#   WINDOW=20       seconds measured per step (after every session is up and 2 s of settling)
#   SETUP_RATE=200  sessions set up per second
#   HERALD_BIN=     a prebuilt binary; default: cargo build --release -p herald
#   SKIP_RTPENGINE=1  Herald only
#   WORK=           output directory (default: mktemp -d)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
WINDOW="${WINDOW:-20}"
SETUP_RATE="${SETUP_RATE:-200}"
WORK="${WORK:-$(mktemp -d -t herald-media-load-XXXXXX)}"
mkdir -p "$WORK"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(500 1000 2000 3000)

if [ -z "${SKIP_RTPENGINE:-}" ] && ! command -v rtpengine >/dev/null; then
  echo "installing rtpengine-daemon (the baseline)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rtpengine-daemon >/dev/null
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ -z "${HERALD_BIN:-}" ]; then
  cargo build --release --locked -p herald --manifest-path "$repo/Cargo.toml"
  HERALD_BIN="$repo/target/release/herald"
fi
cargo build --release --locked -p herald-benches --bin media_load --manifest-path "$repo/Cargo.toml"
GEN="$repo/target/release/media_load"

port=5090
start_herald() {
  local dir="$WORK/herald-$1"
  mkdir -p "$dir/dialplans"
  # Every call: the welcome prompt, then an hour of listening (the session stays live).
  cat > "$dir/dialplans/load.vxml" <<'EOF'
<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <form>
    <block><prompt bargein="false"><audio src="prompt:welcome"/></prompt></block>
    <field name="keys" type="digits"><property name="timeout" value="3600s"/></field>
  </form>
</vxml>
EOF
  printf '[[route]]\nname = "load"\napplication = "load.vxml"\nlanguage = "en"\n' > "$dir/dialplans/load.toml"
  cat > "$dir/herald.toml" <<EOF
data_dir = "$dir/data"
[sip]
listen = ["udp:127.0.0.1:$port"]
[media]
rtp_port_min = 20000
rtp_port_max = 29998
prompts = "$repo/prompts"
[ivr]
dialplans = "$dir/dialplans"
[recorder]
enabled = false
[api]
listen = "127.0.0.1:0"
EOF
  RUST_LOG=warn "$HERALD_BIN" serve --config "$dir/herald.toml" > "$dir/herald.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    grep -q "herald is serving" "$dir/herald.log" 2>/dev/null && return 0
    RUST_LOG=info grep -q "error" "$dir/herald.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "herald is serving" "$dir/herald.log" || { cat "$dir/herald.log" >&2; return 1; }
}

start_rtpengine() {
  local dir="$WORK/rtpengine-$1"
  mkdir -p "$dir"
  rtpengine --foreground --log-stderr --log-level=3 --table=-1 --interface=127.0.0.1 \
    --listen-ng=127.0.0.1:$port --port-min=30000 --port-max=39998 --num-threads=2 \
    --pidfile="$dir/pid" > "$dir/rtpengine.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$dir/pid" ] && return 0
    sleep 0.1
  done
  cat "$dir/rtpengine.log" >&2
  return 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

run_step() { # target sessions
  local target=$1 n=$2
  # Setup at SETUP_RATE, 2 s settle, the window, teardown: bound generously.
  local bound=$(( n / SETUP_RATE + WINDOW + 60 ))
  timeout "$bound" "$GEN" --target "$target" --server "127.0.0.1:$port" --pid "$SERVER_PID" \
    --sessions "$n" --setup-rate "$SETUP_RATE" --window "$WINDOW" \
    2> "$WORK/$target-$n.stderr" | tee -a "$WORK/results.jsonl"
}

for n in "${steps[@]}"; do
  start_herald "$n"
  run_step herald "$n" || echo "herald step $n failed (see $WORK)" >&2
  stop_server
  if [ -z "${SKIP_RTPENGINE:-}" ]; then
    start_rtpengine "$n"
    run_step rtpengine "$n" || echo "rtpengine step $n failed (see $WORK)" >&2
    stop_server
  fi
done

python3 - "$WORK/results.jsonl" > "$WORK/summary.txt" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
base = {r["sessions"]: r for r in rows if r["target"] == "rtpengine"}
print("| sessions | server | late or lost | CPU us per session-second | RSS per session | CPU ratio to rtpengine |")
print("| --- | --- | --- | --- | --- | --- |")
for r in rows:
    b = base.get(r["sessions"])
    ratio = f'{r["cpu_us_per_session_second"] / b["cpu_us_per_session_second"]:.2f}' if b and b["cpu_us_per_session_second"] > 0 else "-"
    print(f'| {r["sessions"]} | {r["target"]} | {r["late_or_lost_percent"]:.3f}% ({r["outbound_late"]} late, {r["outbound_lost"]} lost of {r["outbound_expected"]}) | {r["cpu_us_per_session_second"]:.0f} | {r["rss_per_session"]/1024:.1f} KiB | {ratio} |')
EOF
cat "$WORK/summary.txt"
echo "results in $WORK" >&2
