package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/rawstore"
)

// full reports whether the full sweeps run (UPTAKE_CHAOS=1).
func full() bool { return os.Getenv("UPTAKE_CHAOS") == "1" }

// clock is a stack's clock: it starts at clockBase and every reading is a
// microsecond later than the one before, so that an event ingested while
// a run is in progress is marked after the run started, as on a real
// clock, and nothing is timed.
type clock struct{ n atomic.Int64 }

func (c *clock) Now() time.Time {
	return clockBase.Add(time.Duration(c.n.Add(1)) * time.Microsecond)
}

// env is the test's servers: one DynamoDB Local, one S3 server.
type env struct {
	dynamoDB, s3 string
	db           *dynamodb.Client
}

func newEnv(t *testing.T) *env {
	ddb := localstacktest.DynamoDBEndpoint(t)
	return &env{dynamoDB: ddb, s3: localstacktest.S3Endpoint(t), db: localstack.NewDynamoDBClient(ddb)}
}

// stack is a local stack (the `make dev` assembly) on its own table, with
// the demo tenant.
type stack struct {
	env    *env
	table  string
	bucket string
	clock  *clock
	ds     *devstack.Stack
	url    string
	// packDays makes the aggregation store the day parts over 2 KB packed
	// over several items, as only parts over the item limit are.
	packDays bool
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newStack starts a stack on a fresh table; bucket "" is a fresh bucket.
// With from set, the new table starts as a copy of from's (and shares its
// bucket): the state of a stack taken at one instant.
func newStack(t *testing.T, e *env, from *stack) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{env: e, table: localstacktest.UniqueName("chaos"), bucket: localstacktest.UniqueName("chaos"), clock: &clock{}}
	if from != nil {
		s.bucket = from.bucket
		s.clock.n.Store(from.clock.n.Load())
	}
	ds, err := devstack.New(ctx, devstack.Options{DynamoDBEndpoint: e.dynamoDB, S3Endpoint: e.s3, Table: s.table, Bucket: s.bucket,
		Now: s.clock.Now, Log: quiet, SecretsKey: "chaos-suite-secrets-key"})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	s.ds = ds
	if from != nil {
		copyTable(t, e.db, from.table, s.table)
	} else {
		if err := ds.Provision(ctx, devstack.Demo()); err != nil {
			t.Fatalf("provision: %v", err)
		}
		if err := ds.App.Store.PutConfig(ctx, tenantID, tenantConfig()); err != nil {
			t.Fatalf("put config: %v", err)
		}
	}
	srv := httptest.NewServer(ds.Router)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// copyTable copies every item of src into dst.
func copyTable(t *testing.T, db *dynamodb.Client, src, dst string) {
	t.Helper()
	ctx := context.Background()
	items := scan(t, db, src)
	for len(items) > 0 {
		n := min(25, len(items))
		reqs := make([]types.WriteRequest, 0, n)
		for _, it := range items[:n] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		items = items[n:]
		for len(reqs) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{dst: reqs}})
			if err != nil {
				t.Fatalf("copy table: %v", err)
			}
			reqs = out.UnprocessedItems[dst]
		}
	}
}

func scan(t *testing.T, db *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := db.Scan(context.Background(), in)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ingest sends messages through the ingest service, 50 to a batch, as
// POST /v1/batch does after authentication.
func (s *stack) ingest(t *testing.T, msgs []json.RawMessage) {
	t.Helper()
	for len(msgs) > 0 {
		n := min(50, len(msgs))
		body, err := json.Marshal(map[string]any{"batch": msgs[:n]})
		if err != nil {
			t.Fatal(err)
		}
		msgs = msgs[n:]
		res, err := s.ds.App.Ingest.Ingest(context.Background(), tenantID, "", body)
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
		if len(res.Rejected) > 0 {
			t.Fatalf("ingest rejected %v", res.Rejected)
		}
	}
}

// aggregator is the stack's aggregation service over db (the real client
// or a fault-injecting one) and hooked raw reads.
func (s *stack) aggregator(db dynamoAPI, raw aggregate.RawReader) *aggregate.Service {
	if db == nil {
		db = s.env.db
	}
	if raw == nil {
		raw = rawstore.New(localstack.NewS3Client(s.env.s3), s.bucket)
	}
	st := dynamostore.New(db, s.table, nil)
	if s.packDays {
		st.PackDaysOver(2048)
	}
	return &aggregate.Service{Raw: raw, State: st, Now: s.clock.Now, Log: quiet}
}

// get answers GET path with the read key.
func (s *stack) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	status, body, err := s.fetch(path)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

func (s *stack) fetch(path string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(devstack.Demo().ReadKey))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return resp.StatusCode, b, nil
}

