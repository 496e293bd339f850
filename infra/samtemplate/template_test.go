package samtemplate_test

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/uptakehq/uptake/infra/samtemplate"
)

// Symbolic values, as Load renders intrinsics.
const (
	tableArn    = "${Table.Arn}"
	bucketArn   = "${Bucket.Arn}"
	rawObjects  = "${Bucket.Arn}/raw/*"
	keptObjects = "${Bucket.Arn}/webhooks/*"
)

// wantRoutes is the HTTP contract of docs/spec/api.md, route by route.
var wantRoutes = []samtemplate.Route{
	{Method: "GET", Path: "/", Function: "QueryFunction"},
	{Method: "GET", Path: "/assets/{file}", Function: "QueryFunction"},
	{Method: "POST", Path: "/v1/admin/aggregate", Function: "AdminFunction"},
	{Method: "GET", Path: "/v1/admin/erasures", Function: "AdminFunction"},
	{Method: "GET", Path: "/v1/admin/webhooks/{provider}", Function: "AdminFunction"},
	{Method: "PUT", Path: "/v1/admin/webhooks/{provider}", Function: "AdminFunction"},
	{Method: "POST", Path: "/v1/admin/webhooks/{provider}/reprocess", Function: "AdminFunction"},
	{Method: "POST", Path: "/v1/alias", Function: "IngestFunction"},
	{Method: "POST", Path: "/v1/batch", Function: "IngestFunction"},
	{Method: "GET", Path: "/v1/config", Function: "AdminFunction"},
	{Method: "PUT", Path: "/v1/config", Function: "AdminFunction"},
	{Method: "POST", Path: "/v1/group", Function: "IngestFunction"},
	{Method: "POST", Path: "/v1/identify", Function: "IngestFunction"},
	{Method: "GET", Path: "/v1/kpis", Function: "QueryFunction"},
	{Method: "GET", Path: "/v1/kpis/{id}", Function: "QueryFunction"},
	{Method: "GET", Path: "/v1/openapi.json", Function: "QueryFunction"},
	{Method: "POST", Path: "/v1/page", Function: "IngestFunction"},
	{Method: "POST", Path: "/v1/screen", Function: "IngestFunction"},
	{Method: "POST", Path: "/v1/track", Function: "IngestFunction"},
	{Method: "DELETE", Path: "/v1/users/{id}", Function: "AdminFunction"},
	{Method: "HEAD", Path: "/v1/webhooks/{provider}/{tenant}", Function: "WebhooksFunction"},
	{Method: "POST", Path: "/v1/webhooks/{provider}/{tenant}", Function: "WebhooksFunction"},
}

// grants lists "action on resource" for each action.
func grants(resource string, actions ...string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = a + " on " + resource
	}
	return out
}

var (
	tableReadWrite = grants(tableArn, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
		"dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
		"dynamodb:ConditionCheckItem")
	tableWrite = grants(tableArn, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
		"dynamodb:BatchWriteItem")
)

// wantGrants is the least privilege of each function: exactly these
// (action, resource) pairs, nothing more.
var wantGrants = map[string][]string{
	"IngestFunction": slices.Concat(tableWrite,
		grants(rawObjects, "s3:PutObject", "s3:DeleteObject")),
	"WebhooksFunction": slices.Concat(tableWrite,
		grants(rawObjects, "s3:PutObject", "s3:DeleteObject"), grants(keptObjects, "s3:PutObject")),
	"QueryFunction": grants(tableArn, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"),
	"AdminFunction": slices.Concat(tableReadWrite,
		grants(rawObjects, "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
		grants(bucketArn, "s3:ListBucket", "s3:ListBucketVersions"),
		grants(keptObjects, "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion")),
	"AlertsFunction": grants(tableArn, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
	"AggregateFunction": slices.Concat(tableReadWrite,
		grants(rawObjects, "s3:GetObject"), grants(bucketArn, "s3:ListBucket")),
}

// check inspects a loaded template and returns the problems it finds.
type check struct {
	name string
	fn   func(*samtemplate.Template) []string
}

var checks = []check{
	{"header", checkHeader},
	{"routes", checkRoutes},
	{"functions", checkFunctions},
	{"schedule", checkSchedule},
	{"table", checkTable},
	{"bucket", checkBucket},
	{"queue", checkQueue},
	{"policies", checkPolicies},
	{"outputs", checkOutputs},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	p, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(p)
}

func loadRepoTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestTemplate(t *testing.T) {
	tpl := loadRepoTemplate(t)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.fn(tpl) {
				t.Error(p)
			}
		})
	}
}

