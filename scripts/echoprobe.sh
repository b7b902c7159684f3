#!/usr/bin/env bash
# Issue 18's speed comparison, measured by the independent generator `echoprobe load`
# (../shared/tools/echoprobe): echoprobe's tokio peer against conclab's `pool`, `threads` and
# `events` modes, at 16 and 64 clients, 64-byte lines, one line in flight per client.
# Runs are interleaved (every server once per round, rounds repeated), each on a fresh
# server ended by its PID. Loopback only.
#
# Usage (from the crate root): scripts/echoprobe.sh [OUTDIR]   (default target/echoprobe-runs)
# Environment: REPS (rounds, default 5), LINES (lines per run, default 200000), CLIENTS
#   (default "16 64"), SERVERS (default "tokio pool threads events"; also "std-threads",
#   echoprobe's own thread-per-connection peer), POOL_ARGS (extra args
#   for pool, e.g. "--workers 2"), CS=1 (run each server under `perf stat` counting its context
#   switches and system calls, and the load generator under `perf stat` counting its switches,
#   every thread, exited ones included: a little extra cost per switch, so off by default),
#   MAX_OTHER (a run during which other processes used more than this many cores, as
#   echoprobe's other_cpu_cores says, is kept in discarded.jsonl and redone; default 0.3),
#   TRIES (attempts per run, default 4; the last is kept whatever it shows), QUIET_WAIT (before
#   each attempt, wait up to this many seconds for the host to be idle, under 0.25 busy
#   cores; default 20).
# Then: python3 scripts/echoprobe_summary.py OUTDIR
set -u
cd "$(dirname "$0")/.."
OUT=${1:-target/echoprobe-runs}
REPS=${REPS:-5}
LINES=${LINES:-200000}
CLIENTS=${CLIENTS:-"16 64"}
SERVERS=${SERVERS:-"tokio pool threads events"}
POOL_ARGS=${POOL_ARGS:-}
CS=${CS:-0}
MAX_OTHER=${MAX_OTHER:-0.3}
TRIES=${TRIES:-4}
QUIET_WAIT=${QUIET_WAIT:-20}
EP=target/echoprobe/release/echoprobe
CONCLAB=target/release/conclab
mkdir -p "$OUT"
CARGO_TARGET_DIR=target/echoprobe cargo build --release -q --manifest-path ../shared/tools/echoprobe/Cargo.toml || exit 1
cargo build --release -q || exit 1

PID=""
cleanup() {
  if [ -z "$PID" ] && [ -n "${WRAP:-}" ]; then PID=$(pgrep -P "$WRAP" | head -1); fi
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null; fi
  if [ -n "${WRAP:-}" ]; then wait "$WRAP" 2>/dev/null; elif [ -n "$PID" ]; then wait "$PID" 2>/dev/null; fi
  PID=""
  WRAP=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

start() { # $1: server name; sets PID (the server's) and ADDR
  local cmd
  case "$1" in
    tokio) cmd=("$EP" peer-tokio --addr 127.0.0.1:0 --max-secs 300) ;;
    std-threads) cmd=("$EP" peer-threads --addr 127.0.0.1:0 --max-secs 300) ;;
    pool) cmd=("$CONCLAB" serve --mode pool $POOL_ARGS) ;;
    *) cmd=("$CONCLAB" serve --mode "$1") ;;
  esac
  # Removed here, not truncated by the redirection below: that happens in the background,
  # and the loop below could read the previous server's address meanwhile.
  rm -f "$OUT/server.out"
  if [ "$CS" = 1 ]; then
    perf stat -x, -e context-switches,raw_syscalls:sys_enter -o "$OUT/perf.txt" -- "${cmd[@]}" >"$OUT/server.out" 2>"$OUT/server.err" &
    WRAP=$!
  else
    "${cmd[@]}" >"$OUT/server.out" 2>"$OUT/server.err" &
    WRAP=""
    PID=$!
  fi
  ADDR=""
  for _ in $(seq 600); do
    ADDR=$(awk '/^listening on /{print $3; exit}' "$OUT/server.out" 2>/dev/null)
    [ -n "$ADDR" ] && [ -n "$WRAP" ] && PID=$(pgrep -P "$WRAP" | head -1)
    [ -n "$ADDR" ] && [ -n "$PID" ] && break
    sleep 0.05
  done
  [ -n "$ADDR" ] && [ -n "$PID" ] && return 0
  echo "echoprobe.sh: $1 did not print its address" >&2
  return 1
}

