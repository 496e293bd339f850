package dynamostore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/secretbox"
	"github.com/uptakehq/uptake/shared/tenant"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

func newStore(t *testing.T) *dynamostore.Store {
	t.Helper()
	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
	table := localstacktest.UniqueName("store")
	if err := dynamostore.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	if err := dynamostore.CreateTable(context.Background(), db, table); err != nil {
		t.Fatalf("creating an existing table must be fine: %v", err)
	}
	box, err := secretbox.New("a test key of enough length")
	if err != nil {
		t.Fatal(err)
	}
	return dynamostore.New(db, table, box)
}

func day(s string) kpi.Day {
	d, err := kpi.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestKeysAndConfig(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if err := st.PutKey(ctx, tenant.HashKey("k1"), "acme", tenant.Read); err != nil {
		t.Fatal(err)
	}
	id, kind, found, err := st.LookupKey(ctx, tenant.HashKey("k1"))
	if err != nil || !found || id != "acme" || kind != tenant.Read {
		t.Fatalf("LookupKey = %q %q %v %v", id, kind, found, err)
	}
	if _, _, found, _ := st.LookupKey(ctx, tenant.HashKey("k2")); found {
		t.Error("unknown key found")
	}
	cfg, err := st.Config(ctx, "acme")
	if err != nil || cfg.TimeZone != "UTC" {
		t.Fatalf("default config = %+v, %v", cfg, err)
	}
	cfg.TimeZone = "Asia/Tokyo"
	if err := st.PutConfig(ctx, "acme", cfg); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Config(ctx, "acme"); got.TimeZone != "Asia/Tokyo" {
		t.Errorf("config after put = %+v", got)
	}
	if err := st.PutTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if ids, err := st.Tenants(ctx); err != nil || !cmp.Equal(ids, []string{"acme"}) {
		t.Errorf("Tenants = %v %v", ids, err)
	}
}

// TestIdentitiesConcurrent creates the same identities from several
// runs at once: everyone agrees on one dense ordinal per identity.
func TestIdentitiesConcurrent(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	ids := make([]string, 250)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%d", i)
	}
	ids = append(ids, "#counter", "I#tricky") // names that look like internal keys
	results := make([]map[string]kpi.Identity, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			got, err := st.Identities(ctx, "acme", ids)
			if err != nil {
				t.Error(err)
			}
			results[i] = got
		})
	}
	wg.Wait()
	again, err := st.Identities(ctx, "acme", ids)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]string{}
	for _, id := range ids {
		o := again[id].Ordinal
		if other, dup := seen[o]; dup {
			t.Fatalf("%s and %s share ordinal %d", id, other, o)
		}
		seen[o] = id
		for i, r := range results {
			if r[id].Ordinal != o {
				t.Fatalf("run %d saw ordinal %d for %s, stored %d", i, r[id].Ordinal, id, o)
			}
		}
	}
	if other, _ := st.Identities(ctx, "other", ids[:1]); other[ids[0]].Ordinal != 0 {
		t.Errorf("another tenant's first identity has ordinal %d, want its own counter from 0", other[ids[0]].Ordinal)
	}
}

// first is a milestone reached at 09:30 UTC on a day.
func first(d string) kpi.First {
	return kpi.First{At: day(d).Start(time.UTC).Add(9*time.Hour + 30*time.Minute), Day: day(d)}
}

