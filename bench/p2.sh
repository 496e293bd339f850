#!/usr/bin/env bash
# P2: every KPI's 365-day query against its 30-day query, same run.
# The benchmark's store holds day parts and the month parts the nightly run
# merges from them (kpi.BuildMonth): a range reads the month parts of its
# whole months and day parts for its edges; KPIs whose values are daily
# (rolling windows, per-day cohorts, renewals due day by day) read days.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
mkdir -p bench/results
$GO test -run '^$' -bench 'BenchmarkQuery' -benchtime "${P2_BENCHTIME:-5x}" ./shared/query/ | $GO run ./bench/cmd/benchparse
