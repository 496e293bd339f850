package openapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/shared/erase"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/openapi"
	"github.com/uptakehq/uptake/shared/query"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func document(t *testing.T) map[string]any {
	t.Helper()
	if !json.Valid(openapi.Document) {
		t.Fatal("openapi.json is not valid JSON")
	}
	var doc map[string]any
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// operations returns the document's operations keyed "METHOD /path".
func operations(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("paths is not an object")
	}
	ops := map[string]map[string]any{}
	for p, item := range paths {
		item, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("path item %s is not an object", p)
		}
		for _, m := range methods {
			if op, ok := item[m].(map[string]any); ok {
				ops[strings.ToUpper(m)+" "+p] = op
			}
		}
	}
	return ops
}

func TestDocumentIsOpenAPI31(t *testing.T) {
	doc := document(t)
	if got := doc["openapi"]; got != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got)
	}
	info, _ := doc["info"].(map[string]any)
	for _, k := range []string{"title", "version"} {
		if s, _ := info[k].(string); s == "" {
			t.Errorf("info.%s is missing", k)
		}
	}
}

// TestRefsResolve checks that every $ref is a local JSON pointer to
// something in the document.
func TestRefsResolve(t *testing.T) {
	doc := document(t)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"]; ok {
				s, _ := r.(string)
				refs = append(refs, s)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Fatal("no $ref found; the walk is broken")
	}
	for _, r := range refs {
		if _, err := resolve(doc, r); err != nil {
			t.Errorf("$ref %q: %v", r, err)
		}
	}
}

// resolve follows a local JSON pointer reference (RFC 6901).
func resolve(doc any, ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("not a local JSON pointer")
	}
	cur := doc
	for _, tok := range strings.Split(ptr, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := cur.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, fmt.Errorf("no %q", tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("no index %q", tok)
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("%q is below a scalar", tok)
		}
	}
	return cur, nil
}

// TestRoutesMatchTemplate checks that the document describes exactly the
// HTTP API routes of template.yaml.
func TestRoutesMatchTemplate(t *testing.T) {
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range tpl.Routes() {
		want = append(want, strings.ToUpper(r.Method)+" "+r.Path)
	}
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("template.yaml has no routes")
	}
	var got []string
	for k := range operations(t, document(t)) {
		got = append(got, k)
	}
	slices.Sort(got)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("operations differ from template.yaml's routes (-openapi.json +template.yaml):\n%s", diff)
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOperationsAreDescribed checks what every operation must carry:
// operationId (unique), summary, declared tags, a security requirement
// naming declared schemes, its path parameters, and responses whose errors
// use the shared error shape.
func TestOperationsAreDescribed(t *testing.T) {
	doc := document(t)
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	declared := map[string]bool{}
	tags, _ := doc["tags"].([]any)
	for _, tag := range tags {
		tag, _ := tag.(map[string]any)
		name, _ := tag["name"].(string)
		declared[name] = true
	}
	ids := map[string]string{}
	for key, op := range operations(t, doc) {
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", key)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q is also used by %s", key, id, other)
		}
		ids[id] = key
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", key)
		}
		opTags, _ := op["tags"].([]any)
		if len(opTags) == 0 {
			t.Errorf("%s: no tags", key)
		}
		for _, tag := range opTags {
			if name, _ := tag.(string); !declared[name] {
				t.Errorf("%s: tag %v is not declared", key, tag)
			}
		}
		security, ok := op["security"].([]any)
		if !ok {
			t.Errorf("%s: no security requirement (use [] for a public operation)", key)
		}
		for _, req := range security {
			req, _ := req.(map[string]any)
			for name := range req {
				if _, ok := schemes[name]; !ok {
					t.Errorf("%s: security scheme %q is not declared", key, name)
				}
			}
		}
		checkPathParams(t, doc, key, op)
		checkResponses(t, doc, key, op)
	}
}

func checkPathParams(t *testing.T, doc map[string]any, key string, op map[string]any) {
	t.Helper()
	_, path, _ := strings.Cut(key, " ")
	var want []string
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		want = append(want, m[1])
	}
	var got []string
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		p := deref(t, doc, p)
		if p["in"] == "path" {
			name, _ := p["name"].(string)
			got = append(got, name)
			if p["required"] != true {
				t.Errorf("%s: path parameter %s is not required", key, name)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("%s: path parameters (-declared +in path):\n%s", key, diff)
	}
}

func checkResponses(t *testing.T, doc map[string]any, key string, op map[string]any) {
	t.Helper()
	responses, _ := op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Errorf("%s: no responses", key)
		return
	}
	success := false
	for status, r := range responses {
		r := deref(t, doc, r)
		content, _ := r["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		if strings.HasPrefix(status, "2") {
			if len(content) > 0 {
				success = true
			}
			continue
		}
		s, _ := media["schema"].(map[string]any)
		if s["$ref"] != "#/components/schemas/Error" {
			t.Errorf("%s: response %s does not use the Error schema", key, status)
		}
	}
	// A HEAD answer has no body, by HTTP's rules.
	if !success && !strings.HasPrefix(key, "HEAD ") {
		t.Errorf("%s: no 2xx response with content", key)
	}
}

// deref returns v, or what its $ref points to.
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	if r, ok := m["$ref"].(string); ok {
		target, err := resolve(doc, r)
		if err != nil {
			t.Fatalf("$ref %q: %v", r, err)
		}
		m, _ = target.(map[string]any)
	}
	return m
}

// The tests below hold the document to the code: the KPI lists, the query
// parameters parse accepts, the breakdown dimensions, the answers' shapes
// and the configuration's fields.

