#!/usr/bin/env bash
# Installs PostgreSQL's server binaries (initdb, postgres) when they are
# missing, for the tests that use a real PostgreSQL (internal/pgtest starts
# one as an unprivileged user on a free loopback port; with CI=true a
# missing PostgreSQL fails those tests instead of skipping them).
# Debian/Ubuntu (apt-get) only; elsewhere install PostgreSQL >= 15 by hand.
set -euo pipefail

have() {
  command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if have; then
  postgres --version 2>/dev/null || ls -d /usr/lib/postgresql/*/bin
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL is missing and apt-get is not available: install PostgreSQL >= 15" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update -qq
# The package may start a system cluster on 5432; the tests start their own.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql
ls -d /usr/lib/postgresql/*/bin