func checkHeader(tpl *samtemplate.Template) (problems []string) {
	cfn := tpl.CloudFormation()
	if cfn.Transform == nil || cfn.Transform.String == nil || *cfn.Transform.String != "AWS::Serverless-2016-10-31" {
		problems = append(problems, "Transform is not AWS::Serverless-2016-10-31")
	}
	if strings.TrimSpace(cfn.Description) == "" {
		problems = append(problems, "the template has no Description")
	}
	// sam deploy --guided proposes the defaults: every parameter needs one.
	for name, p := range cfn.Parameters {
		if p.Default == nil {
			problems = append(problems, fmt.Sprintf("parameter %s has no Default", name))
		}
	}
	return problems
}

func checkRoutes(tpl *samtemplate.Template) (problems []string) {
	if d := cmp.Diff(wantRoutes, tpl.Routes()); d != "" {
		problems = append(problems, "routes differ from the HTTP contract (-want +got):\n"+d)
	}
	cfn := tpl.CloudFormation()
	api, err := cfn.GetServerlessHttpApiWithName("HttpApi")
	if err != nil {
		return append(problems, "no AWS::Serverless::HttpApi with logical id HttpApi")
	}
	if api.Auth != nil {
		problems = append(problems, "HttpApi has Auth: API keys are checked in the handlers, no authorizer is expected")
	}
	for id, fn := range cfn.GetAllServerlessFunctionResources() {
		for name, ev := range fn.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			var h *serverless.Function_HttpApiEvent
			if ev.Properties != nil {
				h = ev.Properties.HttpApiEvent
			}
			switch {
			case h == nil || h.ApiId == nil || *h.ApiId != "HttpApi":
				problems = append(problems, fmt.Sprintf("%s event %s is not attached with ApiId: !Ref HttpApi", id, name))
			case h.Auth != nil:
				problems = append(problems, fmt.Sprintf("%s event %s has an Auth override", id, name))
			case h.PayloadFormatVersion != nil && *h.PayloadFormatVersion != "2.0":
				problems = append(problems, fmt.Sprintf("%s event %s uses payload format %s, handlers expect 2.0", id, name, *h.PayloadFormatVersion))
			}
		}
	}
	return problems
}

func checkFunctions(tpl *samtemplate.Template) (problems []string) {
	var ids []string
	for _, f := range tpl.Functions() {
		ids = append(ids, f.LogicalID)
	}
	wantIDs := []string{"AdminFunction", "AggregateFunction", "AlertsFunction", "IngestFunction", "QueryFunction", "WebhooksFunction"}
	if d := cmp.Diff(wantIDs, ids); d != "" {
		problems = append(problems, "functions (-want +got):\n"+d)
	}

	type settings struct {
		CodeURI, Handler, Runtime, BuildMethod string
		Architectures                          []string
	}
	want := settings{CodeURI: ".", Handler: "bootstrap", Runtime: "provided.al2023", BuildMethod: "makefile", Architectures: []string{"arm64"}}
	for _, f := range tpl.Functions() {
		got := settings{f.CodeURI, f.Handler, f.Runtime, f.BuildMethod, f.Architectures}
		if d := cmp.Diff(want, got); d != "" {
			problems = append(problems, fmt.Sprintf("%s build settings, Globals merged (-want +got):\n%s", f.LogicalID, d))
		}
		// Refs to resources read as logical ids.
		for key, value := range map[string]string{"TABLE_NAME": "Table", "BUCKET_NAME": "Bucket"} {
			if got, ok := f.Env[key]; !ok || got != value {
				problems = append(problems, fmt.Sprintf("%s: env %s is %q (set %v), want !Ref %s", f.LogicalID, key, got, ok, value))
			}
		}
		if _, ok := f.Env["LOG_LEVEL"]; !ok {
			problems = append(problems, fmt.Sprintf("%s: no LOG_LEVEL env", f.LogicalID))
		}
	}
	return problems
}

