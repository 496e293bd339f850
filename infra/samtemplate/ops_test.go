package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"

	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/shared/metrics"
	"github.com/uptakehq/uptake/shared/webhook"
)

// metricRef is a metric an alarm or a dashboard widget reads.
type metricRef struct {
	where           string
	namespace, name string
	dims            map[string]string
}

// lambdaMetrics are the AWS/Lambda metrics the alarms and dashboard may read.
var lambdaMetrics = []string{"Errors", "Throttles", "Duration", "Invocations", "ConcurrentExecutions"}

// opsTarget is what a metric reference must match: the namespace and Stack
// dimension the functions' environment gives package metrics, and the
// template's functions.
type opsTarget struct {
	namespace, stack string
	functions        []string
	defs             map[string]metrics.Definition
}

func newOpsTarget(tpl *samtemplate.Template) (opsTarget, []string) {
	o := opsTarget{defs: map[string]metrics.Definition{}}
	for _, d := range metrics.Definitions() {
		o.defs[d.Name] = d
	}
	var problems []string
	for _, f := range tpl.Functions() {
		o.functions = append(o.functions, f.LogicalID)
		ns, stack := f.Env["METRICS_NAMESPACE"], f.Env["STACK_NAME"]
		if ns == "" || stack == "" {
			problems = append(problems, fmt.Sprintf("%s: METRICS_NAMESPACE or STACK_NAME not set: its metrics would not be those the alarms read", f.LogicalID))
			continue
		}
		if o.namespace == "" {
			o.namespace, o.stack = ns, stack
		}
		if ns != o.namespace || stack != o.stack {
			problems = append(problems, fmt.Sprintf("%s: metrics namespace %q, stack %q; other functions: %q, %q", f.LogicalID, ns, stack, o.namespace, o.stack))
		}
	}
	return o, problems
}

// check returns the problems of a reference: a metric of package metrics
// with one of its exact dimension sets and values the code writes, or a
// Lambda or SQS metric of this template's resources.
func (o opsTarget) check(r metricRef) []string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.dims {
			if !yield(k) {
				return
			}
		}
	})
	bad := func(format string, args ...any) []string {
		return []string{fmt.Sprintf("%s: %s %s %v: ", r.where, r.namespace, r.name, r.dims) + fmt.Sprintf(format, args...)}
	}
	switch r.namespace {
	case o.namespace:
		def, ok := o.defs[r.name]
		if !ok {
			return bad("package metrics writes no such metric")
		}
		if !slices.ContainsFunc(def.DimensionSets, func(set []string) bool { return slices.Equal(slices.Sorted(slices.Values(set)), keys) }) {
			return bad("dimensions %v are none of the sets the code writes, %v", keys, def.DimensionSets)
		}
		var problems []string
		for k, v := range r.dims {
			switch {
			case k == metrics.Stack && v != o.stack:
				problems = append(problems, bad("Stack %q, the functions write %q", v, o.stack)...)
			case k == metrics.Provider && !slices.Contains(webhook.Providers, v):
				problems = append(problems, bad("provider %q is not one of %v", v, webhook.Providers)...)
			case def.Values[k] != nil && !slices.Contains(def.Values[k], v):
				problems = append(problems, bad("%s %q is not one of %v", k, v, def.Values[k])...)
			}
		}
		return problems
	case "AWS/Lambda":
		if !slices.Contains(lambdaMetrics, r.name) || !slices.Equal(keys, []string{"FunctionName"}) || !slices.Contains(o.functions, r.dims["FunctionName"]) {
			return bad("want one of %v by FunctionName of a function of the template %v", lambdaMetrics, o.functions)
		}
	case "AWS/SQS":
		if r.dims["QueueName"] != "${AggregateFailureQueue.QueueName}" || len(keys) != 1 {
			return bad("want the failure queue's QueueName")
		}
	default:
		return bad("unexpected namespace (the functions write %q)", o.namespace)
	}
	return nil
}

func alarmDims(ds []cloudwatch.Alarm_Dimension) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[d.Name] = d.Value
	}
	return m
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

