package metrics_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/metrics"
	"github.com/uptakehq/uptake/shared/metrics/metricstest"
	"github.com/uptakehq/uptake/shared/tenant"
)

var at = time.Date(2026, 10, 2, 0, 15, 0, 0, time.UTC)

func TestRecords(t *testing.T) {
	ctx := tenant.WithID(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "r-1"}), "acme")
	type rec struct {
		Namespace  string
		Dimensions [][]string
		Values     map[string]float64
		Members    map[string]any
	}
	for _, tc := range []struct {
		name string
		emit func(e *metrics.Emitter)
		want rec
	}{
		{
			name: "ingest",
			emit: func(e *metrics.Emitter) { e.EventsIngested(ctx, 6, 2, 1) },
			want: rec{Namespace: "Uptake", Dimensions: [][]string{{"Stack"}},
				Values:  map[string]float64{"EventsAccepted": 6, "EventsRejected": 2, "EventsDuplicated": 1},
				Members: map[string]any{"Stack": "prod", "requestId": "r-1", "tenant": "acme"}},
		},
		{
			name: "webhook failure",
			emit: func(e *metrics.Emitter) { e.WebhookFailed(ctx, "typeform", 401) },
			want: rec{Namespace: "Uptake", Dimensions: [][]string{{"Stack"}, {"Stack", "Provider"}},
				Values:  map[string]float64{"WebhookFailures": 1},
				Members: map[string]any{"Stack": "prod", "Provider": "typeform", "status": "401", "requestId": "r-1", "tenant": "acme"}},
		},
		{
			name: "nightly run",
			emit: func(e *metrics.Emitter) { e.Aggregated(ctx, true, 1500*time.Millisecond, 15*time.Minute) },
			want: rec{Namespace: "Uptake", Dimensions: [][]string{{"Stack", "Trigger"}},
				Values:  map[string]float64{"AggregationDuration": 1500, "AggregationLag": 900},
				Members: map[string]any{"Stack": "prod", "Trigger": "nightly", "requestId": "r-1", "tenant": "acme"}},
		},
		{
			name: "on-demand run has no lag",
			emit: func(e *metrics.Emitter) { e.Aggregated(ctx, false, 20*time.Millisecond, time.Hour) },
			want: rec{Namespace: "Uptake", Dimensions: [][]string{{"Stack", "Trigger"}},
				Values:  map[string]float64{"AggregationDuration": 20},
				Members: map[string]any{"Stack": "prod", "Trigger": "on-demand", "requestId": "r-1", "tenant": "acme"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.emit(metrics.New(&buf, "Uptake", "prod", func() time.Time { return at }))
			recs := metricstest.Records(t, buf.Bytes())
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1:\n%s", len(recs), buf.String())
			}
			r := recs[0]
			if r.Timestamp != at.UnixMilli() {
				t.Errorf("Timestamp %d, want %d", r.Timestamp, at.UnixMilli())
			}
			members := map[string]any{}
			for k, v := range r.Members {
				if _, isMetric := r.Values[k]; k == "_aws" || isMetric {
					continue
				}
				if n, ok := v.(interface{ String() string }); ok {
					v = n.String() // json.Number
				}
				members[k] = v
			}
			got := rec{Namespace: r.Namespace, Dimensions: r.Dimensions, Values: r.Values, Members: members}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("record (-got +want):\n%s\n%s", diff, buf.String())
			}
		})
	}
}

func TestNilEmitterWritesNothing(t *testing.T) {
	var e *metrics.Emitter
	e.EventsIngested(context.Background(), 1, 0, 0) // no panic
	e.WebhookFailed(context.Background(), "survey", 401)
	e.Aggregated(context.Background(), true, time.Second, time.Hour)
}

// TestCheckRejects shows that the checker refuses what CloudWatch would
// not turn into the metrics the template expects.
func TestCheckRejects(t *testing.T) {
	for name, line := range map[string]string{
		"no timestamp":         `{"_aws":{"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Count"}]}]},"Stack":"s","EventsAccepted":1}`,
		"dimension missing":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Count"}]}]},"EventsAccepted":1}`,
		"value missing":        `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Count"}]}]},"Stack":"s"}`,
		"value not a number":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Count"}]}]},"Stack":"s","EventsAccepted":"1"}`,
		"unknown metric":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack"]],"Metrics":[{"Name":"Other","Unit":"Count"}]}]},"Stack":"s","Other":1}`,
		"wrong unit":           `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Seconds"}]}]},"Stack":"s","EventsAccepted":1}`,
		"undeclared set":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Provider"]],"Metrics":[{"Name":"WebhookFailures","Unit":"Count"}]}]},"Provider":"s","WebhookFailures":1}`,
		"unknown trigger":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack","Trigger"]],"Metrics":[{"Name":"AggregationLag","Unit":"Seconds"}]}]},"Stack":"s","Trigger":"on-demand","AggregationLag":1}`,
		"extra member in _aws": `{"_aws":{"Timestamp":1,"Extra":1,"CloudWatchMetrics":[{"Namespace":"U","Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Count"}]}]},"Stack":"s","EventsAccepted":1}`,
	} {
		if _, err := metricstest.Check([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
}
