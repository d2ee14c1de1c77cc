#!/usr/bin/env bash
# Herald SIP load harness: the release `herald` binary and Kamailio, driven by the same SIPp
# loads in the same run, so that every figure has a same-run baseline (STYLE.md item 15).
#
#   calls     sipp-uac.xml (INVITE/100/200/ACK/BYE/200, no media)
#             Herald: run-baselines.sh step ext-uac   Kamailio: step kamuas (kam-uas.cfg)
#   register  sipp-register-auth.xml (REGISTER/401/REGISTER+digest MD5/200, 10,000 users)
#             Herald: run-baselines.sh step ext-reg   Kamailio: step kamreg (kam-registrar.cfg)
#   latency   sipp-uac.xml with -trace_rtt at half of Herald's highest clean call rate (the
#             confirmed ceiling, else the highest single pass; H_CALL_CEILING=... when run
#             alone), both servers: p50/p99/max INVITE->200 from SIPp's per-call response
#             times (SIPp reports whole milliseconds)
#   memory    Herald's VmRSS before and after 5,000 idle answered calls (sipp-uac-idle.xml:
#             INVITE/200/ACK, pause, BYE) and after 10,000 digest registrations
#
# Every measurement step goes through the peers' run-baselines.sh (/work/shared/peers, used
# unmodified: it is copied next to a users.csv into the work directory because its own
# directory is read-only and it writes users.csv next to itself). Herald is started fresh
# (empty data directory) before every step and stopped by PID after it, as run-baselines.sh
# does with Kamailio.
#
# Safety: everything is on 127.0.0.1; every SIPp run is bounded by -m and -timeout and wrapped
# in `timeout`; servers are stopped by PID; the whole run is bounded by BUDGET seconds (rate
# searches stop early and say so when it runs out).
#
# Usage: benches/load/sip-load.sh [all|calls|register|latency|memory]...   (default: all)
# Environment:
#   BUDGET=1380          seconds for the whole run (stay under 25 minutes)
#   N=5000, MIN_SECONDS=5  per step: max(N, rate x MIN_SECONDS) operations (run-baselines.sh
#                        defaults are 20000 and 10; smaller here to fit the budget)
#   RATES="1000 2000 4000 6000 8000 12000 16000 24000"   ascending search ladder
#   REF_RATE=1000        rate for CPU per operation (REF_RUNS runs each, default 2)
#   HERALD_PORT=5080     Herald's UDP port on 127.0.0.1
#   HERALD_BIN=          a prebuilt binary; default: cargo build --release -p herald
#   HERALD_LOG=warn      Herald's log filter during the load (Kamailio runs with debug=0)
#   IDLE_CALLS=5000, REGISTRATIONS=10000
#   PEERS=/work/shared/peers
#   WORK=                output directory (default: mktemp -d); results in WORK/summary.txt,
#                        every step's line in WORK/results/results.tsv, SIPp logs beside it
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-/work/shared/peers}"
BUDGET="${BUDGET:-1380}"
export N="${N:-5000}" MIN_SECONDS="${MIN_SECONDS:-5}"
RATES="${RATES:-1000 2000 4000 6000 8000 12000 16000 24000}"
REF_RATE="${REF_RATE:-1000}"
REF_RUNS="${REF_RUNS:-2}"
HERALD_PORT="${HERALD_PORT:-5080}"
IDLE_CALLS="${IDLE_CALLS:-5000}"
REGISTRATIONS="${REGISTRATIONS:-10000}"
WORK="${WORK:-$(mktemp -d -t herald-load.XXXXXX)}"
export OUTDIR="$WORK/results"
IP=127.0.0.1
UAC_PORT=5091
SIPP_BUFF="${SIPP_BUFF-4194304}"
mkdir -p "$OUTDIR"
SUMMARY="$WORK/summary.txt"
START_S=$SECONDS

for bin in sipp kamailio python3 timeout ss; do
  command -v "$bin" >/dev/null 2>&1 || { echo "missing: $bin" >&2; exit 2; }
done

log() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(( SECONDS - START_S )); }
budget_left() { echo $(( BUDGET - (SECONDS - START_S) )); }

# --- inputs ------------------------------------------------------------------------------------