// TestKPIListsMatchEngine checks the KPI ids and the "Computed today"
// lists against kpi.Defined and kpi.Computed.
func TestKPIListsMatchEngine(t *testing.T) {
	doc := document(t)
	ids := schema(t, doc, "KPIId")
	var enum []string
	for _, e := range ids["enum"].([]any) {
		enum = append(enum, e.(string))
	}
	if diff := cmp.Diff(enum, kpi.Defined()); diff != "" {
		t.Errorf("KPIId enum differs from kpi.Defined() (-openapi.json +code):\n%s", diff)
	}
	computedToday := regexp.MustCompile("Computed today: ((?:`[a-z0-9_]+`(?:, )?)+)")
	for name, desc := range map[string]any{
		"schemas/KPIId":        ids["description"],
		"parameters/KPIIdPath": component(t, doc, "parameters", "KPIIdPath")["description"],
	} {
		m := computedToday.FindStringSubmatch(desc.(string))
		if m == nil {
			t.Errorf("%s: no \"Computed today: `…`\" list", name)
			continue
		}
		got := strings.Split(strings.ReplaceAll(m[1], "`", ""), ", ")
		if diff := cmp.Diff(got, kpi.Computed()); diff != "" {
			t.Errorf("%s: computed KPIs differ from kpi.Computed() (-openapi.json +code):\n%s", name, diff)
		}
	}
	var pending []string
	for _, id := range kpi.Defined() {
		if _, ok := kpi.Lookup(id); !ok {
			pending = append(pending, id)
		}
	}
	ex := operations(t, doc)["GET /v1/kpis"]["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["example"].(map[string]any)
	var got []string
	for _, p := range ex["pending"].([]any) {
		got = append(got, p.(string))
	}
	if diff := cmp.Diff(got, pending); diff != "" {
		t.Errorf("GET /v1/kpis example: pending differs from the KPIs not computed (-openapi.json +code):\n%s", diff)
	}
}

// TestQueryParametersMatchParse asks the query service, for every KPI,
// which query parameters it accepts, and checks that exactly those are
// documented; a parameter only some KPIs take must name them.
func TestQueryParametersMatchParse(t *testing.T) {
	doc := document(t)
	ops := operations(t, doc)
	svc := service(&partStore{cfg: kpi.DefaultConfig()})
	kpisOf := map[string][]string{"GET /v1/kpis": {""}, "GET /v1/kpis/{id}": kpi.Defined()}
	candidates := map[string]bool{"nope": true, "kpi": true, "id": true, "format": true, "limit": true, "flow": true, "change_date": true}
	documented := map[string]map[string]map[string]any{}
	for key := range kpisOf {
		op, ok := ops[key]
		if !ok {
			t.Fatalf("no operation %s", key)
		}
		documented[key] = map[string]map[string]any{}
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			p := deref(t, doc, p)
			if p["in"] == "query" {
				name := p["name"].(string)
				documented[key][name] = p
				candidates[name] = true
			}
		}
	}
	for _, id := range kpi.Computed() {
		def, _ := kpi.Lookup(id)
		for _, p := range def.Params {
			candidates[p] = true
		}
	}
	for key, ids := range kpisOf {
		for _, name := range slices.Sorted(maps.Keys(candidates)) {
			if name == "from" || name == "to" {
				if documented[key][name] == nil {
					t.Errorf("%s: %s is required but not documented", key, name)
				}
				continue
			}
			var takers []string
			for _, id := range ids {
				q := url.Values{"from": {"2026-10-01"}, "to": {"2026-10-31"}}
				q.Set(name, "x:y")
				if name == "interval" {
					q.Set(name, "week")
				}
				status, body := get(t, svc, kpiPath(id), q)
				if !(status == http.StatusBadRequest && strings.Contains(body, "unknown query parameter")) {
					takers = append(takers, id)
				}
			}
			p := documented[key][name]
			switch {
			case len(takers) > 0 && p == nil:
				t.Errorf("%s: parse accepts %q (for %v) but it is not documented", key, name, takers)
			case len(takers) == 0 && p != nil:
				t.Errorf("%s: %q is documented but parse answers 400 unknown query parameter for every KPI", key, name)
			case p != nil && len(takers) < len(ids):
				desc, _ := p["description"].(string)
				for _, id := range takers {
					if !strings.Contains(desc, "`"+id+"`") {
						t.Errorf("%s: %q is taken by %s only, which its description must name", key, name, id)
					}
				}
			}
		}
	}
}

// TestDimensionsDocumented checks the breakdown parameter's table of
// dimensions against each KPI's Breakdowns, Filters and Segments.
func TestDimensionsDocumented(t *testing.T) {
	doc := document(t)
	desc, _ := component(t, doc, "parameters", "Breakdown")["description"].(string)
	filter, _ := component(t, doc, "parameters", "Filter")["description"].(string)
	if !strings.Contains(filter, "dimensions listed for `breakdown`") {
		t.Errorf("Filter: the description no longer refers to breakdown's dimensions; check the test")
	}
	for _, id := range kpi.Computed() {
		def, _ := kpi.Lookup(id)
		rows := tableRows(desc, id)
		if !slices.Equal(def.Breakdowns, def.Filters) {
			// The Filter parameter says a KPI takes the dimensions listed
			// for breakdown: it must name the exceptions, and their row
			// the dimensions that are filters only.
			only := slices.Concat(
				slices.DeleteFunc(slices.Clone(def.Filters), func(d string) bool { return slices.Contains(def.Breakdowns, d) }),
				slices.DeleteFunc(slices.Clone(def.Breakdowns), func(d string) bool { return slices.Contains(def.Filters, d) }))
			if !strings.Contains(filter, "`"+id+"`") {
				t.Errorf("%s: breakdowns %v and filters %v differ, but the Filter parameter does not name it as an exception", id, def.Breakdowns, def.Filters)
			}
			for _, dim := range only {
				if !strings.Contains(filter, "`"+dim+"`") {
					t.Errorf("%s: the Filter parameter does not name %s, which it takes as a breakdown or a filter only", id, dim)
				}
			}
			if len(rows) == 1 && !strings.Contains(rows[0], " only") {
				t.Errorf("Breakdown: %s's row does not say which dimensions are a breakdown or a filter only: %q", id, rows[0])
			}
		}
		if len(def.Breakdowns) == 0 && len(def.Filters) == 0 && !def.Segments {
			if len(rows) > 0 {
				t.Errorf("Breakdown: %s takes no dimension but is listed: %q", id, rows)
			}
			continue
		}
		if len(rows) != 1 {
			t.Errorf("Breakdown: %s is in %d rows of the dimension table, want 1", id, len(rows))
			continue
		}
		for _, dim := range slices.Compact(slices.Sorted(slices.Values(slices.Concat(def.Breakdowns, def.Filters)))) {
			if !strings.Contains(rows[0], "`"+dim+"`") {
				t.Errorf("Breakdown: %s's row does not name its dimension %s: %q", id, dim, rows[0])
			}
		}
		if got := strings.Contains(rows[0], "trait"); got != def.Segments {
			t.Errorf("Breakdown: %s's row mentions traits = %v, but Segments = %v", id, got, def.Segments)
		}
	}
}

