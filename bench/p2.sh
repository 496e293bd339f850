#!/usr/bin/env bash
# P2: every KPI's 365-day query against its 30-day query, same run.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
mkdir -p bench/results
$GO test -run '^$' -bench 'BenchmarkQuery' -benchtime "${P2_BENCHTIME:-5x}" ./shared/query/ | $GO run ./bench/cmd/benchparse