func TestFirstActive(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if _, err := st.Identities(ctx, "acme", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		day          string
		wantChanged  bool
		wantReplaced string
	}{
		{"2026-10-05", true, ""},
		{"2026-10-07", false, ""},
		{"2026-10-05", false, ""},
		{"2026-10-02", true, "2026-10-05"},
	}
	for _, s := range steps {
		replaced, changed, err := st.SetFirst(ctx, "acme", "u1", kpi.FirstActive, first(s.day))
		if err != nil {
			t.Fatal(err)
		}
		want := kpi.Day{}
		if s.wantReplaced != "" {
			want = day(s.wantReplaced)
		}
		if changed != s.wantChanged || !replaced.Day.Equal(want) {
			t.Errorf("SetFirst(%s) = %s %v, want %s %v", s.day, replaced, changed, s.wantReplaced, s.wantChanged)
		}
	}
	got, _ := st.Identities(ctx, "acme", []string{"u1"})
	if got["u1"].First(kpi.FirstActive) != first("2026-10-02") {
		t.Errorf("first active = %s, want 2026-10-02", got["u1"].First(kpi.FirstActive))
	}
	if !got["u1"].First(kpi.SignedUp).IsZero() {
		t.Errorf("signup day = %s, want none", got["u1"].First(kpi.SignedUp))
	}
	// Signup days are indexed by cohort, and move with the user.
	for _, d := range []string{"2026-10-09", "2026-10-04", "2026-10-06"} {
		if _, _, err := st.SetFirst(ctx, "acme", "u1", kpi.SignedUp, first(d)); err != nil {
			t.Fatal(err)
		}
	}
	for d, want := range map[string]int{"2026-10-09": 0, "2026-10-04": 1, "2026-10-06": 0} {
		if ids, err := st.Cohort(ctx, "acme", day(d)); err != nil || len(ids) != want {
			t.Errorf("Cohort(%s) = %v %v, want %d users", d, ids, err, want)
		}
	}
}

func TestClaimResponse(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	r := func(mid, ts string) kpi.Response {
		return kpi.Response{Type: "nps", SurveyID: "q4", Respondent: "u1", MessageID: mid, Time: at(ts), Score: 5}
	}
	steps := []struct {
		resp         kpi.Response
		day          string
		wantCounted  bool
		wantReplaced string
	}{
		{r("m2", "2026-10-03T10:00:00Z"), "2026-10-03", true, ""},
		{r("m1", "2026-10-01T10:00:00Z"), "2026-10-01", false, ""}, // older: replaced already
		{r("m2", "2026-10-03T10:00:00Z"), "2026-10-03", true, ""},  // re-run: same answer counts
		{r("m3", "2026-10-05T10:00:00Z"), "2026-10-05", true, "2026-10-03"},
		{r("m0", "2026-10-05T10:00:00Z"), "2026-10-05", false, ""}, // same time, smaller id loses
	}
	for i, s := range steps {
		counted, replaced, err := st.ClaimResponse(ctx, "acme", s.resp, day(s.day))
		if err != nil {
			t.Fatal(err)
		}
		want := kpi.Day{}
		if s.wantReplaced != "" {
			want = day(s.wantReplaced)
		}
		if counted != s.wantCounted || !replaced.Equal(want) {
			t.Errorf("step %d: ClaimResponse = %v %s, want %v %s", i, counted, replaced, s.wantCounted, s.wantReplaced)
		}
	}
}