# Busy cores of the whole host over 0.5 s, from /proc/stat.
busy_cores() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep 0.5
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  echo "$a $b" | awk -v n="$(nproc)" '{print ($3-$1)/($4-$2)*n}'
}

# Waits (bounded) until the host is idle, so that other processes skew the run less.
wait_quiet() {
  local t=0
  while [ "$t" -lt $((QUIET_WAIT * 2)) ]; do
    awk -v b="$(busy_cores)" 'BEGIN{exit !(b < 0.25)}' && return 0
    t=$((t + 1))
  done
}

: >>"$OUT/results.jsonl"
for rep in $(seq "$REPS"); do
  for c in $CLIENTS; do
    for s in $SERVERS; do
      for try in $(seq "$TRIES"); do
        wait_quiet
        start "$s" || exit 1
        load=("$EP" load --addr "$ADDR" --clients "$c" --lines $((LINES / c)) --line-bytes 64 --server-pid "$PID")
        if [ "$CS" = 1 ]; then
          line=$(perf stat -x, -e context-switches -o "$OUT/perf-client.txt" -- "${load[@]}")
        else
          line=$("${load[@]}")
        fi
        rc=$?
        cleanup
        cs=null
        sys=null
        ccs=null
        # pool: how often a saturated worker handed connections to another (its stderr says).
        moves=$(grep -c "is saturated" "$OUT/server.err")
        if [ "$CS" = 1 ]; then
          ccs=$(awk -F, '/context-switches/{print $1}' "$OUT/perf-client.txt")
          cs=$(awk -F, '/context-switches/{print $1}' "$OUT/perf.txt")
          sys=$(awk -F, '/sys_enter/{print $1}' "$OUT/perf.txt")
        fi
        file=results.jsonl
        other=$(echo "$line" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read()).get("other_cpu_cores") or 0)')
        if [ "$try" -lt "$TRIES" ] && awk -v o="$other" -v m="$MAX_OTHER" 'BEGIN{exit !(o > m)}'; then
          file=discarded.jsonl
        fi
        echo "$line" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
a = sys.argv
d.update(server=a[1], clients=int(a[2]), rep=int(a[3]), rc=int(a[4]),
         server_cs=json.loads(a[5]), server_syscalls=json.loads(a[6]), pool_args=a[7], client_cs=json.loads(a[8]), hand_overs=int(a[9]))
print(json.dumps(d))' "$s" "$c" "$rep" "$rc" "$cs" "$sys" "$POOL_ARGS" "$ccs" "$moves" >>"$OUT/$file"
        tail -1 "$OUT/$file" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
n = max(1, d["lines_verified"])
cs = "-" if d["server_cs"] is None else "%.3f" % (d["server_cs"] / n)
cs += " syscalls/line " + ("-" if d["server_syscalls"] is None else "%.2f" % (d["server_syscalls"] / n))
print("rep %d c%d %-8s %9.0f lines/s  %5.2f us/line  cs/line %s  other %.2f  rc %d  %s" % (d["rep"], d["clients"],
      d["server"], d["lines_per_s"], -1 if d["server_cpu_us_per_line"] is None else d["server_cpu_us_per_line"], cs,
      -1 if d["other_cpu_cores"] is None else d["other_cpu_cores"], d["rc"], sys.argv[1]))' "$file" >&2
        [ "$file" = results.jsonl ] && break
      done
    done
  done
done
python3 scripts/echoprobe_summary.py "$OUT"
