#!/usr/bin/env bash
# P2: KPI query latency, 30-day and 365-day ranges. Three measures, same run:
#
#   1. every KPI in process (BenchmarkQuery, shared/query: the day parts of
#      bench/parts and the month parts merged from them, in memory)
#      -> bench/results/P2-inprocess.json;
#   2. a few KPIs through the query handler on DynamoDB Local, p50 and p99
#      (bench/cmd/p2, on the same generated parts; DynamoDB Local takes
#      seconds a 365-day query) -> bench/results/P2.json;
#   3. DuckDB scanning P1's raw files (bench/duckdb/query) against Uptake's
#      query of the parts its nightly run made from the same files, the
#      answers checked equal -> bench/results/P2-duckdb.json.
#
#   P2_KPIS=all bench/p2.sh     every KPI on DynamoDB Local (long: some read
#                               every day part of a year; default: ten KPIs,
#                               bench/cmd/p2's defaultKPIs)
#   P2_ROUNDS, P2_ROUNDS365     timed queries at 30 and 365 days (10, 2)
#   P2_BENCHTIME                BenchmarkQuery's -benchtime (5x)
#   P2_DUCKDB_KPIS              KPIs DuckDB answers at 1 M (dau,sessions,nps,csat;
#                               pages_per_session too if wanted), and at
#   P2_DUCKDB10M_KPIS           10 M events a day (dau,nps: a scan of 30 M
#                               lines takes about half a minute)
#
# About 5 minutes here (2 cores shared with other benchmarks; 13 under
# heavy load): BenchmarkQuery 1, DuckDB at 1 M 0.7 (at 10 M about 1 more),
# seeding DynamoDB Local 0.6, its queries 1.3, the nightly run at 1 M 1.
#
# Data: P1's files at 1 M events a day (bench/data/p1-1000000-<seed>-l2,
# generated here if P1 has not run); DuckDB also scans the 10 M files if
# P1_10M=1 bench/p1.sh made them. Artifacts go to bench/results/p2/.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
. bench/data.sh
ART=bench/results/p2
mkdir -p "$ART" bench/data


echo "P2: BenchmarkQuery, every KPI in process" >&2
$GO test -run '^$' -bench 'BenchmarkQuery' -benchtime "${P2_BENCHTIME:-5x}" ./shared/query/ | tee "$ART/inprocess.txt" | $GO run ./bench/cmd/benchparse >/dev/null

echo "P2: DuckDB scanning the raw files" >&2
bench/duckdb/deps.sh
(cd bench/duckdb && CGO_ENABLED=1 $GO build -o "../../$ART/duckdb-query" ./query)
D1=$(data 1000000)
"$ART/duckdb-query" -data "$D1" -day "$DAY" -kpis "${P2_DUCKDB_KPIS:-dau,sessions,nps,csat}" -o "$ART/duckdb-1m.json"
ARGS=()
if [ -f "bench/data/p1-10000000-$SEED-l2/done" ]; then
  "$ART/duckdb-query" -data "bench/data/p1-10000000-$SEED-l2" -day "$DAY" -kpis "${P2_DUCKDB10M_KPIS:-dau,nps}" -o "$ART/duckdb-10m.json"
  ARGS+=(-duckdb10m "$ART/duckdb-10m.json")
fi

echo "P2: the query handler on DynamoDB Local, and Uptake against DuckDB" >&2
$GO run ./bench/cmd/p2 ${P2_KPIS:+-kpis "$P2_KPIS"} -rounds "${P2_ROUNDS:-10}" -rounds365 "${P2_ROUNDS365:-2}" \
  -inprocess "$ART/inprocess.txt" -data "$D1" -duckdb "$ART/duckdb-1m.json" -day "$DAY" -start "$START" -seed "$SEED" -events 1000000 "${ARGS[@]}"
echo "bench/results/P2.json, P2-inprocess.json and P2-duckdb.json written" >&2