// tableRows returns the rows of the Markdown tables in desc whose first
// cell names `id`.
func tableRows(desc, id string) []string {
	var out []string
	for line := range strings.SplitSeq(desc, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 2 && strings.HasPrefix(line, "|") && strings.Contains(cells[1], "`"+id+"`") {
			out = append(out, line)
		}
	}
	return out
}

// structured are the KPIs whose details have a named schema, with the
// schema of their breakdown rows' details when they have one.
var structured = map[string][2]string{
	"onboarding_funnel":   {"OnboardingFunnelDetails"},
	"retention_cohorts":   {"RetentionCohortsDetails"},
	"dropoff_paths":       {"DropoffPathsDetails"},
	"training_progress":   {"TrainingProgressDetails", "TrainingCourseDetails"},
	"detractor_followups": {"DetractorFollowupsDetails"},
}

// shaped are the KPIs whose details have a named schema whose entries
// depend on the answer: the details are validated against it.
var shaped = map[string]string{
	"roi_projection":        "ROIProjectionDetails",
	"renewal_by_onboarding": "RenewalByOnboardingDetails",
	"flow_comparison":       "FlowComparisonDetails",
	"health_score":          "HealthScoreDetails",
}

// roiInputs are roi_projection's inputs of the seed example.
var roiInputs = url.Values{"new_customers": {"1000"}, "completion_now": {"60"}, "completion_target": {"85"},
	"renewal_completed": {"90"}, "renewal_not_completed": {"60"}, "contract_value": {"5000"}}

