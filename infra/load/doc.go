// Package load drives a running Uptake stack with open-loop mixed traffic
// for a set time, measures each route's throughput and latency, and then
// proves that every message the API acknowledged is counted exactly once.
//
// Traffic, at a fixed rate whatever the answers' latency (open loop: a
// request's latency runs from the time it was scheduled, not sent, so a
// slow stack cannot hide its slowness by slowing the generator down):
//
//   - Segment batches of 1 to 100 messages (track, page, screen, identify,
//     group, alias), a few with a message repeated inside the batch;
//   - single messages on /v1/track, /v1/page, /v1/screen, /v1/identify,
//     /v1/group and /v1/alias;
//   - resends of messages already acknowledged, as a Segment client retries;
//   - signed survey answers and ticket updates on the generic webhooks, and
//     redeliveries of some of them;
//   - KPI queries over ranges of the days under load, every KPI's headline
//     values, and CSV exports.
//
// A 5xx answer or a broken connection is retried with backoff (api.md: a
// 5xx stores nothing); a 4xx is an error. Event times spread over the last
// few days in the tenant's time zone, so that the aggregation has several
// days to fold.
//
// The ledger keeps every message the API acknowledged with a 2xx. After the
// traffic, [Run] aggregates the days under load and compares, day by day,
// the KPIs whose value the ledger determines exactly (dau, sessions, NPS
// and CSAT answer counts, ticket_volume) and the set of messageIds in the
// raw store with what the ledger says. The days are also aggregated and
// read before the traffic, so that a stack that already holds data (a
// running `make dev`) can be checked by difference: every id, user,
// visitor, respondent and ticket of a run carries the run's id. Nothing
// else may send to the tenant during such a run.
//
// Latencies are kept exactly, every one, and sorted for the quantiles (a
// run has at most a few hundred thousand requests).
//
// [StartLocal] starts a stack of its own (DynamoDB Local and the S3 server
// on a temporary folder, the `make dev` router on a loopback port) for
// `make load`.
package load
