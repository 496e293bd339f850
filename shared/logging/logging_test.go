package logging_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/logging"
	"github.com/uptakehq/uptake/shared/logging/logtest"
	"github.com/uptakehq/uptake/shared/tenant"
)

// lines decodes the JSON lines of out, dropping the timestamp.
func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	recs := logtest.Lines(t, out)
	for _, m := range recs {
		if _, ok := m["timestamp"].(string); !ok {
			t.Errorf("no timestamp in %v", m)
		}
		delete(m, "timestamp")
	}
	return recs
}

func TestRecordsCarryRequestIDAndTenant(t *testing.T) {
	invocation := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"})
	for _, tc := range []struct {
		name string
		log  func(log *slog.Logger)
		want []map[string]any
	}{
		{
			name: "no invocation",
			log:  func(log *slog.Logger) { log.InfoContext(context.Background(), "started") },
			want: []map[string]any{{"level": "INFO", "message": "started"}},
		},
		{
			name: "invocation, tenant not known yet",
			log: func(log *slog.Logger) {
				log.WarnContext(tenant.NewContext(invocation), "unknown API key")
			},
			want: []map[string]any{{"level": "WARN", "message": "unknown API key", "requestId": "8476a536-e9f4-11e8-9739-2dfe598c3fcd"}},
		},
		{
			name: "tenant known after the context was made",
			log: func(log *slog.Logger) {
				ctx := tenant.NewContext(invocation)
				log.InfoContext(ctx, "before")
				tenant.Known(ctx, "acme")
				log.ErrorContext(ctx, "request failed", "err", "boom")
			},
			want: []map[string]any{
				{"level": "INFO", "message": "before", "requestId": "8476a536-e9f4-11e8-9739-2dfe598c3fcd"},
				{"level": "ERROR", "message": "request failed", "err": "boom", "requestId": "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "tenant": "acme"},
			},
		},
		{
			name: "a record naming its tenant keeps it, once",
			log: func(log *slog.Logger) {
				log.InfoContext(tenant.WithID(invocation, "acme"), "nightly run", "tenant", "other")
				log.With("tenant", "third").InfoContext(tenant.WithID(invocation, "acme"), "with")
			},
			want: []map[string]any{
				{"level": "INFO", "message": "nightly run", "requestId": "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "tenant": "other"},
				{"level": "INFO", "message": "with", "requestId": "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "tenant": "third"},
			},
		},
		{
			name: "below the level",
			log: func(log *slog.Logger) {
				log.DebugContext(invocation, "noise")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(logging.New(&buf, logging.JSON, slog.LevelInfo))
			if diff := cmp.Diff(lines(t, buf.String()), tc.want); diff != "" {
				t.Errorf("records (-got +want):\n%s", diff)
			}
		})
	}
}

func TestTextHasTheSameFields(t *testing.T) {
	var buf bytes.Buffer
	ctx := tenant.WithID(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "r-1"}), "acme")
	logging.New(&buf, logging.Text, slog.LevelDebug).DebugContext(ctx, "day aggregated", "day", "2026-10-01")
	got := buf.String()
	for _, want := range []string{"level=DEBUG", `message="day aggregated"`, "day=2026-10-01", "requestId=r-1", "tenant=acme"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "DEBUG": slog.LevelDebug, "info": slog.LevelInfo, "WARN": slog.LevelWarn, "ERROR": slog.LevelError} {
		got, err := logging.ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := logging.ParseLevel("LOUD"); err == nil {
		t.Error("ParseLevel(LOUD): no error")
	}
}