// dailyAt0015UTC reports whether an EventBridge schedule expression fires
// once a day at 00:15 UTC.
func dailyAt0015UTC(expr string) bool {
	inner, ok := strings.CutPrefix(expr, "cron(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return false
	}
	f := strings.Fields(strings.TrimSuffix(inner, ")"))
	if len(f) != 6 {
		return false
	}
	minutes, hours, dom, month, dow, year := f[0], f[1], f[2], f[3], f[4], f[5]
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			return -1
		}
		return n
	}
	everyDay := (dom == "*" && dow == "?") || (dom == "?" && dow == "*")
	return atoi(minutes) == 15 && atoi(hours) == 0 && everyDay && month == "*" && year == "*"
}

func checkSchedule(tpl *samtemplate.Template) (problems []string) {
	for _, f := range tpl.Functions() {
		switch {
		case f.LogicalID == "AlertsFunction":
			// The alert outbox is drained every minute.
			if !slices.Equal(f.Schedules, []string{"rate(1 minute)"}) {
				problems = append(problems, fmt.Sprintf("AlertsFunction has schedules %v, want [rate(1 minute)]", f.Schedules))
			}
		case f.LogicalID != "AggregateFunction" && len(f.Schedules) > 0:
			problems = append(problems, fmt.Sprintf("%s has schedules %v; only AggregateFunction and AlertsFunction run on a schedule", f.LogicalID, f.Schedules))
		}
	}
	agg, ok := tpl.Function("AggregateFunction")
	if !ok {
		return append(problems, "no AggregateFunction")
	}
	if len(agg.Schedules) != 1 || !dailyAt0015UTC(agg.Schedules[0]) {
		problems = append(problems, fmt.Sprintf("AggregateFunction schedules are %q, want one daily at 00:15 UTC, cron(15 0 * * ? *)", agg.Schedules))
	}
	if p, ok := tpl.CloudFormation().Parameters["AggregateSchedule"]; !ok || p.Default != "cron(15 0 * * ? *)" {
		problems = append(problems, "no AggregateSchedule parameter defaulting to cron(15 0 * * ? *)")
	}
	if agg.OnFailure == nil {
		return append(problems, "AggregateFunction has no EventInvokeConfig on-failure destination")
	}
	if agg.OnFailure.Type != "SQS" {
		problems = append(problems, fmt.Sprintf("AggregateFunction on-failure destination type is %q, want SQS", agg.OnFailure.Type))
	}
	queue, ok := strings.CutSuffix(strings.TrimPrefix(agg.OnFailure.Destination, "${"), ".Arn}")
	if !ok {
		problems = append(problems, fmt.Sprintf("AggregateFunction on-failure destination %q is not !GetAtt <queue>.Arn", agg.OnFailure.Destination))
	} else if _, err := tpl.CloudFormation().GetSQSQueueWithName(queue); err != nil {
		problems = append(problems, fmt.Sprintf("AggregateFunction on-failure destination %s is not an SQS queue of the template", queue))
	}
	if agg.MaximumRetryAttempts == nil || *agg.MaximumRetryAttempts != 2 {
		problems = append(problems, "AggregateFunction EventInvokeConfig.MaximumRetryAttempts is not 2")
	}
	return problems
}

func checkTable(tpl *samtemplate.Template) (problems []string) {
	table, err := tpl.CloudFormation().GetDynamoDBTableWithName("Table")
	if err != nil {
		return []string{"no AWS::DynamoDB::Table with logical id Table"}
	}
	if table.BillingMode == nil || *table.BillingMode != "PAY_PER_REQUEST" {
		problems = append(problems, "Table is not on-demand (BillingMode PAY_PER_REQUEST)")
	}
	var keys, attrs []string
	for _, k := range table.KeySchema {
		keys = append(keys, k.AttributeName+" "+k.KeyType)
	}
	for _, a := range table.AttributeDefinitions {
		attrs = append(attrs, a.AttributeName+" "+a.AttributeType)
	}
	sort.Strings(attrs)
	if d := cmp.Diff([]string{"pk HASH", "sk RANGE"}, keys); d != "" {
		problems = append(problems, "Table key schema (-want +got):\n"+d)
	}
	if !slices.Contains(attrs, "pk S") || !slices.Contains(attrs, "sk S") {
		problems = append(problems, fmt.Sprintf("Table attribute definitions %v lack pk S and sk S", attrs))
	}
	if ttl := table.TimeToLiveSpecification; ttl == nil || !ttl.Enabled || ttl.AttributeName == nil || *ttl.AttributeName != "ttl" {
		problems = append(problems, "Table has no TTL enabled on attribute ttl")
	}
	if pitr := table.PointInTimeRecoverySpecification; pitr == nil || pitr.PointInTimeRecoveryEnabled == nil || !*pitr.PointInTimeRecoveryEnabled {
		problems = append(problems, "Table has no point-in-time recovery")
	}
	if sse := table.SSESpecification; sse == nil || !sse.SSEEnabled {
		problems = append(problems, "Table has no SSESpecification with SSEEnabled")
	}
	return problems
}

