#!/usr/bin/env bash
# P3, P5 and P6: the ingest handler in process against plain decoding; end
# to end on the local stack against RudderStack's 1.7 K events/s; dollars
# per million events ingested and aggregated. Writes bench/results/P3.json,
# P5.json and P6.json, and the CPU profiles under bench/results/pprof/.
#
#   P356_EVENTS      events sent end to end (default 200000)
#   P356_CLIENTS     concurrent HTTP clients (default 8)
#   P356_AGG_EVENTS  size of BenchmarkNightlyDay's day, for the nightly
#                    run's events/s (default 200000; 1000000 is the
#                    benchmark's own default, and takes minutes more)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=bench/results
mkdir -p "$out/pprof"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "P3: BenchmarkIngest (shared/ingest)" >&2
$GO test -run '^$' -bench 'BenchmarkIngest' -benchtime 3s \
	-cpuprofile "$out/pprof/p3-cpu.pprof" -memprofile "$out/pprof/p3-mem.pprof" -o "$tmp/ingest.test" \
	./shared/ingest/ | tee "$tmp/p3.txt"

echo "P6: BenchmarkNightlyDay (shared/aggregate), for the nightly run's events/s" >&2
UPTAKE_BENCH_EVENTS=${P356_AGG_EVENTS:-200000} $GO test -run '^$' -bench 'BenchmarkNightlyDay' -benchtime 1x \
	./shared/aggregate/ | tee "$tmp/agg.txt"

echo "P5 and P6: end to end on the local stack" >&2
$GO run ./bench/cmd/ingestbench -p3 "$tmp/p3.txt" -agg "$tmp/agg.txt" \
	-events "${P356_EVENTS:-200000}" -clients "${P356_CLIENTS:-8}" -cpuprofile "$out/pprof/p5-cpu.pprof"