func TestPartsAndDirty(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	p := kpi.NewPart(day("2026-10-02"))
	p.Counters["dau"] = 3
	p.Counters["session_seconds"] = 12.5
	p.Sets["active_users"] = roaring.BitmapOf(1, 5, 1000000)
	p.Lists["ttfv_hours"] = []float64{0.5, 12, 1e-9}
	if err := st.PutPart(ctx, "acme", p, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPart(ctx, "acme", kpi.NewPart(day("2026-10-04")), time.Now()); err != nil {
		t.Fatal(err)
	}
	parts, err := st.Parts(ctx, "acme", day("2026-10-01"), day("2026-10-03"))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].Counters["dau"] != 3 || parts[0].Counters["session_seconds"] != 12.5 ||
		!parts[0].Sets["active_users"].Equals(p.Sets["active_users"]) || !parts[0].Day.Equal(p.Day) ||
		!cmp.Equal(parts[0].Lists["ttfv_hours"], p.Lists["ttfv_hours"]) {
		t.Fatalf("Parts = %+v, want the stored part only", parts)
	}
	only, err := st.PartsOnly(ctx, "acme", day("2000-01-01"), day("2026-10-31"), []string{"dau", "active_users"})
	if err != nil || len(only) != 2 || only[0].Counters["dau"] != 3 || len(only[0].Counters) != 1 || !only[0].Sets["active_users"].Equals(p.Sets["active_users"]) {
		t.Fatalf("PartsOnly = %+v %v, want the two parts with only dau and active_users", only, err)
	}
	has, err := st.HasParts(ctx, "acme", kpi.Days(day("2026-10-01"), day("2026-10-04")))
	if err != nil || len(has) != 2 || !has[day("2026-10-02")] || !has[day("2026-10-04")] {
		t.Errorf("HasParts = %v %v", has, err)
	}

	t1 := time.Date(2026, 10, 5, 1, 0, 0, 0, time.UTC)
	if err := st.MarkDirty(ctx, "acme", []kpi.Day{day("2026-10-02"), day("2026-10-03")}, t1); err != nil {
		t.Fatal(err)
	}
	dirty, err := st.DirtyDays(ctx, "acme", day("2026-10-01"), day("2026-10-31"))
	if err != nil || len(dirty) != 2 {
		t.Fatalf("DirtyDays = %v %v", dirty, err)
	}
	// Events arrive for 10-02 after the run read the mark: it stays.
	if err := st.MarkDirty(ctx, "acme", []kpi.Day{day("2026-10-02")}, t1.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirty {
		if err := st.ClearDirty(ctx, "acme", d); err != nil {
			t.Fatal(err)
		}
	}
	left, _ := st.DirtyDays(ctx, "acme", day("2026-10-01"), day("2026-10-31"))
	if len(left) != 1 || !left[0].Day.Equal(day("2026-10-02")) || left[0].At != t1.Add(time.Second).UnixNano() {
		t.Errorf("dirty after clear = %v, want only 2026-10-02 with the later mark", left)
	}
}

func TestPutTraits(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if _, err := st.Identities(ctx, "acme", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	v1 := kpi.Traits{"plan": {{At: at, Value: "free"}}}
	if ok, err := st.PutTraits(ctx, "acme", "u1", nil, v1); err != nil || !ok {
		t.Fatalf("first PutTraits = %v %v", ok, err)
	}
	v2, _ := v1.Merge(kpi.Traits{"plan": {{At: at.Add(time.Hour), Value: "pro"}}})
	// A writer that read before v1 was stored loses.
	if ok, err := st.PutTraits(ctx, "acme", "u1", nil, v2); err != nil || ok {
		t.Fatalf("stale PutTraits = %v %v, want refused", ok, err)
	}
	got, _ := st.Identities(ctx, "acme", []string{"u1"})
	if ok, err := st.PutTraits(ctx, "acme", "u1", got["u1"].Traits, v2); err != nil || !ok {
		t.Fatalf("PutTraits over what was read = %v %v", ok, err)
	}
	got, _ = st.Identities(ctx, "acme", []string{"u1"})
	if v, _ := got["u1"].Traits.At("plan", at.Add(2*time.Hour)); v != "pro" {
		t.Errorf("plan after both changes = %q, want pro", v)
	}
	if v, _ := got["u1"].Traits.At("plan", at.Add(30*time.Minute)); v != "free" {
		t.Errorf("plan between the changes = %q, want free", v)
	}
}

func TestWebhookSecretsAreSealed(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if err := st.PutWebhookSecret(ctx, "acme", "typeform", "whsec_plain"); err != nil {
		t.Fatal(err)
	}
	got, found, err := st.WebhookSecret(ctx, "acme", "typeform")
	if err != nil || !found || got != "whsec_plain" {
		t.Fatalf("WebhookSecret = %q %v %v", got, found, err)
	}
	if _, found, _ := st.WebhookSecret(ctx, "acme", "delighted"); found {
		t.Error("a secret never set was found")
	}
	// A dump of the table does not show the secret.
	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
	tables, _ := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	for _, name := range tables.TableNames {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: &name})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			for attr, v := range it {
				if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(sv.Value, "whsec_plain") {
					t.Fatalf("table %s attribute %s holds the secret in clear", name, attr)
				}
			}
		}
	}
}