if [ -z "${HERALD_BIN:-}" ]; then
  ( cd "$ROOT" && cargo build --release -p herald ) || exit 1
  HERALD_BIN="$ROOT/target/release/herald"
fi
[ -x "$HERALD_BIN" ] || { echo "no herald binary at $HERALD_BIN" >&2; exit 2; }

# The peers' files, unmodified, plus the users.csv run-baselines.sh would write (same lines).
mkdir -p "$WORK/peers"
cp "$PEERS"/run-baselines.sh "$PEERS"/*.cfg "$PEERS"/*.xml "$WORK/peers/"
chmod u+w "$WORK/peers"/*
{ echo SEQUENTIAL
  for i in $(seq -w 1 10000); do echo "hu$i;[authentication username=hu$i password=secret]"; done
} >"$WORK/peers/users.csv"
RUNB=("$WORK/peers/run-baselines.sh")

# Herald's configuration: UDP on loopback, SQLite in a fresh data directory, the CSV's users
# with MD5 HA1 values (SIPp's [authentication] and Kamailio's baseline do MD5 only).
REALM=127.0.0.1
HCONF="$WORK/herald.toml"
HDATA="$WORK/herald-data"
python3 - "$WORK/peers/users.csv" "$REALM" "$HDATA" "$HERALD_PORT" >"$HCONF" <<'EOF'
import hashlib, sys
csv, realm, data, port = sys.argv[1:]
print(f'data_dir = "{data}"\n')
print('[sip]')
print(f'listen = ["udp:127.0.0.1:{port}"]')
print(f'domain = "{realm}"\nrealm = "{realm}"\n')
print('[sip.registrar]\nalgorithms = ["MD5"]\n')
print('[media]\nrtp_port_min = 10000\nrtp_port_max = 29999\n')
print(f'[storage]\ndatabase = "sqlite://{data}/herald.db"\n')
print('[recorder]\nenabled = false\n')
print('[api]\nlisten = "127.0.0.1:0"\n')
for line in open(csv):
    user = line.split(';')[0].strip()
    if user == 'SEQUENTIAL' or not user:
        continue
    # the same value as: printf '%s' 'USER:REALM:secret' | md5sum
    ha1 = hashlib.md5(f'{user}:{realm}:secret'.encode()).hexdigest()
    print(f'[[users]]\nusername = "{user}"\nha1_md5 = "{ha1}"\n')
EOF
check_ha1="$(printf '%s' "hu00001:$REALM:secret" | md5sum | cut -d' ' -f1)"
grep -q "$check_ha1" "$HCONF" || { echo "HA1 mismatch with md5sum" >&2; exit 2; }
"$HERALD_BIN" check --config "$HCONF" >"$WORK/herald-check.log" 2>&1 \
  || { echo "herald check failed:" >&2; cat "$WORK/herald-check.log" >&2; exit 2; }

# --- Herald process ----------------------------------------------------------------------------

H_WRAP=""; H_PID=""
wait_udp_port() {
  local port="$1" i
  for i in $(seq 1 100); do
    ss -lun "sport = :$port" | grep -q ":$port" && return 0
    sleep 0.1
  done
  return 1
}
start_herald() {
  rm -rf "$HDATA"; mkdir -p "$HDATA"
  HERALD_LOG="${HERALD_LOG:-warn}" timeout 1500 "$HERALD_BIN" serve --config "$HCONF" \
    >>"$WORK/herald.log" 2>&1 </dev/null &
  H_WRAP=$!
  wait_udp_port "$HERALD_PORT" || { echo "herald did not start, see $WORK/herald.log" >&2; return 1; }
  H_PID="$(ps -o pid= --ppid "$H_WRAP" | tr -d ' ')"
  [ -n "$H_PID" ] || { echo "no herald pid" >&2; return 1; }
  sleep 0.5
}
stop_herald() {
  [ -n "$H_PID" ] && kill -TERM "$H_PID" 2>/dev/null
  local i
  for i in $(seq 1 50); do kill -0 "$H_WRAP" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$H_WRAP" 2>/dev/null && [ -n "$H_PID" ] && kill -KILL "$H_PID" 2>/dev/null
  wait "$H_WRAP" 2>/dev/null
  H_WRAP=""; H_PID=""
}
trap 'stop_herald' EXIT
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
fd_count() { ls "/proc/$1/fd" | wc -l; }

# --- one step, either server -------------------------------------------------------------------
# step SERVER KIND RATE: SERVER herald|kamailio, KIND uac|reg. Prints run-baselines.sh's line;
# returns 0 on PASS. LAST_LINE keeps the line.
LAST_LINE=""
step() {
  local server="$1" kind="$2" rate="$3" test
  if [ "$server" = herald ]; then
    test="ext-$kind"
    start_herald || return 1
    LAST_LINE="$(EXT_PORT="$HERALD_PORT" EXT_PID="$H_WRAP" bash "${RUNB[@]}" step "$test" "$rate" 2>>"$WORK/steps.err")"
    stop_herald
  else
    [ "$kind" = uac ] && test=kamuas || test=kamreg
    LAST_LINE="$(bash "${RUNB[@]}" step "$test" "$rate" 2>>"$WORK/steps.err")"
  fi
  printf '%s\t%s\n' "$server" "$LAST_LINE" | tee -a "$WORK/steps.log"
  [[ "$LAST_LINE" == *PASS ]]
}
field() { printf '%s\n' "$LAST_LINE" | cut -f "$1"; }   # 11 = server CPU s per 1k ops

# --- CPU per operation at REF_RATE --------------------------------------------------------------
reference() {
  local server kind r cpu all
  for kind in uac reg; do
    for server in herald kamailio; do
      all=""
      for r in $(seq 1 "$REF_RUNS"); do
        step "$server" "$kind" "$REF_RATE" && all="$all $(field 11)" || all="$all FAIL($(field 11))"
      done
      log "REF $server $kind @${REF_RATE}/s: server CPU ms per operation (= s per 1k):$all"
    done
  done
}

# --- rate search ------------------------------------------------------------------------------
# As run-baselines.sh's search: a rate passes if one of two attempts passes (the host is shared:
# one scheduling stall of the load generator can cost a run); climb RATES, bisect between the
# last passing and the first failing rate to within 10%, then confirm: the ceiling is the
# highest rate that passes 3 runs of 3 (the search's passing run counts at the first rate),
# stepping down 10% at a time, at most 4 times. Stops early when the budget runs low (reported).
# Sets PEAK (highest rate that passed once) and CEILING (confirmed, 0 if none).
CEILING=0; PEAK=0
try2() { step "$@" || step "$@"; }
search() {
  local server="$1" kind="$2" lo=0 hi=0 r mid k i reserve="${3:-240}"
  for r in $RATES; do
    [ "$(budget_left)" -gt "$reserve" ] || { log "SEARCH $server $kind: budget low, ladder stopped at $r"; break; }
    if try2 "$server" "$kind" "$r"; then lo=$r; else hi=$r; break; fi
  done
  if [ "$hi" -gt 0 ] && [ "$lo" -gt 0 ]; then
    while [ $(( hi - lo )) -gt $(( lo / 10 > 100 ? lo / 10 : 100 )) ]; do
      [ "$(budget_left)" -gt "$reserve" ] || { log "SEARCH $server $kind: budget low, bisection stopped"; break; }
      mid=$(( (lo + hi) / 2 / 50 * 50 ))
      if try2 "$server" "$kind" "$mid"; then lo=$mid; else hi=$mid; fi
    done
  fi
  log "SEARCH $server $kind: passed $lo, first failing $hi (0 = none failed)"
  PEAK=$lo; CEILING=0
  r=$lo
  for i in 1 2 3 4 5; do
    [ "$r" -gt 0 ] || break
    [ "$(budget_left)" -gt $(( reserve / 2 )) ] || { log "SEARCH $server $kind: budget low, $r unconfirmed"; break; }
    k=0; [ "$i" -eq 1 ] && k=1
    [ "$i" -gt 1 ] && step "$server" "$kind" "$r" && k=$(( k + 1 ))
    step "$server" "$kind" "$r" && k=$(( k + 1 ))
    step "$server" "$kind" "$r" && k=$(( k + 1 ))
    log "SEARCH $server $kind: confirm at $r: $k/3 passed"
    if [ "$k" -eq 3 ]; then CEILING=$r; break; fi
    r=$(( r * 9 / 10 / 50 * 50 ))
  done
  log "CEILING $server $kind: $CEILING per second (3/3 clean; highest single pass $PEAK; last run's server CPU $(field 11) ms per operation)"
}

# --- latency: p99 INVITE->200 from SIPp's per-call response times ------------------------------
latency() {
  local server="$1" rate="$2" port d n out
  n=$(( rate * 10 )); [ "$n" -lt 2000 ] && n=2000
  d="$OUTDIR/latency-$server-r$rate"; mkdir -p "$d"
  if [ "$server" = herald ]; then
    start_herald || return 1; port=$HERALD_PORT
  else
    rm -f "$d/kamailio.pid"
    timeout 300 kamailio -f "$WORK/peers/kam-uas.cfg" -DD -E -x fm -m 4096 -M 8 -n 2 \
      -P "$d/kamailio.pid" -w "$d" >>"$d/kamailio.log" 2>&1 &
    K_WRAP=$!
    wait_udp_port 5070 || { echo "kamailio did not start" >&2; return 1; }
    sleep 1; port=5070
  fi
  ( cd "$d" && exec timeout $(( n / rate + 60 )) sipp -sf "$WORK/peers/sipp-uac.xml" "$IP:$port" \
      -i "$IP" -p "$UAC_PORT" -r "$rate" -m "$n" -timeout $(( n / rate + 40 ))s -nostdin \
      ${SIPP_BUFF:+-buff_size "$SIPP_BUFF"} -trace_rtt -rtt_freq 1 -trace_stat -stf "$d/uac.csv" -fd 1 \
      </dev/null >"$d/uac.out" 2>&1 )
  if [ "$server" = herald ]; then stop_herald; else
    kill -TERM "$(cat "$d/kamailio.pid")" 2>/dev/null; wait "$K_WRAP" 2>/dev/null; fi
  out="$(python3 - "$d" <<'EOF'
import glob, sys
rows = []
for f in glob.glob(sys.argv[1] + '/*_rtt.csv'):
    for line in open(f, encoding='latin-1'):
        p = line.strip().split(';')
        if len(p) >= 3 and p[2] == '1':
            try: rows.append(float(p[1]))
            except ValueError: pass
rows.sort()
if not rows:
    print('no-rtt-data'); sys.exit()
q = lambda x: rows[min(len(rows) - 1, int(x * len(rows)))]
print(f'n={len(rows)} p50={q(0.50):.3f}ms p90={q(0.90):.3f}ms p99={q(0.99):.3f}ms max={rows[-1]:.3f}ms')
EOF
)"
  local stat
  stat="$(python3 - "$d/uac.csv" <<'EOF'
import sys
lines = [l for l in open(sys.argv[1], encoding='latin-1') if l.strip()]
v = dict(zip(lines[0].rstrip('\n').split(';'), lines[-1].rstrip('\n').split(';')))
print(f"ok={v['SuccessfulCall(C)']} failed={v['FailedCall(C)']} retrans={v['Retransmissions(C)']}")
EOF
)"
  log "LATENCY $server @${rate}/s INVITE->200: $out ($stat)"
}

# --- memory per idle dialog and per registration --------------------------------------------------
sipp_run() {  # sipp_run DIR SCENARIO RATE COUNT EXTRA...   (foreground, bounded)
  local d="$1" sf="$2" rate="$3" n="$4"; shift 4
  mkdir -p "$d"
  ( cd "$d" && exec timeout $(( n / rate + 120 )) sipp -sf "$sf" "$IP:$HERALD_PORT" -i "$IP" -p "$UAC_PORT" \
      -r "$rate" -m "$n" -timeout $(( n / rate + 100 ))s -nostdin ${SIPP_BUFF:+-buff_size "$SIPP_BUFF"} \
      -trace_stat -stf "$d/uac.csv" -fd 1 "$@" </dev/null >"$d/uac.out" 2>&1 )
}
sipp_ok() {  # "ok failed" from a -trace_stat CSV
  python3 - "$1" <<'EOF'
import sys
lines = [l for l in open(sys.argv[1], encoding='latin-1') if l.strip()]
v = dict(zip(lines[0].rstrip('\n').split(';'), lines[-1].rstrip('\n').split(';')))
print(v['SuccessfulCall(C)'], v['FailedCall(C)'])
EOF
}
memory() {
  local d="$OUTDIR/memory" r0 r1 r2 f0 f1 ok failed pause_ms idle_rate=1000 sp
  mkdir -p "$d"
  # Idle dialogs. Warm up with ordinary calls, measure, then hold IDLE_CALLS answered calls.
  start_herald || return 1
  sipp_run "$d/warm-calls" "$WORK/peers/sipp-uac.xml" 1000 2000
  sleep 2
  r0="$(rss_kib "$H_PID")"; f0="$(fd_count "$H_PID")"
  pause_ms=$(( IDLE_CALLS * 1000 / idle_rate + 10000 ))
  sipp_run "$d/idle" "$HERE/sipp-uac-idle.xml" "$idle_rate" "$IDLE_CALLS" -d "$pause_ms" &
  sp=$!
  sleep $(( IDLE_CALLS / idle_rate + 4 ))   # all established, none hung up yet
  r1="$(rss_kib "$H_PID")"; f1="$(fd_count "$H_PID")"
  wait "$sp"
  sleep 2
  r2="$(rss_kib "$H_PID")"
  read -r ok failed < <(sipp_ok "$d/idle/uac.csv")
  stop_herald
  log "MEMORY idle dialogs: VmRSS ${r0} KiB -> ${r1} KiB with $(( f1 - f0 )) more open fds (RTP sockets) for $IDLE_CALLS idle calls; $(( (r1 - r0) * 1024 / IDLE_CALLS )) bytes per idle dialog; ${r2} KiB after they hung up (sipp ok=$ok failed=$failed)"

  # Registrations: same warm-up, then REGISTRATIONS digest registrations of distinct users.
  start_herald || return 1
  sipp_run "$d/warm-reg" "$WORK/peers/sipp-uac.xml" 1000 2000
  sleep 2
  r0="$(rss_kib "$H_PID")"
  sipp_run "$d/register" "$WORK/peers/sipp-register-auth.xml" 1000 "$REGISTRATIONS" -inf "$WORK/peers/users.csv"
  sleep 3
  r1="$(rss_kib "$H_PID")"
  read -r ok failed < <(sipp_ok "$d/register/uac.csv")
  stop_herald
  log "MEMORY registrations: VmRSS ${r0} KiB -> ${r1} KiB for $REGISTRATIONS registrations; $(( (r1 - r0) * 1024 / REGISTRATIONS )) bytes per registration (sipp ok=$ok failed=$failed)"
}

# --- main -------------------------------------------------------------------------------------
log "# sip-load.sh $(date -u +%FT%TZ) on $(nproc) cores; herald $HERALD_BIN; N=$N MIN_SECONDS=$MIN_SECONDS BUDGET=${BUDGET}s; work dir $WORK"
what=" ${*:-all} "
case "$what" in *" all "*) what=" memory reference calls register latency " ;; esac
for part in $what; do
  case "$part" in memory|reference|calls|register|latency) ;; *) echo "unknown part $part" >&2; exit 2 ;; esac
done
H_CALL_CEILING="${H_CALL_CEILING:-0}"
has() { [[ "$what" == *" $1 "* ]]; }
has memory && memory
has reference && reference
if has calls; then
  search herald uac 600; H_CALL_CEILING=$CEILING; [ "$CEILING" -gt 0 ] || H_CALL_CEILING=$PEAK
  search kamailio uac 420
fi
if has register; then
  search herald reg 300
  search kamailio reg 120
fi
if has latency; then
  if [ "$H_CALL_CEILING" -gt 0 ]; then
    half=$(( H_CALL_CEILING / 2 / 50 * 50 ))
    latency herald "$half"; latency kamailio "$half"
  else
    log "LATENCY skipped: no Herald call rate passed (set H_CALL_CEILING=...)"
  fi
fi
log "# done in $(elapsed) s; steps in $OUTDIR/results.tsv, summary in $SUMMARY"
