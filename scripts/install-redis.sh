#!/usr/bin/env bash
# Installs redis-server when it is missing, for the tests of package redisx
# (redisx/redistest starts a real redis-server on a free loopback port; with
# CI=true a missing redis-server fails those tests instead of skipping them).
# Debian/Ubuntu (apt-get) only; elsewhere install Redis >= 5 by hand.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  redis-server --version
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing and apt-get is not available: install Redis >= 5" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server
# The package may start a system redis on 6379; the tests start their own.
redis-server --version
