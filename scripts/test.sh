#!/usr/bin/env bash
# The project's one test command (README, .ci/run). It works on a fresh
# machine: it installs what it needs (Go modules; later stages add npm,
# Chromium and redis-server), checks that the generated code (gqlgen, rowsgen) is up to
# date, then runs vet and the race-enabled test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "go modules"
go mod download

step "generated code (gqlgen, then graph/fastrows/internal/rowsgen) is up to date"
go generate ./...
if ! git diff --exit-code --stat -- graph/ gqlgen.yml schema.graphqls; then
  echo "generated code differs from what is committed: run 'go generate ./...' and commit" >&2
  exit 1
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...

step "redis-server (the Redis tests use a real one)"
bash scripts/install-redis.sh

step "PostgreSQL (the mirror's PostgreSQL tests use a real one)"
bash scripts/install-postgres.sh

step "go test -race"
go test -race -count=1 ./...

step "end-to-end: graphql-http audit, paging with graphql-request, the schema route, relay-compiler, Apollo Client, urql, Apollo Gateway, GraphiQL in Chromium"
bash test/e2e/run.sh

step "load: dashboard mix against the server binary, zero errors and no 5xx"
bash scripts/load.sh --short