func checkBucket(tpl *samtemplate.Template) (problems []string) {
	cfn := tpl.CloudFormation()
	b, err := cfn.GetS3BucketWithName("Bucket")
	if err != nil {
		return []string{"no AWS::S3::Bucket with logical id Bucket"}
	}
	encrypted := b.BucketEncryption != nil && len(b.BucketEncryption.ServerSideEncryptionConfiguration) > 0
	if encrypted {
		for _, r := range b.BucketEncryption.ServerSideEncryptionConfiguration {
			if r.ServerSideEncryptionByDefault == nil || r.ServerSideEncryptionByDefault.SSEAlgorithm == "" {
				encrypted = false
			}
		}
	}
	if !encrypted {
		problems = append(problems, "Bucket has no default encryption")
	}
	pab := b.PublicAccessBlockConfiguration
	isTrue := func(p *bool) bool { return p != nil && *p }
	if pab == nil || !isTrue(pab.BlockPublicAcls) || !isTrue(pab.BlockPublicPolicy) || !isTrue(pab.IgnorePublicAcls) || !isTrue(pab.RestrictPublicBuckets) {
		problems = append(problems, "Bucket does not set all four public access blocks to true")
	}
	owner := b.OwnershipControls != nil && len(b.OwnershipControls.Rules) == 1 &&
		b.OwnershipControls.Rules[0].ObjectOwnership != nil && *b.OwnershipControls.Rules[0].ObjectOwnership == "BucketOwnerEnforced"
	if !owner {
		problems = append(problems, "Bucket ownership is not BucketOwnerEnforced")
	}
	if b.VersioningConfiguration == nil || b.VersioningConfiguration.Status != "Enabled" {
		problems = append(problems, "Bucket versioning is not enabled")
	}
	retention := false
	if b.LifecycleConfiguration != nil {
		for _, r := range b.LifecycleConfiguration.Rules {
			if r.Status == "Enabled" && r.Prefix != nil && *r.Prefix == "raw/" && r.ExpirationInDays != nil && *r.ExpirationInDays >= 30 {
				retention = true
			}
		}
	}
	if !retention {
		problems = append(problems, "Bucket has no retention period (expiration) for raw/ events")
	}

	// A bucket policy on Bucket that denies every s3 action without TLS, on
	// the bucket and its objects.
	denied := false
	for id, p := range cfn.GetAllS3BucketPolicyResources() {
		if p.Bucket != "Bucket" {
			continue
		}
		stmts, err := samtemplate.ParseStatements(p.PolicyDocument)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		for _, s := range stmts {
			if s.Effect == "Deny" && anyPrincipal(s.Principal) && slices.Contains(s.Action, "s3:*") &&
				slices.Contains(s.Resource, bucketArn) && slices.Contains(s.Resource, bucketArn+"/*") &&
				insecureTransport(s.Condition) {
				denied = true
			}
		}
	}
	if !denied {
		problems = append(problems, `no AWS::S3::BucketPolicy on Bucket denies "s3:*" to "*" on the bucket and its objects when aws:SecureTransport is false`)
	}
	return problems
}

func anyPrincipal(p any) bool {
	switch v := p.(type) {
	case string:
		return v == "*"
	case map[string]any:
		return v["AWS"] == "*"
	}
	return false
}

func insecureTransport(cond map[string]any) bool {
	b, _ := cond["Bool"].(map[string]any)
	switch v := b["aws:SecureTransport"].(type) {
	case string:
		return v == "false"
	case bool:
		return !v
	}
	return false
}

