#!/usr/bin/env bash
# End-to-end checks with real clients (issues 5 and 15), called by
# scripts/test.sh:
#
#   1. audit.mjs       graphql-http's GraphQL-over-HTTP audit (fails on MUST or SHOULD)
#   2. paging.mjs      graphql-request pages connections to the end; the result
#                      must equal the lemlist fake's own list, read from its REST API
#   3. schema.mjs      GET /graphql/schema.graphql (auth, equal to introspection;
#                      on the production-like server: SDL and _service answer,
#                      __schema does not); writes out/schema.graphql
#   4. relay.mjs       relay-compiler 21 compiles relay/ against that SDL
#                      (@refetchable, @connection) and persists its queries;
#                      Relay's generated queries then page through node(id:)
#   5. apollo.mjs      Apollo Client 4, relayStylePagination(["filter"]), fetchMore to the end
#   6. urql.mjs        urql with Graphcache's relayPagination, to the end
#   7. federation.mjs  Apollo Gateway composes the server (introspection off)
#                      with a second subgraph extending Lead; one operation
#                      reads fields of both
#   8. graphiql.mjs    GraphiQL in headless Chromium (playwright-core): run a
#                      query, check the result pane, save out/graphiql.png
#
# It installs what is missing (Debian's chromium, the npm packages from
# package-lock.json), builds the server and test/e2e/fakeserver, starts the
# fake and two servers on free ports of 127.0.0.1 (one with introspection
# on, which the audit needs, and one as deployed, with it off), runs the
# scripts (all of them, even after a failure), stops every process on any
# exit, and exits non-zero if anything failed. Every wait is bounded.
# Reports and logs go to test/e2e/out/ (git-ignored).
#
# Environment: E2E_SEED (1) and E2E_ACTIVITIES (5000) shape the fake's
# dataset; CHROMIUM (/usr/bin/chromium) is the browser; E2E_SERVER, if set,
# is a server binary to test instead of building one.
set -euo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$e2e/../.." && pwd)
out="$e2e/out"
mkdir -p "$out"
rm -f "$out/schema.graphql" "$out/relay-persisted.json" "$out/supergraph.graphql"
cd "$root"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
seed=${E2E_SEED:-1}
activities=${E2E_ACTIVITIES:-5000}
t_start=$SECONDS
step() { printf '\n==> e2e: %s (%ss)\n' "$*" "$((SECONDS - t_start))"; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "e2e: timed out after ${limit}s waiting for $what" >&2
      return 1
    fi
    sleep 0.1
  done
}

step "tools"
if [ ! -x "$CHROMIUM" ]; then
  echo "installing Debian's chromium"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  timeout 120 $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
"$CHROMIUM" --version
node --version
(cd "$e2e" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

step "build"
server_bin=${E2E_SERVER:-$tmp/server}
[ -n "${E2E_SERVER:-}" ] || go build -o "$server_bin" .
go build -o "$tmp/fakeserver" ./test/e2e/fakeserver

step "start the lemlist fake (seed $seed, $activities activities)"
"$tmp/fakeserver" --seed "$seed" --activities "$activities" >"$tmp/fake.out" 2>"$out/fake.log" &
pids+=($!)
wait_for 30 "the fake's address" grep -q '"url"' "$tmp/fake.out"
fake_url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$tmp/fake.out")
fake_key=$(sed -n 's/.*"apiKey":"\([^"]*\)".*/\1/p' "$tmp/fake.out")
echo "fake: $fake_url"

# start_server LOG VAR ENV...: starts the server with ENV, logging to LOG,
# waits until it answers /healthz, and sets VAR to its base URL.
start_server() {
  local log=$1 var=$2
  shift 2
  env "$@" "$server_bin" >"$log" 2>&1 &
  pids+=($!)
  wait_for 30 "the server's listening line in $log" grep -q '"msg":"listening"' "$log"
  local addr
  addr=$(sed -n 's/.*"msg":"listening".*"addr":"\([^"]*\)".*/\1/p' "$log" | head -1)
  wait_for 30 "http://$addr/healthz" curl -fsS --max-time 2 "http://$addr/healthz"
  printf -v "$var" 'http://%s' "$addr"
  echo "server: http://$addr (mode: $(sed -n 's/.*"mode":"\([^"]*\)".*/\1/p' "$log" | head -1))"
}

step "start the GraphQL server"
# Server mode with a bearer token, as deployed; introspection on, since the
# audit's MUST checks query __type (it is off by default outside the demo).
export E2E_TOKEN=e2e-token
server_env=(HOST=127.0.0.1 PORT=0 LOG_LEVEL=info
  GRAPHQL_TOKENS="$E2E_TOKEN"
  LEMLIST_API_KEY="$fake_key" LEMLIST_BASE_URL="$fake_url" LEMLIST_RATE_LIMIT=0)
start_server "$out/server.log" base "${server_env[@]}" INTROSPECTION=true

step "start a second GraphQL server as deployed: introspection off"
start_server "$out/server-prod.log" prod_base "${server_env[@]}" INTROSPECTION=false

export GRAPHQL_URL="$base/graphql" PROD_GRAPHQL_URL="$prod_base/graphql" BASE_URL="$base/" FAKE_URL="$fake_url" FAKE_KEY="$fake_key" E2E_OUT="$out" E2E_TMP="$tmp" CHROMIUM

failures=()
run() {
  local name=$1 t0=$SECONDS
  step "$name"
  # In the background, so that a signal to this script runs the cleanup
  # at once instead of after the script ends.
  (cd "$e2e" && exec timeout 180 node "$name") &
  local pid=$!
  pids+=("$pid")
  if wait "$pid"; then
    echo "$name: ok in $((SECONDS - t0))s"
  else
    echo "$name: FAILED in $((SECONDS - t0))s" >&2
    failures+=("$name")
  fi
}
run audit.mjs
run paging.mjs
run schema.mjs
run relay.mjs
run apollo.mjs
run urql.mjs
run federation.mjs
run graphiql.mjs

step "done"
if ((${#failures[@]})); then
  echo "e2e FAILED: ${failures[*]} (logs and reports in $out)" >&2
  exit 1
fi
echo "e2e ok in $((SECONDS - t_start))s (reports in $out)"
