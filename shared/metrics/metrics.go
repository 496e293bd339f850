// Package metrics writes Uptake's CloudWatch metrics in the embedded
// metric format (EMF): one JSON object per line on the function's
// standard output, which CloudWatch Logs turns into metrics with no API
// call and no extra latency.
//
// A record is a log line whose `_aws` member says which of its members are
// metrics (name and unit) and which are dimensions, under which
// namespace:
//
//	{"_aws":{"Timestamp":1764115200000,"CloudWatchMetrics":[{"Namespace":"Uptake",
//	  "Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Count"},...]}]},
//	 "Stack":"uptake","EventsAccepted":6,"EventsRejected":1,"EventsDuplicated":1,
//	 "requestId":"...","tenant":"demo"}
//
// The other members (request id, tenant, HTTP status) are not dimensions:
// they cost nothing in CloudWatch and make each record searchable with
// Logs Insights. Definitions lists every metric the package writes, with
// its unit and dimension sets, so that the template's alarms and dashboard
// can be checked against it.
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/uptakehq/uptake/shared/tenant"
)

// Unit is a CloudWatch unit.
type Unit string

// The units used.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
)

// Metric names.
const (
	// EventsAccepted counts the messages ingest kept (the Segment routes
	// and the webhooks' normalised messages alike).
	EventsAccepted = "EventsAccepted"
	// EventsRejected counts the messages of a request that failed
	// validation (answered in `rejected`, or a 400 when none was valid).
	EventsRejected = "EventsRejected"
	// EventsDuplicated counts the messages dropped because an earlier
	// message of the same request had the same messageId. Repeats across
	// requests are kept by ingest and dropped by the aggregation, which
	// does not count them.
	EventsDuplicated = "EventsDuplicated"
	// WebhookFailures counts the deliveries of a known provider answered
	// with a 4xx or 5xx status (a bad signature, an unreadable payload,
	// storage down), by provider and in total.
	WebhookFailures = "WebhookFailures"
	// AggregationDuration is how long one tenant's run took.
	AggregationDuration = "AggregationDuration"
	// AggregationLag is, for a nightly run, the time between the end of
	// the newest day it aggregated (midnight in the tenant's zone) and
	// the run's end: about 15 minutes after the 00:15 UTC schedule for a
	// UTC tenant, more for tenants west of UTC. A lag over 36 h, or no
	// value for as long, means the nightly run is not keeping up.
	AggregationLag = "AggregationLag"
)

// Dimension names.
const (
	// Stack is the CloudFormation stack name, so stages share a namespace.
	Stack = "Stack"
	// Provider is a webhook provider of api.md (webhook.Providers).
	Provider = "Provider"
	// Trigger says what started an aggregation: TriggerNightly or
	// TriggerOnDemand.
	Trigger = "Trigger"
)

// Values of the Trigger dimension.
const (
	TriggerNightly  = "nightly"
	TriggerOnDemand = "on-demand"
)

// Members of a record that are neither metrics nor dimensions.
const (
	RequestIDKey = "requestId"
	TenantKey    = "tenant"
	StatusKey    = "status"
)

// Definition is a metric the package writes: its unit and the dimension
// sets it is written with (each set is a metric of its own in CloudWatch).
type Definition struct {
	Name          string
	Unit          Unit
	DimensionSets [][]string
	// Values lists the values a dimension can take, for the dimensions
	// whose values this package fixes (Trigger).
	Values map[string][]string
}

// Definitions returns every metric the package writes.
func Definitions() []Definition {
	stack := [][]string{{Stack}}
	return []Definition{
		{Name: EventsAccepted, Unit: Count, DimensionSets: stack},
		{Name: EventsRejected, Unit: Count, DimensionSets: stack},
		{Name: EventsDuplicated, Unit: Count, DimensionSets: stack},
		{Name: WebhookFailures, Unit: Count, DimensionSets: [][]string{{Stack}, {Stack, Provider}}},
		{Name: AggregationDuration, Unit: Milliseconds, DimensionSets: [][]string{{Stack, Trigger}},
			Values: map[string][]string{Trigger: {TriggerNightly, TriggerOnDemand}}},
		{Name: AggregationLag, Unit: Seconds, DimensionSets: [][]string{{Stack, Trigger}},
			Values: map[string][]string{Trigger: {TriggerNightly}}},
	}
}

// Emitter writes EMF records. A nil *Emitter writes nothing.
type Emitter struct {
	w         io.Writer
	namespace string
	stack     string
	now       func() time.Time
	mu        sync.Mutex // one record, one Write
}

// New returns an Emitter writing to w (the function's standard output)
// under namespace, with the Stack dimension set to stack.
func New(w io.Writer, namespace, stack string, now func() time.Time) *Emitter {
	return &Emitter{w: w, namespace: namespace, stack: stack, now: now}
}

// EventsIngested records the outcome of one ingest request.
func (e *Emitter) EventsIngested(ctx context.Context, accepted, rejected, duplicated int) {
	e.write(ctx, [][]string{{Stack}}, nil,
		[]value{{EventsAccepted, Count, float64(accepted)}, {EventsRejected, Count, float64(rejected)}, {EventsDuplicated, Count, float64(duplicated)}},
		nil)
}

// WebhookFailed records a delivery of provider answered with status.
func (e *Emitter) WebhookFailed(ctx context.Context, provider string, status int) {
	e.write(ctx, [][]string{{Stack}, {Stack, Provider}}, map[string]string{Provider: provider},
		[]value{{WebhookFailures, Count, 1}}, map[string]any{StatusKey: status})
}

// Aggregated records one tenant's aggregation run: how long it took and,
// for the nightly run, its lag (AggregationLag).
func (e *Emitter) Aggregated(ctx context.Context, nightly bool, took, lag time.Duration) {
	trigger := TriggerOnDemand
	vals := []value{{AggregationDuration, Milliseconds, float64(took.Milliseconds())}}
	if nightly {
		trigger = TriggerNightly
		vals = append(vals, value{AggregationLag, Seconds, lag.Seconds()})
	}
	e.write(ctx, [][]string{{Stack, Trigger}}, map[string]string{Trigger: trigger}, vals, nil)
}

type value struct {
	name  string
	unit  Unit
	value float64
}

type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []metricInfo `json:"Metrics"`
}

type metricInfo struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

func (e *Emitter) write(ctx context.Context, dimSets [][]string, dims map[string]string, vals []value, props map[string]any) {
	if e == nil {
		return
	}
	rec := make(map[string]any, 4+len(dims)+len(vals)+len(props))
	for k, v := range props {
		rec[k] = v
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		rec[RequestIDKey] = lc.AwsRequestID
	}
	if id, ok := tenant.FromContext(ctx); ok {
		rec[TenantKey] = id
	}
	rec[Stack] = e.stack
	for k, v := range dims {
		rec[k] = v
	}
	d := directive{Namespace: e.namespace, Dimensions: dimSets}
	for _, v := range vals {
		rec[v.name] = v.value
		d.Metrics = append(d.Metrics, metricInfo{Name: v.name, Unit: v.unit})
	}
	rec["_aws"] = metadata{Timestamp: e.now().UnixMilli(), CloudWatchMetrics: []directive{d}}
	b, err := json.Marshal(rec)
	if err != nil {
		return // only strings and numbers: cannot happen
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	e.w.Write(b) // stdout: nothing to do if it fails
}