func checkQueue(tpl *samtemplate.Template) (problems []string) {
	for id, q := range tpl.CloudFormation().GetAllSQSQueueResources() {
		if q.SqsManagedSseEnabled == nil || !*q.SqsManagedSseEnabled {
			if q.KmsMasterKeyId == nil {
				problems = append(problems, fmt.Sprintf("queue %s is not encrypted (SqsManagedSseEnabled)", id))
			}
		}
	}
	return problems
}

var (
	wildcard = regexp.MustCompile(`[*?]`)
	// The only wildcard allowed in a resource: the objects under a non-empty
	// key prefix of a bucket of the template.
	objectPrefix = regexp.MustCompile(`^\$\{[A-Za-z0-9]+\.Arn\}/[^*?]+/\*$`)
	bucketARN    = regexp.MustCompile(`^\$\{[A-Za-z0-9]+\.Arn\}$`)
)

func checkPolicies(tpl *samtemplate.Template) (problems []string) {
	for _, f := range tpl.Functions() {
		if len(f.OtherPolicies) > 0 {
			problems = append(problems, fmt.Sprintf("%s uses non-inline policies %v: write inline statements with exact actions and resources", f.LogicalID, f.OtherPolicies))
		}
		if len(f.Statements) == 0 {
			problems = append(problems, fmt.Sprintf("%s has no inline policy", f.LogicalID))
		}
		var got []string
		for i, s := range f.Statements {
			where := fmt.Sprintf("%s statement %d (%s)", f.LogicalID, i, s.Sid)
			if s.Effect != "Allow" && s.Effect != "Deny" {
				problems = append(problems, fmt.Sprintf("%s: Effect %q", where, s.Effect))
			}
			if len(s.NotAction) > 0 || len(s.NotResource) > 0 {
				problems = append(problems, where+": NotAction/NotResource grant everything else")
			}
			if len(s.Action) == 0 || len(s.Resource) == 0 {
				problems = append(problems, where+": no Action or no Resource")
			}
			for _, a := range s.Action {
				if wildcard.MatchString(a) {
					problems = append(problems, fmt.Sprintf("%s: wildcard action %q", where, a))
				}
				if a == "s3:ListBucket" {
					for _, r := range s.Resource {
						if !bucketARN.MatchString(r) {
							problems = append(problems, fmt.Sprintf("%s: s3:ListBucket on %q, not on a bucket ARN", where, r))
						}
					}
				}
			}
			for _, r := range s.Resource {
				if wildcard.MatchString(r) && !objectPrefix.MatchString(r) {
					problems = append(problems, fmt.Sprintf("%s: wildcard resource %q", where, r))
				}
			}
			if s.Effect == "Allow" {
				for _, a := range s.Action {
					for _, r := range s.Resource {
						got = append(got, a+" on "+r)
					}
				}
			}
		}
		want, ok := wantGrants[f.LogicalID]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no expected grants in this test", f.LogicalID))
			continue
		}
		sortedWant := slices.Sorted(slices.Values(want))
		slices.Sort(got)
		got = slices.Compact(got)
		if d := cmp.Diff(sortedWant, got); d != "" {
			problems = append(problems, fmt.Sprintf("%s grants (-want +got):\n%s", f.LogicalID, d))
		}
	}
	return problems
}