var (
	expressionID = regexp.MustCompile(`\b[a-z][A-Za-z0-9_]*\b`)
	subVariable  = regexp.MustCompile(`\$\{[^}]*\}`)
	alarmARN     = regexp.MustCompile(`^\$\{[A-Za-z0-9]+\.Arn\}$`)
)

// alarmRefs returns the metrics of each alarm, and the problems of its shape.
func alarmRefs(tpl *samtemplate.Template) (map[string][]metricRef, []string) {
	refs := map[string][]metricRef{}
	var problems []string
	for id, a := range tpl.CloudFormation().GetAllCloudWatchAlarmResources() {
		if a.ComparisonOperator == "" || a.Threshold == nil || a.EvaluationPeriods < 1 || a.TreatMissingData == nil {
			problems = append(problems, id+": ComparisonOperator, Threshold, EvaluationPeriods and TreatMissingData must be set")
		}
		if a.MetricName != nil {
			refs[id] = append(refs[id], metricRef{where: "alarm " + id, namespace: deref(a.Namespace), name: *a.MetricName, dims: alarmDims(a.Dimensions)})
			continue
		}
		ids, returned := map[string]bool{}, 0
		for _, q := range a.Metrics {
			ids[q.Id] = true
			if deref(q.ReturnData) {
				returned++
			}
		}
		if len(a.Metrics) == 0 || returned != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d metric queries, %d returned: want a MetricName or queries returning exactly one series", id, len(a.Metrics), returned))
		}
		for _, q := range a.Metrics {
			switch {
			case q.MetricStat != nil && q.MetricStat.Metric != nil:
				m := q.MetricStat.Metric
				refs[id] = append(refs[id], metricRef{where: "alarm " + id + " query " + q.Id, namespace: deref(m.Namespace), name: deref(m.MetricName), dims: alarmDims(m.Dimensions)})
			case q.Expression != nil:
				for _, name := range expressionID.FindAllString(*q.Expression, -1) {
					if !ids[name] {
						problems = append(problems, fmt.Sprintf("%s: expression %q reads %q, which no query defines", id, *q.Expression, name))
					}
				}
			default:
				problems = append(problems, fmt.Sprintf("%s: query %s has neither a metric nor an expression", id, q.Id))
			}
		}
	}
	return refs, problems
}

// checkOpsLogging: every function logs JSON lines with a level and names
// its metrics, and has a tracing mode.
func checkOpsLogging(tpl *samtemplate.Template) (problems []string) {
	for _, f := range tpl.Functions() {
		if lc := f.LoggingConfig; lc == nil || deref(lc.LogFormat) != "JSON" {
			problems = append(problems, f.LogicalID+": LoggingConfig.LogFormat is not JSON")
		} else if l := deref(lc.ApplicationLogLevel); l != "" && l != "DEBUG" && l != "TRACE" {
			problems = append(problems, fmt.Sprintf("%s: ApplicationLogLevel %s drops the EMF records, which Lambda reads as INFO", f.LogicalID, l))
		}
		if f.Env["LOG_LEVEL"] == "" {
			problems = append(problems, f.LogicalID+": LOG_LEVEL not set")
		}
		if f.Tracing != "Active" && f.Tracing != "PassThrough" {
			problems = append(problems, fmt.Sprintf("%s: Tracing %q, want the TracingMode parameter", f.LogicalID, f.Tracing))
		}
	}
	return problems
}

