package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/uptakehq/uptake/bench/result"
)

// AWS list prices, us-east-1, as of 2026-11 (aws.amazon.com/api-gateway,
// /lambda, /dynamodb and /s3 pricing pages; the Lambda arm64 rate is the
// one artillery's prices.js derives from the Lambda page, the DynamoDB
// on-demand rates those after AWS's November 2024 halving).
const (
	pricesAsOf          = "2026-11, us-east-1 list prices"
	httpAPIPerMillion   = 1.00         // HTTP API requests, first 300 M a month
	lambdaPerMillionReq = 0.20         // Lambda requests
	lambdaArmPerGBs     = 0.0000133334 // Lambda arm64 duration, first 7.5 G GB-s a month
	wruPerMillion       = 0.625        // DynamoDB on-demand write request units
	rruPerMillion       = 0.125        // DynamoDB on-demand read request units
	s3PutPerThousand    = 0.005        // S3 Standard PUT, COPY, POST, LIST
	s3GetPerThousand    = 0.0004       // S3 Standard GET and others
	s3GBMonth           = 0.023        // S3 Standard storage, first 50 TB
	posthogLowTier      = 9.0          // PostHog Cloud product analytics, $ per million events at its cheapest tier ($50 at the first paid one)
	goalPerMillion      = 0.25
)

// Function sizes of template.yaml, and the CPU Lambda gives them: a whole
// vCPU at 1,769 MB, in proportion below (AWS Lambda documentation).
const (
	ingestMB    = 256
	aggregateMB = 3008
	fullCPUMB   = 1769
)

// latency is the assumed in-region time of one AWS call, which a Lambda
// is billed for while it waits; the local stack's loopback times are not
// AWS's.
func latency(op string) float64 { // seconds
	switch op {
	case "S3 PutObject":
		return 0.030
	case "S3 GetObject":
		return 0.015
	case "S3 ListObjectsV2":
		return 0.030
	case "DynamoDB BatchWriteItem", "DynamoDB BatchGetItem", "DynamoDB Query":
		return 0.010
	}
	return 0.005
}

func s3Cost(ops map[string]float64) (puts, gets float64) {
	for k, v := range ops {
		switch k {
		case "S3 PutObject", "S3 ListObjectsV2", "S3 ListObjects", "S3 ListObjectVersions", "S3 CopyObject", "S3 DeleteObjects":
			puts += v
		case "S3 GetObject", "S3 HeadObject":
			gets += v
		}
	}
	return puts, gets
}