func checkOutputs(tpl *samtemplate.Template) (problems []string) {
	want := map[string]any{
		"ApiUrl":          "https://HttpApi.execute-api.us-east-1.amazonaws.com",
		"TableName":       "Table",
		"BucketName":      "Bucket",
		"FailureQueueUrl": "AggregateFailureQueue",
	}
	got := map[string]any{}
	for name := range want {
		if o, ok := tpl.CloudFormation().Outputs[name]; ok {
			got[name] = o.Value
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		problems = append(problems, "outputs (-want +got):\n"+d)
	}
	return problems
}

// TestChecksCatchMutations breaks the real template one property at a time
// and asserts that the check responsible for it notices.
func TestChecksCatchMutations(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type mutation struct {
		name  string
		path  string // dot-separated; numbers index sequences
		value string // YAML; empty deletes the node
		check string // the check that must report a problem; "" for none
	}
	mutations := []mutation{
		// Control: a YAML round trip alone must pass every check.
		{"round trip", "Description", "Uptake", ""},
		{"route renamed", "Resources.IngestFunction.Properties.Events.Alias.Properties.Path", "/v1/aliases", "routes"},
		{"route removed", "Resources.QueryFunction.Properties.Events.OpenAPI", "", "routes"},
		{"route without ApiId", "Resources.QueryFunction.Properties.Events.GetKpi.Properties.ApiId", "", "routes"},
		{"runtime", "Resources.QueryFunction.Properties.Runtime", "provided.al2", "functions"},
		{"architecture", "Resources.QueryFunction.Properties.Architectures", "[x86_64]", "functions"},
		{"handler", "Resources.AdminFunction.Properties.Handler", "main", "functions"},
		{"build method", "Resources.AdminFunction.Metadata.BuildMethod", "go1.x", "functions"},
		{"code uri", "Resources.WebhooksFunction.Properties.CodeUri", "functions/webhooks", "functions"},
		{"env TABLE_NAME", "Globals.Function.Environment.Variables.TABLE_NAME", "", "functions"},
		{"env BUCKET_NAME", "Globals.Function.Environment.Variables.BUCKET_NAME", "", "functions"},
		{"schedule time", "Resources.AggregateFunction.Properties.Events.Nightly.Properties.Schedule", "cron(15 1 * * ? *)", "schedule"},
		{"schedule weekly", "Resources.AggregateFunction.Properties.Events.Nightly.Properties.Schedule", "cron(15 0 ? * MON *)", "schedule"},
		{"schedule removed", "Resources.AggregateFunction.Properties.Events.Nightly", "", "schedule"},
		{"no on-failure destination", "Resources.AggregateFunction.Properties.EventInvokeConfig.DestinationConfig", "", "schedule"},
		{"provisioned table", "Resources.Table.Properties.BillingMode", "PROVISIONED", "table"},
		{"no TTL", "Resources.Table.Properties.TimeToLiveSpecification", "", "table"},
		{"no PITR", "Resources.Table.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled", "false", "table"},
		{"no table SSE", "Resources.Table.Properties.SSESpecification", "", "table"},
		{"no bucket encryption", "Resources.Bucket.Properties.BucketEncryption", "", "bucket"},
		{"public policies allowed", "Resources.Bucket.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy", "false", "bucket"},
		{"public buckets allowed", "Resources.Bucket.Properties.PublicAccessBlockConfiguration.RestrictPublicBuckets", "", "bucket"},
		{"no TLS policy", "Resources.BucketPolicy", "", "bucket"},
		{"TLS policy on objects only", "Resources.BucketPolicy.Properties.PolicyDocument.Statement.0.Resource", `!Sub "${Bucket.Arn}/*"`, "bucket"},
		{"star resource", "Resources.QueryFunction.Properties.Policies.0.Statement.0.Resource", `"*"`, "policies"},
		{"whole-bucket objects", "Resources.IngestFunction.Properties.Policies.0.Statement.1.Resource", `!Sub "${Bucket.Arn}/*"`, "policies"},
		{"wildcard action", "Resources.QueryFunction.Properties.Policies.0.Statement.0.Action", "dynamodb:*", "policies"},
		{"extra action", "Resources.QueryFunction.Properties.Policies.0.Statement.0.Action", "[dynamodb:GetItem, dynamodb:Query, dynamodb:BatchGetItem, dynamodb:Scan]", "policies"},
		{"policy template", "Resources.QueryFunction.Properties.Policies.1", "{DynamoDBReadPolicy: {TableName: !Ref Table}}", "policies"},
		{"unencrypted queue", "Resources.AggregateFailureQueue.Properties.SqsManagedSseEnabled", "", "queue"},
	}
	checkByName := map[string]check{}
	for _, c := range checks {
		checkByName[c.name] = c
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal(src, &doc); err != nil {
				t.Fatal(err)
			}
			if err := mutate(&doc, strings.Split(m.path, "."), m.value); err != nil {
				t.Fatalf("%s: %v (update this mutation to the template's layout)", m.path, err)
			}
			out, err := yaml.Marshal(&doc)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			tpl, err := samtemplate.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if m.check == "" {
				for _, c := range checks {
					for _, p := range c.fn(tpl) {
						t.Errorf("%s: %s", c.name, p)
					}
				}
				return
			}
			c, ok := checkByName[m.check]
			if !ok {
				t.Fatalf("no check %q", m.check)
			}
			if p := c.fn(tpl); len(p) == 0 {
				t.Errorf("check %q passed a template with %s set to %q", m.check, m.path, m.value)
			}
		})
	}
}