func dayStr(d int) string { return day0.AddDate(0, 0, d).Format(time.DateOnly) }

// kpiParams are the parameters the KPIs that need some are asked with.
var kpiParams = map[string]string{
	"flow_comparison": "change_date=" + dayStr(3),
	"guidance_impact": "change_date=" + dayStr(3) + "&saving_minutes=5&hourly_wage=40&attribution_pct=50",
	"roi_projection":  "new_customers=1000&completion_now=60&completion_target=85&renewal_completed=90&renewal_not_completed=60&contract_value=5000",
}

// breakdowns are the cheap breakdowns asked besides the plain answers.
var breakdowns = map[string][]string{
	"nps":                 {"channel", "plan"},
	"csat":                {"channel"},
	"dau":                 {"plan"},
	"ticket_volume":       {"channel", "tag", "priority"},
	"first_response_time": {"priority"},
	"resolution_time":     {"channel"},
}

// answers asks every KPI the overview lists over the whole week, and by
// day and with the breakdowns above, four queries at a time, and returns
// the answers by query.
func (s *stack) answers(t *testing.T) map[string]any {
	t.Helper()
	rng := "from=" + dayStr(0) + "&to=" + dayStr(nDays-1)
	overview := "/v1/kpis?" + rng
	_, body := s.get(t, overview)
	var list struct {
		KPIs []struct {
			KPI string `json:"kpi"`
		} `json:"kpis"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.KPIs) == 0 {
		t.Fatalf("GET %s lists no KPI: %s", overview, body)
	}
	paths := []string{overview}
	for _, k := range list.KPIs {
		q := rng
		if p := kpiParams[k.KPI]; p != "" {
			q += "&" + p
		}
		paths = append(paths, "/v1/kpis/"+k.KPI+"?"+q, "/v1/kpis/"+k.KPI+"?"+q+"&interval=day")
		for _, bd := range breakdowns[k.KPI] {
			paths = append(paths, "/v1/kpis/"+k.KPI+"?"+q+"&breakdown="+bd)
		}
	}
	out := make([]any, len(paths))
	errs := make([]string, len(paths))
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(paths); i = int(next.Add(1)) - 1 {
				status, body, err := s.fetch(paths[i])
				switch {
				case err != nil:
					errs[i] = err.Error()
				case status != http.StatusOK:
					errs[i] = fmt.Sprintf("GET %s: status %d; body %s", paths[i], status, body)
				default:
					if err := json.Unmarshal(body, &out[i]); err != nil {
						errs[i] = fmt.Sprintf("GET %s: %v", paths[i], err)
					}
				}
			}
		})
	}
	wg.Wait()
	byPath := map[string]any{}
	for i, p := range paths {
		if errs[i] != "" {
			t.Fatal(errs[i])
		}
		byPath[p] = out[i]
	}
	return byPath
}

// snapshot is what a stack's run left: the KPI answers and the stored
// state, normalised (see state).
type snapshot struct {
	answers map[string]any
	state   map[string]any
}

func (s *stack) snapshot(t *testing.T) snapshot {
	t.Helper()
	return snapshot{answers: s.answers(t), state: state(t, s.env.db, s.table)}
}

// compare fails t with the differences of got from want, and returns how
// many answers and items were compared.
func compare(t *testing.T, what string, got, want snapshot) int {
	t.Helper()
	n := 0
	var diffs []string
	for _, pair := range []struct {
		kind      string
		got, want map[string]any
	}{{"answer", got.answers, want.answers}, {"stored", got.state, want.state}} {
		keys := map[string]bool{}
		for k := range pair.got {
			keys[k] = true
		}
		for k := range pair.want {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			n++
			g, gok := pair.got[k]
			w, wok := pair.want[k]
			switch {
			case !gok:
				diffs = append(diffs, fmt.Sprintf("%s %s: missing; want %s", pair.kind, k, short(w)))
			case !wok:
				diffs = append(diffs, fmt.Sprintf("%s %s: unexpected %s", pair.kind, k, short(g)))
			default:
				if gb, wb := short(g), short(w); gb != wb {
					diffs = append(diffs, fmt.Sprintf("%s %s:\n  got  %s\n  want %s", pair.kind, k, gb, wb))
				}
			}
		}
	}
	if len(diffs) > 0 {
		shown := diffs[:min(8, len(diffs))]
		t.Errorf("%s: %d of %d comparisons differ from the undisturbed run:\n%s", what, len(diffs), n, strings.Join(shown, "\n"))
	}
	return n
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 1500 {
		return string(b[:1500]) + "…"
	}
	return string(b)
}