func writeP6(o options, m measurement, p3, agg map[string]map[string]float64) error {
	n := float64(m.events)
	reqs := float64(m.requests) * 1e6 / n
	ing := perMillion(m.ingestOps, m.events)

	// Ingest Lambda: the handler's CPU time (P3, with gzip) stretched to
	// the 256 MB share of a vCPU, plus the AWS calls it waits for.
	cpu := p3["gzip"]["ns/batch"] / 1e9 * float64(o.batch) / 100 * fullCPUMB / ingestMB
	wait := 0.0
	for op, v := range ing {
		wait += latency(op) * v / reqs
	}
	billed := math.Ceil((cpu+wait)*1000) / 1000
	ingestGBs := reqs * billed * ingestMB / 1024

	// The nightly run: its CPU time at BenchmarkNightlyDay's rate (one
	// thread: the run does not use the 1.7 vCPUs of 3008 MB), plus its
	// sequential AWS calls; each day is read by runsPerDay runs.
	aggRate := agg[""]["events/s"]
	if aggRate == 0 {
		return fmt.Errorf("P6: no events/s in the BenchmarkNightlyDay output")
	}
	scale := o.runsPerDay * 1e6 / float64(m.aggEvents)
	aggCPU := float64(m.aggRead) / aggRate
	aggWait := 0.0
	for op, v := range m.aggOps {
		aggWait += latency(op) * float64(v)
	}
	aggGBs := scale * (aggCPU + aggWait) * aggregateMB / 1024
	aggOps := map[string]float64{}
	for k, v := range m.aggOps {
		aggOps[k] = float64(v) * scale
	}

	ingPuts, ingGets := s3Cost(ing)
	aggPuts, aggGets := s3Cost(aggOps)
	storedGB := float64(m.putBytes) / n * 1e6 / 1e9
	type part struct {
		name string
		usd  float64
		how  string
	}
	parts := []part{
		{"API Gateway HTTP API", reqs * httpAPIPerMillion / 1e6, fmt.Sprintf("%.0f requests (batches of %d) × $%.2f per million", reqs, o.batch, httpAPIPerMillion)},
		{"Lambda requests (ingest)", reqs * lambdaPerMillionReq / 1e6, fmt.Sprintf("%.0f invocations × $%.2f per million", reqs, lambdaPerMillionReq)},
		{"Lambda duration (ingest)", ingestGBs * lambdaArmPerGBs, fmt.Sprintf("%.0f GB-s: %.0f × %.0f ms billed (%.1f ms CPU at %d MB's share of a vCPU + %.1f ms waiting for AWS calls) × %d MB", ingestGBs, reqs, billed*1000, cpu*1000, ingestMB, wait*1000, ingestMB)},
		{"DynamoDB (ingest)", m.ingestWRU/n*1e6*wruPerMillion/1e6 + m.ingRRU/n*1e6*rruPerMillion/1e6, fmt.Sprintf("%.0f WRU + %.0f RRU (key lookup, dirty-day marks)", m.ingestWRU/n*1e6, m.ingRRU/n*1e6)},
		{"S3 requests (ingest)", ingPuts*s3PutPerThousand/1000 + ingGets*s3GetPerThousand/1000, fmt.Sprintf("%.0f PUT", ingPuts)},
		{"S3 storage, one month", storedGB * s3GBMonth, fmt.Sprintf("%.3f GB gzipped NDJSON × $%.3f per GB-month", storedGB, s3GBMonth)},
		{"Lambda duration (nightly)", aggGBs * lambdaArmPerGBs, fmt.Sprintf("%.0f GB-s: %.1f runs-worth × (%.1f s CPU at %.0f events/s + %.1f s waiting for AWS calls) × %d MB", aggGBs, scale, aggCPU, aggRate, aggWait, aggregateMB)},
		{"DynamoDB (nightly)", scale * (m.aggWRU*wruPerMillion + m.aggRRU*rruPerMillion) / 1e6, fmt.Sprintf("%.0f WRU + %.0f RRU", scale*m.aggWRU, scale*m.aggRRU)},
		{"S3 requests (nightly)", aggPuts*s3PutPerThousand/1000 + aggGets*s3GetPerThousand/1000, fmt.Sprintf("%.0f LIST + %.0f GET", aggPuts, aggGets)},
	}
	total := 0.0
	var lines []string
	for _, p := range parts {
		total += p.usd
		lines = append(lines, fmt.Sprintf("%s $%.4f (%s)", p.name, p.usd, p.how))
	}
	fmt.Printf("P6: $%.4f per million events ingested and aggregated (%s)\n  %s\n", total, pricesAsOf, strings.Join(lines, "\n  "))

	r := result.Result{
		ID: "P6", Title: "Cost per million events ingested and aggregated, at AWS list prices",
		Command: "bench/p356.sh (go run ./bench/cmd/ingestbench -p3 … -agg …)",
		Figures: []result.Figure{
			result.Lower("$ per million events ingested and aggregated", total, "$", "the goal's limit", goalPerMillion, "≤ $0.25 per million", 1),
			result.Lower("$ per million events ingested and aggregated", total, "$", "PostHog Cloud at its cheapest tier ($50 → $9 per million by tier)", posthogLowTier, "≤ $0.25 per million", goalPerMillion/posthogLowTier),
		},
		Notes: append([]string{
			"Prices: " + pricesAsOf + ": HTTP API $1.00 per million requests; Lambda arm64 $0.0000133334 per GB-s and $0.20 per million requests; DynamoDB on-demand $0.625 per million WRU and $0.125 per million RRU; S3 Standard $0.005 per 1,000 PUT/LIST, $0.0004 per 1,000 GET, $0.023 per GB-month. Free tiers left out.",
			"Counts are measured (P5's run on the local stack, counted under the SDK clients, scaled to a million events); durations are modelled: the handler's CPU time from P3 (this machine's core taken as one Lambda vCPU), the nightly run's from BenchmarkNightlyDay's events/s, plus assumed in-region latencies for each AWS call the function waits for (S3 PUT 30 ms, GET 15 ms, LIST 30 ms, DynamoDB batch calls 10 ms, others 5 ms).",
			fmt.Sprintf("The nightly run measured here: one day of %d events (%d read with its neighbouring days), in %s on the local stack; its DynamoDB traffic grows with the distinct users and visitors of the day (%d identified users and as many anonymous visitors, about %.0f events each a day), not with the events: fewer events per person cost more per million.", m.aggEvents, m.aggRead, m.aggElapsed.Round(time.Millisecond), o.users, float64(m.aggEvents)/float64(2*o.users)),
			fmt.Sprintf("AWS calls of that run: %s; %.1f s on the local stack, %.2f s of it CPU at the benchmark's rate.", describe(toFloat(m.aggOps)), m.aggElapsed.Seconds(), aggCPU),
			fmt.Sprintf("Each day is read by %.0f nightly runs (-runs-per-day): the night after it, and again the next night, because the day after is dirty and aggregate.nightly runs a dirty day's neighbours; each run reads its day and both neighbouring UTC days whole (aggregate.window). So the raw files are each read about %.0f times.", o.runsPerDay, 3*o.runsPerDay),
			"Storage is one month of the raw files; template.yaml keeps them RawEventsRetentionDays (1,095 by default), so a million events costs that month's storage again every month it is kept: a lifecycle rule to a colder class after the re-run window would cut it.",
			"Fixed costs that do not scale with events are left out: the alerts function every minute (about 43,200 invocations a month), CloudWatch Logs, the DynamoDB storage of the aggregates.",
		}, lines...),
	}
	return result.Write(r, "")
}

func toFloat(ops map[string]int) map[string]float64 {
	out := map[string]float64{}
	for k, v := range ops {
		out[k] = float64(v)
	}
	return out
}