// checkOpsAlarms: every alarm reads metrics the code writes (or Lambda's
// and SQS's for this template's resources), and the metrics that matter
// are alarmed.
func checkOpsAlarms(tpl *samtemplate.Template) (problems []string) {
	target, problems := newOpsTarget(tpl)
	refs, shape := alarmRefs(tpl)
	problems = append(problems, shape...)
	alarmed := map[string]bool{}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range refs {
			if !yield(id) {
				return
			}
		}
	}) {
		for _, r := range refs[id] {
			problems = append(problems, target.check(r)...)
			if r.namespace == target.namespace {
				alarmed[r.name] = true
			}
		}
	}
	for _, name := range []string{metrics.EventsRejected, metrics.WebhookFailures, metrics.AggregationLag, metrics.AggregationDuration} {
		if !alarmed[name] {
			problems = append(problems, "no alarm on "+name)
		}
	}
	lambdaErrors := map[string]bool{}
	for _, rs := range refs {
		for _, r := range rs {
			if r.namespace == "AWS/Lambda" && r.name == "Errors" {
				lambdaErrors[r.dims["FunctionName"]] = true
			}
		}
	}
	for _, f := range target.functions {
		if !lambdaErrors[f] {
			problems = append(problems, "no alarm on the Errors of "+f)
		}
	}
	return problems
}

// checkOpsDashboard: the dashboard body is JSON once substituted, reads
// only metrics the code writes, shows each of them, and lists alarms that
// exist.
func checkOpsDashboard(tpl *samtemplate.Template) (problems []string) {
	target, problems := newOpsTarget(tpl)
	dashboards := tpl.CloudFormation().GetAllCloudWatchDashboardResources()
	if len(dashboards) != 1 {
		return append(problems, fmt.Sprintf("%d dashboards, want 1", len(dashboards)))
	}
	alarms := tpl.CloudFormation().GetAllCloudWatchAlarmResources()
	shown := map[string]bool{}
	for id, d := range dashboards {
		var body struct {
			Widgets []struct {
				Type       string `json:"type"`
				X          *int   `json:"x"`
				Y          *int   `json:"y"`
				Width      int    `json:"width"`
				Height     int    `json:"height"`
				Properties struct {
					Metrics []json.RawMessage `json:"metrics"`
					Alarms  []string          `json:"alarms"`
					Region  string            `json:"region"`
				} `json:"properties"`
			} `json:"widgets"`
		}
		if err := json.Unmarshal([]byte(d.DashboardBody), &body); err != nil {
			return append(problems, fmt.Sprintf("dashboard %s: body is not JSON after substitution: %v\n%s", id, err, d.DashboardBody))
		}
		// Only alarm ARNs (!GetAtt, which Load keeps as written) are left.
		for _, v := range subVariable.FindAllString(d.DashboardBody, -1) {
			if !alarmARN.MatchString(v) {
				problems = append(problems, fmt.Sprintf("dashboard %s: %s is not substituted", id, v))
			}
		}
		for i, w := range body.Widgets {
			where := fmt.Sprintf("dashboard %s widget %d", id, i)
			if w.X == nil || w.Y == nil || w.Width < 1 || w.Width > 24 || w.Height < 1 {
				problems = append(problems, where+": x, y, width (1-24) and height must be set")
			}
			switch w.Type {
			case "metric":
				if w.Properties.Region == "" || len(w.Properties.Metrics) == 0 {
					problems = append(problems, where+": a metric widget needs a region and metrics")
				}
				for j, raw := range w.Properties.Metrics {
					var row []any
					if err := json.Unmarshal(raw, &row); err != nil || len(row) < 2 {
						problems = append(problems, fmt.Sprintf("%s metric %d: not an array [namespace, name, dimension, value, ...]", where, j))
						continue
					}
					if _, opts := row[len(row)-1].(map[string]any); opts {
						row = row[:len(row)-1]
					}
					var strs []string
					for _, v := range row {
						s, ok := v.(string)
						if !ok || s == "..." || s == "." {
							problems = append(problems, fmt.Sprintf("%s metric %d: write every element out as a string: %s", where, j, raw))
							strs = nil
							break
						}
						strs = append(strs, s)
					}
					if len(strs) < 2 || len(strs)%2 != 0 {
						if strs != nil {
							problems = append(problems, fmt.Sprintf("%s metric %d: dimension names and values must pair up: %s", where, j, raw))
						}
						continue
					}
					r := metricRef{where: fmt.Sprintf("%s metric %d", where, j), namespace: strs[0], name: strs[1], dims: map[string]string{}}
					for k := 2; k < len(strs); k += 2 {
						r.dims[strs[k]] = strs[k+1]
					}
					problems = append(problems, target.check(r)...)
					if r.namespace == target.namespace {
						shown[r.name] = true
					}
				}
			case "alarm":
				for _, a := range w.Properties.Alarms {
					name, ok := strings.CutSuffix(strings.TrimPrefix(a, "${"), ".Arn}")
					if _, exists := alarms[name]; !ok || !exists {
						problems = append(problems, fmt.Sprintf("%s: %q is not the ARN of an alarm of the template", where, a))
					}
				}
			case "text":
			default:
				problems = append(problems, fmt.Sprintf("%s: unexpected widget type %q", where, w.Type))
			}
		}
	}
	var missing []string
	for name := range target.defs {
		if !shown[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("the dashboard does not show %v", missing))
	}
	return problems
}

