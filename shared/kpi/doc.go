// Package kpi is Uptake's calculation engine, in pure Go with no AWS
// imports: it turns one day's events into a mergeable daily Part (counters
// and sets of user ordinals), and evaluates every KPI of kpis.md over the
// parts of a range. A range's value is always computed from its days'
// parts, so a 365-day query costs O(days) and never touches raw events.
package kpi
