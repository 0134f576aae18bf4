#!/usr/bin/env bash
# Load runs against the real server binary (issue 5; docs/benchmarks.md).
#
#   scripts/load.sh --short   smoke test for scripts/test.sh: a dashboard mix,
#                             8 clients x 5 s, must see zero errors and no
#                             5xx; then page20 with the upstream limiter
#                             and the caches on.
#   scripts/load.sh           the benchmark matrix of docs/benchmarks.md
#                             (about 3 minutes); JSON reports, the server log
#                             and a Markdown table go to $LOAD_OUT (default:
#                             a temp dir, kept and printed at the end).
#
# cmd/loadgen hosts the fake lemlist (lemlisttest, 100k activities) on a
# loopback port and counts the upstream calls; the server is started once
# per run, pointed at it, so each run's peak RSS is its own. Every process
# started here is killed on exit, and every wait is bounded.
#
# Settings (environment): LOAD_DURATION (default 10s; 5s with --short),
# LOAD_WARMUP (2s), LOAD_ACTIVITIES (100000), LOAD_OUT, LOAD_CACHE_TTL
# (30s), LOAD_NICE (e.g. -10, root only: runs the server and loadgen ahead
# of other work on a shared machine; the script moves to a session of its
# own and sets that session's autogroup niceness too, since with
# kernel.sched_autogroup_enabled nice alone does not weigh against other
# sessions).
set -euo pipefail

if [ -n "${LOAD_NICE:-}" ] && [ -z "${LOAD_SESSION:-}" ] && command -v setsid >/dev/null; then
  LOAD_SESSION=1 exec setsid --wait bash "$0" "$@"
fi
cd "$(dirname "$0")/.."
if [ -n "${LOAD_NICE:-}" ] && [ -w /proc/self/autogroup ]; then
  echo "$LOAD_NICE" >/proc/self/autogroup 2>/dev/null || true
fi

short=false
case "${1:-}" in
--short) short=true ;;
"") ;;
*)
  echo "usage: $0 [--short]" >&2
  exit 2
  ;;
esac

duration=${LOAD_DURATION:-10s}
$short && duration=${LOAD_DURATION:-5s}
warmup=${LOAD_WARMUP:-2s}
$short && warmup=${LOAD_WARMUP:-1s}
activities=${LOAD_ACTIVITIES:-100000}
nice_cmd=()
[ -n "${LOAD_NICE:-}" ] && nice_cmd=(nice -n "$LOAD_NICE")

work=$(mktemp -d "${TMPDIR:-/tmp}/load.XXXXXX")
out=${LOAD_OUT:-$work/results}
mkdir -p "$out"
server_pid=""

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do # 5 s for a graceful shutdown
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$work/bin"
  # The smoke test keeps nothing; the matrix keeps its reports and log.
  if $short && [ -z "${LOAD_OUT:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> building server and loadgen"
mkdir -p "$work/bin"
go build -o "$work/bin/server" .
go build -o "$work/bin/loadgen" ./cmd/loadgen
server=$work/bin/server
loadgen=$work/bin/loadgen

# Server mode as deployed: clients present a bearer token.
cache_env=(CACHE_TTL=0 RESPONSE_CACHE_TTL=0)
token_env=(GRAPHQL_TOKENS=load-token)
token_args=(-token load-token)

fake_port=$("$loadgen" -pick-port)
fake_url=http://127.0.0.1:$fake_port/api

# start_server ENV=VALUE...: starts the server in server mode on the fake.
start_server() {
  stop_server
  server_port=$("$loadgen" -pick-port)
  env LEMLIST_API_KEY=test-key LEMLIST_BASE_URL="$fake_url" HOST=127.0.0.1 PORT="$server_port" \
    ${token_env[@]+"${token_env[@]}"} "$@" ${nice_cmd[@]+"${nice_cmd[@]}"} "$server" >>"$work/server.log" 2>&1 &
  server_pid=$!
}

# load NAME LOADGEN-FLAGS...: one load run against the running server.
load() {
  local name=$1
  shift
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "server exited; its log:" >&2
    tail -20 "$work/server.log" >&2
    return 1
  fi
  echo
  ${nice_cmd[@]+"${nice_cmd[@]}"} "$loadgen" -fake-listen "127.0.0.1:$fake_port" -fake-activities "$activities" \
    -url "http://127.0.0.1:$server_port/graphql" -pid "$server_pid" -wait-ready 20s \
    -duration "$duration" -warmup "$warmup" -label "$name" -out "$out/$name.json" \
    ${token_args[@]+"${token_args[@]}"} "$@"
}

if $short; then
  start_server LEMLIST_RATE_LIMIT=0 ${cache_env[@]+"${cache_env[@]}"}
  load short-dashboard -mix dashboard -clients 8
  # lemlist's own budget on both sides: the fake refuses the 21st call in
  # 2 s with a 429, which the run would count as an error.
  start_server LEMLIST_RATE_LIMIT=20 CACHE_TTL=30s
  load short-cached-page20 -mix page20 -clients 8 -fake-rate-limit 20
  echo
  "$loadgen" -table "$out"/*.json
  echo "load: OK"
  exit 0
fi

# The matrix. CPU runs: no upstream rate limit, no cache.
runs=()
for mix in page20 page100; do
  for clients in 1 32; do
    start_server LEMLIST_RATE_LIMIT=0 ${cache_env[@]+"${cache_env[@]}"}
    load "cpu-$mix-c$clients" -mix "$mix" -clients "$clients" -max-errors 1000000 || true
    runs+=("$out/cpu-$mix-c$clients.json")
  done
done

# Gateway overhead at 1 client: the same 100-row page directly from the
# fake, and through the server in one upstream call.
start_server LEMLIST_RATE_LIMIT=0 ${cache_env[@]+"${cache_env[@]}"}
load direct100-c1 -mix direct100 -clients 1 || true
load lean100-c1 -mix lean100 -clients 1 -max-errors 1000000 || true
runs+=("$out/direct100-c1.json" "$out/lean100-c1.json")

# The dashboard mix, for the record.
start_server LEMLIST_RATE_LIMIT=0 ${cache_env[@]+"${cache_env[@]}"}
load dashboard-c8 -mix dashboard -clients 8 -max-errors 1000000 || true
runs+=("$out/dashboard-c8.json")

# Cached: lemlist's budget (20 per 2 s) on the server, and on the fake so
# that a call over it shows as a 429; cache on.
cached_env=(LEMLIST_RATE_LIMIT=20 CACHE_TTL=${LOAD_CACHE_TTL:-30s})
start_server "${cached_env[@]}"
load cached-page20-c32 -mix page20 -clients 32 -fake-rate-limit 20 -max-errors 1000000 || true
runs+=("$out/cached-page20-c32.json")
stop_server

echo
echo "==> results ($out; server log $work/server.log)"
"$loadgen" -table "${runs[@]}"