// TestAnswersMatchSchemas queries every computed KPI, plain and with each
// of its parameters and dimensions, over parts that exercise them, and
// checks each answer against Answer, its details against the Details
// table and the structured details' schemas, and its CSV header.
func TestAnswersMatchSchemas(t *testing.T) {
	doc := document(t)
	svc := service(fixture())
	answer, overview := schema(t, doc, "Answer"), schema(t, doc, "Overview")
	detailsDoc, _ := schema(t, doc, "Details")["description"].(string)
	csvDesc := operations(t, doc)["GET /v1/kpis/{id}"]["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["text/csv"].(map[string]any)["schema"].(map[string]any)["description"].(string)
	header := regexp.MustCompile("`(kpi,period,[a-z,]+),<").FindStringSubmatch(csvDesc)
	if header == nil {
		t.Fatalf("text/csv schema: no `kpi,period,…,<scalar details…>` header in %q", csvDesc)
	}
	base := url.Values{"from": {"2026-10-05"}, "to": {"2026-10-18"}}
	seen := map[string]bool{}
	entries := map[string]bool{}
	for _, id := range kpi.Computed() {
		def, _ := kpi.Lookup(id)
		variants := []url.Values{{}, {"interval": {"week"}}}
		for _, dim := range def.Breakdowns {
			variants = append(variants, url.Values{"breakdown": {dim}})
		}
		for _, dim := range def.Filters {
			variants = append(variants, url.Values{"filter": {dim + ":organic"}})
		}
		if def.Segments {
			variants = append(variants, url.Values{"breakdown": {"plan"}}, url.Values{"filter": {"plan:pro", "region:EMEA"}, "interval": {"day"}})
		}
		for _, p := range def.Params {
			if p == "feature" {
				variants = append(variants, url.Values{"feature": {"Search"}})
			}
			if p == "interval" {
				variants = append(variants, url.Values{"interval": {"day"}}, url.Values{"interval": {"month"}})
			}
			if p == kpi.ParamNewCustomers {
				all, observed := maps.Clone(roiInputs), maps.Clone(roiInputs)
				all.Set("interval", "week")
				observed.Del(kpi.ParamCompletionNow)
				renewals := maps.Clone(roiInputs)
				renewals.Del(kpi.ParamRenewalCompleted)
				renewals.Del(kpi.ParamRenewalNot)
				variants = append(variants, roiInputs, all, observed, renewals)
			}
			if p == kpi.ParamChangeDate {
				variants = append(variants, url.Values{"change_date": {"2026-10-12"}, "interval": {"week"}})
			}
			if p == kpi.ParamFlow {
				variants = append(variants, url.Values{"flow": {"onboarding"}, "change_date": {"2026-10-12"}})
			}
			if p == kpi.ParamSavingMinutes {
				impact := url.Values{"saving_minutes": {"30"}, "hourly_wage": {"60"}, "change_date": {"2026-10-12"}}
				noChange := url.Values{"saving_minutes": {"30"}, "hourly_wage": {"60"}, "attribution_pct": {"50"}}
				variants = append(variants, impact, noChange)
			}
		}
		rows := tableRows(detailsDoc, id)
		if len(rows) != 1 {
			t.Errorf("Details: %s is in %d rows of the table, want 1", id, len(rows))
			rows = append(rows, "")
		}
		for _, v := range variants {
			q := maps.Clone(base)
			maps.Copy(q, v)
			what := id + "?" + v.Encode()
			status, body := get(t, svc, kpiPath(id), q)
			if status != http.StatusOK {
				t.Errorf("%s: %d %s", what, status, body)
				continue
			}
			var a map[string]any
			if err := json.Unmarshal([]byte(body), &a); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			for _, e := range validate(doc, answer, a, what) {
				t.Error(e)
			}
			all := []any{a["details"]}
			series, _ := a["series"].([]any)
			for _, p := range series {
				all = append(all, p.(map[string]any)["details"])
			}
			breakdown, _ := a["breakdown"].([]any)
			for _, r := range breakdown {
				// Rows with a schema of their own are checked against it.
				if d, ok := r.(map[string]any)["details"]; ok && structured[id][1] == "" {
					all = append(all, d)
				}
			}
			for i, d := range all {
				details, _ := d.(map[string]any)
				for k := range details {
					entries[id+"."+k] = true
					if !strings.Contains(rows[0], "`"+k+"`") {
						t.Errorf("%s: details entry %q (#%d) is not in the Details table", what, k, i)
					}
				}
				if name, ok := shaped[id]; ok {
					for _, e := range validate(doc, schema(t, doc, name), d, fmt.Sprintf("%s details #%d", what, i)) {
						t.Error(e)
					}
					for k, v := range details {
						if l, ok := v.([]any); ok && len(l) > 0 {
							seen[id+"."+k] = true
						}
					}
					if in, ok := details["inputs"].(map[string]any); ok {
						src, _ := in["renewal_source"].(map[string]any)
						for _, v := range src {
							seen[id+".renewal_source."+v.(string)] = true
						}
					}
				}
			}
			if s, ok := structured[id]; ok {
				checkStructured(t, doc, what, s, a, seen)
			}
			status, csv := get(t, svc, kpiPath(id)+".csv", q)
			if status != http.StatusOK || !strings.HasPrefix(csv, header[1]) {
				t.Errorf("%s.csv: %d, header %.80q, want it to start %q", what, status, csv, header[1])
			}
		}
	}
	for _, want := range []string{"onboarding_funnel.steps", "retention_cohorts.cohorts", "dropoff_paths.stopped", "dropoff_paths.next", "training_progress.breakdown", "detractor_followups.items",
		"health_score.accounts", "health_score.at_risk", "roi_projection.renewal_source.observed_renewal_by_onboarding"} {
		if !seen[want] {
			t.Errorf("the fixture never filled %s: the check of its schema is void", want)
		}
	}
	for _, want := range []string{"first_response_time.business_median_minutes", "resolution_time.business_mean_hours",
		"escalation_response_time.business_mean_minutes", "repeat_contact_rate.repeat_requesters", "roi_projection.retained_revenue", "roi_projection.missing",
		"churn_rate.revenue_churn_pct", "customer_retention_rate.N", "flow_comparison.completion_change_pp",
		"guidance_impact.time_saved_value", "guidance_impact.median_completion_hours_after"} {
		if !entries[want] {
			t.Errorf("the fixture never gave %s: the check of the Details table is void", want)
		}
	}
	status, body := get(t, svc, "/v1/kpis", base)
	var o map[string]any
	if err := json.Unmarshal([]byte(body), &o); err != nil || status != http.StatusOK {
		t.Fatalf("GET /v1/kpis: %d %s", status, body)
	}
	for _, e := range validate(doc, overview, o, "overview") {
		t.Error(e)
	}
}

// checkStructured checks a structured KPI's details (and its series' and
// rows') against their named schemas, whose properties must be exactly the
// details' entries.
func checkStructured(t *testing.T, doc map[string]any, what string, names [2]string, a map[string]any, seen map[string]bool) {
	t.Helper()
	id := a["kpi"].(string)
	s := schema(t, doc, names[0])
	props := slices.Sorted(maps.Keys(s["properties"].(map[string]any)))
	all := []any{a["details"]}
	series, _ := a["series"].([]any)
	for _, p := range series {
		all = append(all, p.(map[string]any)["details"])
	}
	for i, d := range all {
		d := d.(map[string]any)
		if diff := cmp.Diff(props, slices.Sorted(maps.Keys(d))); diff != "" {
			t.Errorf("%s: %s properties differ from the details' entries (-schema +answer):\n%s", what, names[0], diff)
		}
		for _, e := range validate(doc, s, d, fmt.Sprintf("%s details #%d", what, i)) {
			t.Error(e)
		}
		for k, v := range d {
			if l, ok := v.([]any); ok && len(l) > 0 {
				seen[id+"."+k] = true
				if id == "dropoff_paths" {
					for _, st := range l {
						if n, _ := st.(map[string]any)["next"].([]any); len(n) > 0 {
							seen[id+".next"] = true
						}
					}
				}
			}
		}
	}
	rows, _ := a["breakdown"].([]any)
	if names[1] == "" || a["breakdown"] == nil {
		return
	}
	rs := schema(t, doc, names[1])
	for i, r := range rows {
		d, ok := r.(map[string]any)["details"]
		if !ok {
			continue
		}
		seen[id+".breakdown"] = true
		for _, e := range validate(doc, rs, d, fmt.Sprintf("%s breakdown[%d].details", what, i)) {
			t.Error(e)
		}
	}
}

// TestROIExampleIsComputed computes roi_projection with the inputs of the
// documented example and checks that the answer is the example.
func TestROIExampleIsComputed(t *testing.T) {
	doc := document(t)
	examples := operations(t, doc)["GET /v1/kpis/{id}"]["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["examples"].(map[string]any)
	ex, ok := examples["roi_projection"].(map[string]any)
	if !ok {
		t.Fatal("GET /v1/kpis/{id}: no roi_projection example")
	}
	want := maps.Clone(ex["value"].(map[string]any))
	inputs, _ := want["details"].(map[string]any)["inputs"].(map[string]any)
	q := url.Values{"from": {want["from"].(string)}, "to": {want["to"].(string)}}
	for k := range roiInputs {
		x, ok := inputs[k].(float64)
		if !ok {
			t.Fatalf("roi_projection example: details.inputs.%s is not a number", k)
		}
		q.Set(k, strconv.FormatFloat(x, 'g', -1, 64))
	}
	status, body := get(t, service(&partStore{cfg: kpi.DefaultConfig()}), kpiPath("roi_projection"), q)
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != http.StatusOK {
		t.Fatalf("roi_projection?%s: %d %s", q.Encode(), status, body)
	}
	delete(got, "complete") // depends on the aggregation, not on the model
	delete(want, "complete")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("roi_projection example differs from the computed answer (-openapi.json +code):\n%s", diff)
	}
}

// TestExamplesMatchSchemas validates every example of the document
// against its schema: request and response bodies, parameters, and the
// examples of component schemas.
func TestExamplesMatchSchemas(t *testing.T) {
	doc := document(t)
	n := 0
	check := func(where string, holder map[string]any, s any) {
		if ex, ok := holder["example"]; ok {
			n++
			for _, e := range validate(doc, s, ex, where+" example") {
				t.Error(e)
			}
		}
		exs, _ := holder["examples"].(map[string]any)
		for name, ex := range exs {
			ex := deref(t, doc, ex)
			n++
			for _, e := range validate(doc, s, ex["value"], where+" examples."+name) {
				t.Error(e)
			}
		}
	}
	media := func(where string, content any) {
		c, _ := content.(map[string]any)
		for mt, m := range c {
			m, _ := m.(map[string]any)
			check(where+" "+mt, m, m["schema"])
		}
	}
	for key, op := range operations(t, doc) {
		if rb, ok := op["requestBody"]; ok {
			media(key+" request", deref(t, doc, rb)["content"])
		}
		responses, _ := op["responses"].(map[string]any)
		for status, r := range responses {
			media(key+" "+status, deref(t, doc, r)["content"])
		}
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			p := deref(t, doc, p)
			check(fmt.Sprintf("%s parameter %v", key, p["name"]), p, p["schema"])
		}
	}
	for name, s := range component(t, doc, "schemas", "") {
		s, _ := s.(map[string]any)
		if ex, ok := s["example"]; ok {
			n++
			for _, e := range validate(doc, s, ex, "schema "+name+" example") {
				t.Error(e)
			}
		}
		exs, _ := s["examples"].([]any)
		for i, ex := range exs {
			n++
			for _, e := range validate(doc, s, ex, fmt.Sprintf("schema %s examples[%d]", name, i)) {
				t.Error(e)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d examples found; the walk is broken", n)
	}
}

// TestDescriptionRefsResolve checks that the JSON pointers descriptions
// mention (`#/components/schemas/…`) resolve.
func TestDescriptionRefsResolve(t *testing.T) {
	doc := document(t)
	ptr := regexp.MustCompile(`#/components/[A-Za-z0-9_./~-]+[A-Za-z0-9_]`)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if d, ok := x["description"].(string); ok {
				for _, r := range ptr.FindAllString(d, -1) {
					if _, err := resolve(doc, r); err != nil {
						t.Errorf("description mentions %s: %v", r, err)
					}
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
}

// TestSchemasMatchTypes checks the schemas of the answers and of the
// configuration against the Go types the API encodes: the same JSON names,
// and required exactly when not omitempty.
func TestSchemasMatchTypes(t *testing.T) {
	doc := document(t)
	for name, v := range map[string]any{
		"Answer": query.Answer{}, "Point": query.Point{}, "Headline": query.Headline{}, "Overview": query.Overview{},
		"BreakdownRow": kpi.Row{}, "FunnelStep": kpi.FunnelStep{}, "CohortRow": kpi.CohortRow{}, "FollowUp": kpi.FollowUp{},
		"Ticket": webhook.Ticket{}, "AccountHealth": kpi.AccountHealth{}, "HealthWeights": kpi.HealthWeights{},
		"ErasureReceipt": erase.Receipt{}, "ErasedState": erase.Erased{},
	} {
		s := schema(t, doc, name)
		names, required := jsonFields(reflect.TypeOf(v))
		if diff := cmp.Diff(slices.Sorted(maps.Keys(s["properties"].(map[string]any))), names); diff != "" {
			t.Errorf("%s: properties differ from %T's fields (-schema +Go):\n%s", name, v, diff)
		}
		if diff := cmp.Diff(sortedStrings(s["required"]), required); diff != "" {
			t.Errorf("%s: required differs from %T's fields without omitempty (-schema +Go):\n%s", name, v, diff)
		}
	}
	// The configuration: every field of kpi.Config, with its default,
	// and all of them in the stored configuration.
	in := schema(t, doc, "KPIConfigInput")
	props := in["properties"].(map[string]any)
	names, _ := jsonFields(reflect.TypeOf(kpi.Config{}))
	if diff := cmp.Diff(slices.Sorted(maps.Keys(props)), names); diff != "" {
		t.Errorf("KPIConfigInput: properties differ from kpi.Config's fields (-schema +Go):\n%s", diff)
	}
	var defaults map[string]any
	b, _ := json.Marshal(kpi.DefaultConfig())
	if err := json.Unmarshal(b, &defaults); err != nil {
		t.Fatal(err)
	}
	for k, want := range defaults {
		p, _ := props[k].(map[string]any)
		if got, ok := p["default"]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("KPIConfigInput.%s: default %v, want %v (kpi.DefaultConfig)", k, got, want)
		}
	}
	stored := schema(t, doc, "KPIConfig")
	for _, e := range validate(doc, stored, defaults, "kpi.DefaultConfig()") {
		t.Error(e)
	}
	var req []string
	for _, part := range stored["allOf"].([]any) {
		req = append(req, sortedStrings(part.(map[string]any)["required"])...)
	}
	if diff := cmp.Diff(sortedStrings(req), names); diff != "" {
		t.Errorf("KPIConfig: required differs from kpi.Config's fields (-schema +Go):\n%s", diff)
	}
}

// jsonFields returns the JSON names of a struct's fields, sorted, and
// those without omitempty.
func jsonFields(typ reflect.Type) (names, required []string) {
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			required = append(required, name)
		}
	}
	slices.Sort(names)
	slices.Sort(required)
	return names, required
}

func sortedStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, s := range x {
			out = append(out, s.(string))
		}
	case []string:
		out = slices.Clone(x)
	}
	slices.Sort(out)
	return out
}

