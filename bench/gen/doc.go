// Package gen generates a SaaS tenant's Segment events, deterministically
// from a seed: users of the product on the web and in the apps, anonymous
// visitors of the marketing site and bots; sessions of pages, screens and
// track events, busier in the afternoon; signups that go through onboarding
// steps and start trials; NPS and CSAT answers; support tickets opened and
// solved; subscriptions started, renewed and cancelled. Files come out as
// the ingest function stores them (event.Parse's lines, one file per
// request and UTC day), for the benchmarks and bench/cmd/gendata.
package gen