// mutate sets (value != "") or deletes (value == "") the node at path. Set
// adds a missing last key to a mapping or appends to a sequence.
func mutate(doc *yaml.Node, path []string, value string) error {
	n := doc
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	for i, key := range path {
		last := i == len(path)-1
		switch n.Kind {
		case yaml.MappingNode:
			idx := -1
			for j := 0; j < len(n.Content); j += 2 {
				if n.Content[j].Value == key {
					idx = j
				}
			}
			if idx < 0 && !(last && value != "") {
				return fmt.Errorf("no key %q", key)
			}
			if !last {
				n = n.Content[idx+1]
				continue
			}
			if value == "" {
				n.Content = slices.Delete(n.Content, idx, idx+2)
				return nil
			}
			v, err := valueNode(value)
			if err != nil {
				return err
			}
			if idx < 0 {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
			} else {
				n.Content[idx+1] = v
			}
			return nil
		case yaml.SequenceNode:
			j, err := strconv.Atoi(key)
			if err != nil || j < 0 || j > len(n.Content) || (j == len(n.Content) && !(last && value != "")) {
				return fmt.Errorf("no element %q", key)
			}
			if !last {
				n = n.Content[j]
				continue
			}
			if value == "" {
				n.Content = slices.Delete(n.Content, j, j+1)
				return nil
			}
			v, err := valueNode(value)
			if err != nil {
				return err
			}
			if j == len(n.Content) {
				n.Content = append(n.Content, v)
			} else {
				n.Content[j] = v
			}
			return nil
		default:
			return fmt.Errorf("%q is not inside a mapping or sequence", key)
		}
	}
	return errors.New("empty path")
}

func valueNode(value string) (*yaml.Node, error) {
	var v yaml.Node
	if err := yaml.Unmarshal([]byte(value), &v); err != nil {
		return nil, err
	}
	return v.Content[0], nil
}

// goTool returns the go command of the toolchain running the tests.
func goTool(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); isExecutable(p) {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: %v", err)
	}
	if out, err := exec.Command(p, "env", "GOROOT").Output(); err == nil {
		if q := filepath.Join(strings.TrimSpace(string(out)), "bin", "go"); isExecutable(q) {
			return q
		}
	}
	return p
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// TestFunctionsBuild builds every function of the template as the Makefile
// does for Lambda (linux/arm64, static, lambda.norpc), and checks that
// functions/ holds no function the template forgot and that the Makefile
// has a build target for each.
func TestFunctionsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function; skipped with -short")
	}
	root := repoRoot(t)
	tpl := loadRepoTemplate(t)
	goCmd := goTool(t)

	inTemplate := map[string]string{} // package dir -> logical id
	for _, f := range tpl.Functions() {
		inTemplate[filepath.Clean(f.Package())] = f.LogicalID
	}

	t.Run("no orphan function directories", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(root, "functions"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if _, ok := inTemplate[filepath.Join("functions", e.Name())]; !ok {
				t.Errorf("functions/%s has no function in template.yaml (expected logical id %sFunction)", e.Name(), strings.ToUpper(e.Name()[:1])+e.Name()[1:])
			}
		}
	})

	t.Run("Makefile targets", func(t *testing.T) {
		mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if errors.Is(err, fs.ErrNotExist) {
			t.Skip("no Makefile yet")
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range tpl.Functions() {
			target := regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(f.LogicalID) + `\s*:`)
			if !target.Match(mk) {
				t.Errorf("Makefile has no build-%s target, which sam build runs for BuildMethod makefile", f.LogicalID)
			}
		}
	})

	for _, f := range tpl.Functions() {
		t.Run(f.LogicalID, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "bootstrap")
			cmd := exec.Command(goCmd, "build", "-tags", "lambda.norpc", "-o", out, f.Package())
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build %s for linux/arm64: %v\n%s", f.Package(), err, msg)
			}
			bin, err := elf.Open(out)
			if err != nil {
				t.Fatalf("bootstrap is not an ELF binary: %v", err)
			}
			defer bin.Close()
			if bin.Machine != elf.EM_AARCH64 {
				t.Errorf("bootstrap is built for %v, want EM_AARCH64", bin.Machine)
			}
		})
	}
}
