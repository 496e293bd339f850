// Package e2e holds the end-to-end acceptance test of Uptake: it generates
// a tenant's weeks of Segment messages, sends them through the HTTP API of
// a local stack, runs the aggregation, and compares every KPI answer with a
// reference computed independently, by brute force, over the same messages.
//
// The package has only tests; it imports nothing from the service's own
// packages except the test harness that starts the stack.
package e2e