// component returns a component by kind and name, or all of a kind's
// components when name is empty.
func component(t *testing.T, doc map[string]any, kind, name string) map[string]any {
	t.Helper()
	components, _ := doc["components"].(map[string]any)
	all, _ := components[kind].(map[string]any)
	if name == "" {
		return all
	}
	c, ok := all[name].(map[string]any)
	if !ok {
		t.Fatalf("no components.%s.%s", kind, name)
	}
	return c
}

func schema(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	return component(t, doc, "schemas", name)
}

// annotations are the schema keywords that do not constrain a value.
var annotations = map[string]bool{"description": true, "title": true, "default": true, "example": true, "examples": true,
	"format": true, "deprecated": true, "readOnly": true, "writeOnly": true, "$comment": true}

// validate checks v, decoded JSON, against schema s: the subset of JSON
// Schema 2020-12 that the document uses. A keyword outside that subset is
// reported, so that a schema never passes unchecked.
func validate(doc map[string]any, s any, v any, at string) []string {
	m, ok := s.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: schema %v is not an object", at, s)}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k, kw := range m {
		switch k {
		case "$ref":
			target, err := resolve(doc, kw.(string))
			if err != nil {
				fail("$ref %v: %v", kw, err)
				continue
			}
			errs = append(errs, validate(doc, target, v, at)...)
		case "allOf":
			for _, sub := range kw.([]any) {
				errs = append(errs, validate(doc, sub, v, at)...)
			}
		case "anyOf":
			if !slices.ContainsFunc(kw.([]any), func(sub any) bool { return len(validate(doc, sub, v, at)) == 0 }) {
				fail("matches none of anyOf")
			}
		case "if":
			branch := "then"
			if len(validate(doc, kw, v, at)) > 0 {
				branch = "else"
			}
			if sub, ok := m[branch]; ok {
				errs = append(errs, validate(doc, sub, v, at)...)
			}
		case "then", "else":
		case "type":
			if !hasType(kw, v) {
				fail("%.60v is not of type %v", v, kw)
			}
		case "enum":
			if !slices.ContainsFunc(kw.([]any), func(e any) bool { return reflect.DeepEqual(e, v) }) {
				fail("%.60v is not one of %v", v, kw)
			}
		case "const":
			if !reflect.DeepEqual(kw, v) {
				fail("%.60v is not %v", v, kw)
			}
		case "required":
			if o, ok := v.(map[string]any); ok {
				for _, r := range kw.([]any) {
					if _, ok := o[r.(string)]; !ok {
						fail("no %q", r)
					}
				}
			}
		case "properties", "additionalProperties":
			o, ok := v.(map[string]any)
			if !ok || k == "additionalProperties" {
				continue
			}
			props := kw.(map[string]any)
			for name, val := range o {
				switch ps, declared := props[name]; {
				case declared:
					errs = append(errs, validate(doc, ps, val, at+"."+name)...)
				case m["additionalProperties"] == false:
					fail("unexpected property %q", name)
				case m["additionalProperties"] != nil && m["additionalProperties"] != true:
					errs = append(errs, validate(doc, m["additionalProperties"], val, at+"."+name)...)
				}
			}
		case "items":
			if l, ok := v.([]any); ok {
				for i, e := range l {
					errs = append(errs, validate(doc, kw, e, fmt.Sprintf("%s[%d]", at, i))...)
				}
			}
		case "minItems", "maxItems":
			if l, ok := v.([]any); ok && !within(k, float64(len(l)), kw) {
				fail("%d items, %s is %v", len(l), k, kw)
			}
		case "minLength", "maxLength":
			if str, ok := v.(string); ok && !within(k, float64(utf8.RuneCountInString(str)), kw) {
				fail("%q: %s is %v", str, k, kw)
			}
		case "minimum", "maximum":
			if x, ok := v.(float64); ok && !within(k, x, kw) {
				fail("%v: %s is %v", x, k, kw)
			}
		case "pattern":
			if str, ok := v.(string); ok && !regexp.MustCompile(kw.(string)).MatchString(str) {
				fail("%q does not match %v", str, kw)
			}
		default:
			if !annotations[k] {
				fail("keyword %q is not supported by this test's validator", k)
			}
		}
	}
	// additionalProperties without properties.
	if o, ok := v.(map[string]any); ok && m["properties"] == nil {
		if ap, ok := m["additionalProperties"].(map[string]any); ok {
			for name, val := range o {
				errs = append(errs, validate(doc, ap, val, at+"."+name)...)
			}
		} else if m["additionalProperties"] == false && len(o) > 0 {
			fail("no property is allowed")
		}
	}
	return errs
}