var opsChecks = []check{
	{"logging", checkOpsLogging},
	{"alarms", checkOpsAlarms},
	{"dashboard", checkOpsDashboard},
}

func TestOperations(t *testing.T) {
	tpl := loadRepoTemplate(t)
	for _, c := range opsChecks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.fn(tpl) {
				t.Error(p)
			}
		})
	}
}

// TestOperationsChecksCatchMutations breaks the real template one way at a
// time and asserts that the responsible check notices.
func TestOperationsChecksCatchMutations(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, check string
	}{
		{"alarm on a metric the code does not write", "MetricName: EventsRejected", "MetricName: EventsRefused", "alarms"},
		{"alarm on a dimension set the code does not write", "      MetricName: WebhookFailures\n      Dimensions: [{Name: Stack, Value: !Ref AWS::StackName}]",
			"      MetricName: WebhookFailures\n      Dimensions: [{Name: Stack, Value: !Ref AWS::StackName}, {Name: Tenant, Value: demo}]", "alarms"},
		{"lag alarm on the on-demand runs", "      MetricName: AggregationLag\n      Dimensions:\n        - {Name: Stack, Value: !Ref AWS::StackName}\n        - {Name: Trigger, Value: nightly}",
			"      MetricName: AggregationLag\n      Dimensions:\n        - {Name: Stack, Value: !Ref AWS::StackName}\n        - {Name: Trigger, Value: on-demand}", "alarms"},
		{"alarm on another namespace", "Namespace: AWS/SQS", "Namespace: AWS/SNS", "alarms"},
		{"expression reading an unknown query", `Expression: "ingest + webhooks`, `Expression: "ingest + hooks`, "alarms"},
		{"Stack dimension of another stack", `Value: !Ref AWS::StackName}]`, `Value: prod}]`, "alarms"},
		{"functions' namespace not the alarms'", "METRICS_NAMESPACE: !Ref MetricsNamespace", "METRICS_NAMESPACE: Other", "alarms"},
		{"dashboard provider unknown", `"Provider", "ticket"]`, `"Provider", "tickets"]`, "dashboard"},
		{"dashboard metric unknown", `"EventsDuplicated", "Stack"`, `"EventsDeduplicated", "Stack"`, "dashboard"},
		{"dashboard not JSON", `"widgets": [`, `"widgets": [,`, "dashboard"},
		{"dashboard alarm unknown", `"${ThrottlesAlarm.Arn}"`, `"${ThrottleAlarm.Arn}"`, "dashboard"},
		{"text logs", "      LogFormat: JSON", "      LogFormat: Text", "logging"},
		{"Lambda's filter drops metrics", "      ApplicationLogLevel: DEBUG", "      ApplicationLogLevel: WARN", "logging"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(src), tc.old) {
				t.Fatalf("template.yaml no longer contains %q: update the mutation", tc.old)
			}
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, []byte(strings.Replace(string(src), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			tpl, err := samtemplate.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(opsChecks, func(c check) bool { return c.name == tc.check })
			if problems := opsChecks[i].fn(tpl); len(problems) == 0 {
				t.Errorf("check %s did not notice", tc.check)
			} else {
				t.Logf("check %s: %s", tc.check, problems[0])
			}
		})
	}
}
