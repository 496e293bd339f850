#!/usr/bin/env bash
# P1: the nightly aggregation of one day's raw files, Uptake against DuckDB
# on the same files in the same run, and their figures checked equal.
#
#   bench/p1.sh                 1 M and 10 M events a day (about 20 minutes
#                               on 2 cores, most of it generating 30 M events)
#   P1_10M=0 bench/p1.sh        1 M only
#
# Data: gendata writes the tenant's day 2026-10-02 and a day each side
# (the nightly run reads them) into bench/data/ (kept between runs, same
# seed, same files). Artifacts (CPU and allocation profiles, each side's
# measure) go to bench/results/p1/; the result to bench/results/P1.json.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
. bench/data.sh
ART=bench/results/p1
mkdir -p "$ART" bench/data

bench/duckdb/deps.sh
$GO build -o "$ART/nightly" ./bench/cmd/nightly
(cd bench/duckdb && CGO_ENABLED=1 $GO build -o "../../$ART/duckdb" .)


D1=$(data 1000000)
"$ART/duckdb" -data "$D1" -day "$DAY" -o "$ART/duckdb-1m.json"
"$ART/nightly" -data "$D1" -day "$DAY" -events 1000000 -start "$START" -seed "$SEED" \
  -cpuprofile "$ART/uptake-1m.cpu.pprof" -memprofile "$ART/uptake-1m.allocs.pprof" -o "$ART/uptake-1m.json"

# The profile's top functions (cumulative CPU, then allocated bytes), as notes.
{
  cat bench/p1-notes.txt
  echo "CPU profile of this run, cumulative (go tool pprof -top -cum $ART/uptake-1m.cpu.pprof): $(
    $GO tool pprof -top -cum -nodecount=40 "$ART/nightly" "$ART/uptake-1m.cpu.pprof" 2>/dev/null |
      awk '/^ *[0-9.]+[a-z]* +[0-9.]+%/ && $6 !~ /^runtime\.|^main\.run$|^main\.main$|aggregate\.\(\*Service\)\.Run$|aggregate\.\(\*Service\)\.run$/ {n=$6; gsub("github.com/uptakehq/uptake/", "", n); printf "%s%s %s", sep, n, $5; sep="; "}' | cut -c1-900)"
  echo "Allocation profile of this run, bytes allocated (go tool pprof -sample_index=alloc_space -top $ART/uptake-1m.allocs.pprof): $(
    $GO tool pprof -sample_index=alloc_space -top -nodecount=8 "$ART/nightly" "$ART/uptake-1m.allocs.pprof" 2>/dev/null |
      awk '/^ *[0-9.]+[a-zA-Z]* +[0-9.]+%/ {n=$6; gsub("github.com/uptakehq/uptake/", "", n); printf "%s%s %s (%s)", sep, n, $1, $2; sep="; "}')"
} > "$ART/notes.txt"

ARGS=(-uptake "$ART/uptake-1m.json" -duckdb "$ART/duckdb-1m.json" -notes "$ART/notes.txt")
if [ "${P1_10M:-1}" = 1 ]; then
  D10=$(data 10000000)
  "$ART/nightly" -data "$D10" -day "$DAY" -events 10000000 -start "$START" -seed "$SEED" -o "$ART/uptake-10m.json"
  "$ART/duckdb" -data "$D10" -day "$DAY" -o "$ART/duckdb-10m.json"
  ARGS+=(-uptake10m "$ART/uptake-10m.json" -duckdb10m "$ART/duckdb-10m.json")
fi
$GO run ./bench/cmd/p1 "${ARGS[@]}"
echo "bench/results/P1.json written" >&2