func within(keyword string, x float64, bound any) bool {
	b, _ := bound.(float64)
	if strings.HasPrefix(keyword, "min") {
		return x >= b
	}
	return x <= b
}

func hasType(t any, v any) bool {
	var types []any
	switch x := t.(type) {
	case string:
		types = []any{x}
	case []any:
		types = x
	}
	for _, typ := range types {
		switch x := v.(type) {
		case nil:
			if typ == "null" {
				return true
			}
		case bool:
			if typ == "boolean" {
				return true
			}
		case string:
			if typ == "string" {
				return true
			}
		case float64:
			if typ == "number" || (typ == "integer" && x == math.Trunc(x)) {
				return true
			}
		case []any:
			if typ == "array" {
				return true
			}
		case map[string]any:
			if typ == "object" {
				return true
			}
		}
	}
	return false
}

// readKey makes every key the read key of tenant t.
type readKey struct{}

func (readKey) LookupKey(context.Context, string) (string, tenant.Kind, bool, error) {
	return "t", tenant.Read, true, nil
}

// partStore is an in-memory query.Store over fixed parts.
type partStore struct {
	cfg   kpi.Config
	parts []kpi.Part
}

func (s *partStore) Config(context.Context, string) (kpi.Config, error) { return s.cfg, nil }

