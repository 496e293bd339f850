// Package backfill imports a tenant's history through Uptake's public HTTP
// API, so that KPIs that need a baseline (30 days of DAU, NPS, ticket
// times) have one on the first day: Segment-format NDJSON exports (plain
// or gzipped) go to POST /v1/batch in batches within the API's limits;
// survey and ticket CSV exports (Typeform, Delighted, Zendesk, Freshdesk
// or the generic webhooks' own columns) become the generic survey and
// ticket webhooks' payloads, sent as the events those webhooks would make
// (or to the webhook routes themselves).
//
// Every request is retried with exponential backoff and jitter on 429,
// 5xx and network errors (Retry-After is respected), never on other 4xx.
// Progress is kept in a checkpoint file, written atomically after each
// acknowledged request, so an interrupted import resumes where it stopped
// and sends nothing twice. At the end it runs the aggregation
// (POST /v1/admin/aggregate) over the days the import touched.
package backfill
