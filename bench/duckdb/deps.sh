#!/usr/bin/env bash
# What bench/duckdb needs besides Go: a C compiler for cgo (DuckDB's Go
# bindings link its static library). Installs gcc with apt-get when missing.
set -euo pipefail
if command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/duckdb needs a C compiler (gcc) for cgo; install one" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update
$SUDO apt-get install -y gcc