func (s *partStore) Parts(_ context.Context, _ string, from, to kpi.Day) ([]kpi.Part, error) {
	var out []kpi.Part
	for _, p := range s.parts {
		if !p.Day.Before(from) && !p.Day.After(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *partStore) DayParts(ctx context.Context, tenantID string, from, to kpi.Day, _ kpi.Fields) ([]kpi.Part, error) {
	return s.Parts(ctx, tenantID, from, to)
}

func (s *partStore) PartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, _ []string) ([]kpi.Part, error) {
	return s.Parts(ctx, tenantID, from, to)
}

// MonthParts and MonthPartsOnly: no month merged, so queries read days.
func (s *partStore) MonthParts(context.Context, string, kpi.Day, kpi.Day, kpi.Fields) ([]kpi.Part, error) {
	return nil, nil
}

func (s *partStore) MonthPartsOnly(context.Context, string, kpi.Day, kpi.Day, []string) ([]kpi.Part, error) {
	return nil, nil
}

func (s *partStore) DirtyDays(context.Context, string, kpi.Day, kpi.Day) ([]kpi.Dirty, error) {
	return nil, nil
}

func service(st query.Store) *query.Service {
	return &query.Service{Store: st, Auth: tenant.Authenticator{Keys: readKey{}}, Log: slog.New(slog.DiscardHandler)}
}

func kpiPath(id string) string {
	if id == "" {
		return "/v1/kpis"
	}
	return "/v1/kpis/" + id
}

// get sends a GET with the read key as API Gateway would, and returns the
// status and body.
func get(t *testing.T, svc *query.Service, path string, q url.Values) (int, string) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{RawPath: path, RawQueryString: q.Encode(), Headers: map[string]string{"authorization": "Bearer k"}}
	if id, ok := strings.CutPrefix(path, "/v1/kpis/"); ok {
		req.PathParameters = map[string]string{"id": id}
	}
	resp, err := svc.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("GET %s?%s: %v", path, req.RawQueryString, err)
	}
	return resp.StatusCode, resp.Body
}

// fixture is three weeks of parts from Monday 2026-10-05 with something
// for every computed KPI: active users with a plan, sessions by
// dimension, visitors converting, features, NPS answers, two signups a
// day for two weeks going through three onboarding steps, courses, a
// support ticket a day under business hours, guide plays, and customer
// accounts with orders, a cancellation, renewals due and trials (plus the
// accounts 30 days before the range's end, for the health score's change).
func fixture() *partStore {
	cfg := kpi.DefaultConfig()
	cfg.OnboardingSteps = []string{"Profile Completed", "Project Created", "Teammate Invited"}
	nine := [2]string{"09:00", "17:00"}
	cfg.BusinessHours = &kpi.BusinessHours{TimeZone: "UTC", Holidays: []string{"2026-10-12"},
		Week: map[string][2]string{"mon": nine, "tue": nine, "wed": nine, "thu": nine, "fri": nine}}
	first := kpi.NewDay(2026, 10, 5)
	ords := kpi.Ordinals{}
	ord := func(id string) string {
		if _, ok := ords[id]; !ok {
			ords[id] = uint32(len(ords))
		}
		return id
	}
	st := &partStore{cfg: cfg}
	acme, globex, hooli := ord("@group:acme"), ord("@group:globex"), ord("@group:hooli")
	ord("@group:initech")
	account := func(id string, acv float64, since kpi.Day, onboarded bool) kpi.AccountState {
		return kpi.AccountState{Ordinal: ords["@group:"+id], ID: id, ACV: acv, Since: since.Start(time.UTC), Onboarded: onboarded}
	}
	st.parts = append(st.parts, kpi.BuildPart(cfg, kpi.Facts{Day: first.AddDays(-17)}, ords, kpi.DayState{Subscription: kpi.SubscriptionDay{
		Customers: []kpi.AccountState{account("acme", 5000, first.AddDays(10-365), true),
			account("globex", 1000, first.AddDays(-100), false), account("hooli", 3000, first.AddDays(12-365), false)}}}))
	for i := range 21 {
		d := first.AddDays(i)
		at := func(days int, hours float64) time.Time {
			return d.AddDays(days).Start(time.UTC).Add(time.Duration(hours * float64(time.Hour)))
		}
		stats := func(n int) kpi.SessionStats {
			return kpi.SessionStats{Sessions: n, Pages: 2 * n, Seconds: 150 * float64(n)}
		}
		vx, vy := ord(fmt.Sprintf("v%dx", i)), ord(fmt.Sprintf("v%dy", i))
		f := kpi.Facts{Day: d, PageVisitors: []string{vx, vy}, ConvertedVisitors: []string{vx}, ConversionEvents: 1,
			Sessions: 4, SessionPages: 8, SessionSeconds: 600, Features: map[string][]string{},
			SessionsBy: map[string]map[string]kpi.SessionStats{
				kpi.DimSource:      {"organic": stats(3), "direct": stats(1)},
				kpi.DimDevice:      {"desktop": stats(2), "mobile": stats(2)},
				kpi.DimContentType: {"(none)": stats(4)},
				kpi.DimLandingPage: {"/": stats(3), "/pricing": stats(1)},
			},
			FirstSession: map[string]map[string][]string{kpi.DimSource: {"organic": {vx}, "direct": {vy}}, kpi.DimLandingPage: {"/": {vx, vy}}},
		}
		ds := kpi.DayState{Segments: map[string]map[string][]string{"plan": {}, "region": {"EMEA": {}}}, Cohort: map[string]kpi.Identity{},
			Counted: []kpi.Response{{Type: "nps", Score: 10}, {Type: "nps", Score: 8}, {Type: "nps", Score: 3}}}
		active := func(u string, plan string) {
			f.ActiveUsers = append(f.ActiveUsers, u)
			ds.Segments["plan"][plan] = append(ds.Segments["plan"][plan], u)
			ds.Segments["region"]["EMEA"] = append(ds.Segments["region"]["EMEA"], u)
			feature := []string{"Report Exported", "Search", ""}[len(f.ActiveUsers)%3]
			if feature != "" {
				f.Features[feature] = append(f.Features[feature], u)
			}
		}
		for u := range 6 {
			if (u+i)%4 != 3 {
				active(ord(fmt.Sprintf("u%d", u)), []string{"free", "pro"}[u%2])
			}
		}
		for j := range min(i+1, 14) {
			for _, s := range []string{"a", "b"} {
				if (i-j)%3 != 2 {
					active(ord(fmt.Sprintf("s%d%s", j, s)), "free")
				}
			}
		}
		if i < 14 {
			for _, s := range []string{"a", "b"} {
				u := ord(fmt.Sprintf("s%d%s", i, s))
				firsts := map[kpi.Milestone]kpi.First{kpi.SignedUp: {At: at(0, 9), Day: d}, kpi.StepMilestone(1): {At: at(0, 10), Day: d}}
				if s == "a" {
					firsts[kpi.StepMilestone(2)] = kpi.First{At: at(1, 8), Day: d.AddDays(1)}
					ds.Next = append(ds.Next, kpi.NextStep{User: u, Step: 2, Label: "Dashboard Viewed"})
					if i%2 == 0 {
						firsts[kpi.StepMilestone(3)] = kpi.First{At: at(2, 8), Day: d.AddDays(2)}
						firsts[kpi.Onboarded] = firsts[kpi.StepMilestone(3)]
					}
				} else {
					firsts[kpi.FirstValue] = kpi.First{At: at(0, 15), Day: d}
					ds.Next = append(ds.Next, kpi.NextStep{User: u, Step: 1, Label: "page:/pricing"})
				}
				ds.Cohort[u] = kpi.Identity{Ordinal: ords[u], Firsts: firsts}
				ds.NewUserIDs = append(ds.NewUserIDs, u)
			}
			ds.NewUsers, ds.NewKnown = 2, 2
		}
		if i%3 == 0 {
			for _, course := range []string{"Basics", "Advanced"} {
				firsts := map[kpi.Milestone]kpi.First{kpi.TrainingStarted(course): {At: at(0, 9), Day: d}}
				if course == "Basics" {
					firsts[kpi.TrainingCompleted(course)] = kpi.First{At: at(0, 11), Day: d}
				}
				ds.Started = append(ds.Started, kpi.Started{User: "u0", Course: course, Identity: kpi.Identity{Ordinal: ords["u0"], Firsts: firsts}})
			}
		}
		created := at(0, 10)
		tk := kpi.Ticket{ID: fmt.Sprintf("T%d", i), Status: "open", Channel: []string{"email", "chat"}[i%2],
			Priority: []string{"normal", "urgent", "", "high"}[i%4], Tags: [][]string{nil, {"billing"}, {"billing", "escalated"}}[i%3],
			Requester: []string{"r0", "r1", "r2", "r3", "r4", ""}[i%6], Created: created, Updated: created.Add(30 * time.Hour)}
		if i%4 != 3 {
			answered := created.Add(time.Duration(15*(i%5+1)) * time.Minute)
			tk.FirstResponse = &answered
		}
		if i%2 == 0 {
			solved := created.Add(time.Duration(i%7+1) * 3 * time.Hour)
			tk.Status, tk.Resolved = "solved", &solved
		}
		hooliOrd := ords[hooli]
		tk.AccountOrd = &hooliOrd
		ds.Tickets = []kpi.Ticket{tk}
		// Accounts: acme (onboarded) is due on day 10 and renews; globex
		// cancels on day 9; hooli is due on day 12 and does not renew, and
		// has the open urgent tickets; initech starts on day 7.
		f.GuidePlays = 1 + i%3
		sub := &ds.Subscription
		acmeSince := first.AddDays(10 - 365)
		if i >= 10 {
			acmeSince = first.AddDays(10)
		}
		sub.Customers = append(sub.Customers, account("acme", 5000, acmeSince, true), account("hooli", 3000, first.AddDays(12-365), false))
		ds.ActiveAccounts = []uint32{ords[acme]}
		if i < 9 {
			sub.Customers = append(sub.Customers, account("globex", 1000, first.AddDays(-100), false))
			if i%2 == 0 {
				ds.ActiveAccounts = append(ds.ActiveAccounts, ords[globex])
			}
		}
		if i >= 7 {
			sub.Customers = append(sub.Customers, account("initech", 2000, first.AddDays(7), false))
		}
		switch i {
		case 1:
			sub.Trials = []kpi.Trial{{Start: at(0, 9), Paid: at(3, 9)}}
		case 2:
			sub.Trials = []kpi.Trial{{Start: at(0, 9)}}
		case 3, 5:
			sub.Orders = []kpi.OrderRecord{{Ordinal: ords[acme], Revenue: float64(50 * i)}}
		case 6:
			sub.Orders = []kpi.OrderRecord{{Ordinal: ords[globex], Revenue: 30}}
		case 9:
			sub.Cancelled = []uint32{ords[globex]}
		case 10:
			sub.Renewed = []uint32{ords[acme]}
		}
		st.parts = append(st.parts, kpi.BuildPart(cfg, f, ords, ds))
	}
	return st
}
