package devstack_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/erase"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// The person erased, and what names them.
const (
	erasedUser    = "erase-me-7f3a"
	erasedVisitor = "anon-erase-9b1c"
	erasedEmail   = "Erase.Me@example.com"
	erasedComment = "cancel everything, erase-comment-51d"
)

// eraseWorkload is four days of a small tenant: two users kept, and one
// (with the visitor they were before signing up) to erase, who also
// answered a survey, opened a ticket and sent a delivery kept for later.
type eraseWorkload struct {
	batches []string // Segment batches
	surveys []string // generic survey webhook bodies
	tickets []string // generic ticket webhook bodies
	kept    []byte   // a Typeform delivery kept for an unmapped question
}

func newEraseWorkload(withErased bool) eraseWorkload {
	var w eraseWorkload
	var msgs []string
	n := 0
	add := func(typ, user, anon, name, at string, extra string) {
		n++
		m := fmt.Sprintf(`{"type":%q,"messageId":"m-%s-%d","timestamp":%q`, typ, user+anon, n, at)
		if user != "" {
			m += fmt.Sprintf(`,"userId":%q`, user)
		}
		if anon != "" {
			m += fmt.Sprintf(`,"anonymousId":%q`, anon)
		}
		if name != "" {
			m += fmt.Sprintf(`,"event":%q`, name)
		}
		msgs = append(msgs, m+extra+"}")
	}
	for d := 1; d <= 4; d++ {
		day := fmt.Sprintf("2026-10-%02d", d)
		for i, u := range []string{"keep-1", "keep-2"} {
			if d == 1 {
				add("identify", u, "", "", day+"T08:00:00Z", fmt.Sprintf(`,"traits":{"email":"%s@example.com","plan":"pro"}`, u))
				add("track", u, "", "Signed Up", day+"T08:01:00Z", "")
			}
			add("page", u, "", "", fmt.Sprintf("%sT%02d:00:00Z", day, 9+i), `,"properties":{"path":"/home"}`)
			add("track", u, "", "Report Viewed", fmt.Sprintf("%sT%02d:10:00Z", day, 9+i), "")
		}
		add("page", "", "anon-keep-1", "", day+"T11:00:00Z", `,"properties":{"path":"/pricing"}`)
		if !withErased {
			continue
		}
		if d == 1 {
			add("page", "", erasedVisitor, "", day+"T07:00:00Z", `,"properties":{"path":"/pricing"}`)
			add("identify", erasedUser, erasedVisitor, "", day+"T07:05:00Z", `,"traits":{"email":"`+erasedEmail+`","plan":"free"}`)
			add("track", erasedUser, erasedVisitor, "Signed Up", day+"T07:06:00Z", "")
		}
		if d <= 3 {
			add("page", erasedUser, "", "", day+"T12:00:00Z", `,"properties":{"path":"/home"}`)
			add("track", erasedUser, "", "Report Viewed", day+"T12:05:00Z", "")
		}
	}
	for i := 0; i < len(msgs); i += 7 {
		w.batches = append(w.batches, `{"batch":[`+strings.Join(msgs[i:min(i+7, len(msgs))], ",")+`]}`)
	}
	w.surveys = []string{
		`{"id":"r1","survey_id":"q4","type":"nps","score":9,"respondent":"keep-1","submitted_at":"2026-10-02T10:00:00Z","channel":"email"}`,
		`{"id":"r2","survey_id":"q4","type":"nps","score":10,"respondent":"keep-2","submitted_at":"2026-10-03T10:00:00Z","channel":"email"}`,
	}
	w.tickets = []string{
		`{"id":"T1","status":"solved","channel":"email","requester":"keep-1","created_at":"2026-10-02T09:00:00Z","updated_at":"2026-10-02T15:00:00Z","first_response_at":"2026-10-02T09:30:00Z"}`,
	}
	if withErased {
		w.surveys = append(w.surveys, `{"id":"r3","survey_id":"q4","type":"nps","score":2,"respondent":"`+erasedUser+`","submitted_at":"2026-10-02T11:00:00Z","channel":"in_app","comment":"`+erasedComment+`"}`)
		w.tickets = append(w.tickets, `{"id":"T2","status":"solved","channel":"chat","requester":"`+erasedUser+`","created_at":"2026-10-03T09:00:00Z","updated_at":"2026-10-03T11:00:00Z","first_response_at":"2026-10-03T10:00:00Z"}`)
		b, err := os.ReadFile("../../shared/webhook/testdata/typeform/no_score.json")
		if err != nil {
			panic(err)
		}
		w.kept = bytes.ReplaceAll(b, []byte(`"u_9"`), []byte(`"`+erasedUser+`"`))
	}
	return w
}

// send delivers the workload through the API and runs the aggregation.
func (w eraseWorkload) send(t *testing.T, st *stacktest.Stack, now time.Time) {
	t.Helper()
	for _, b := range w.batches {
		if r := do(t, http.MethodPost, st.URL+"/v1/batch", bearer(st.WriteKey), []byte(b)); r.status != 200 || bytes.Contains(r.body, []byte(`"index"`)) {
			t.Fatalf("batch: %d %s", r.status, r.body)
		}
	}
	for kind, bodies := range map[string][]string{"survey": w.surveys, "ticket": w.tickets} {
		for _, body := range bodies {
			h := map[string]string{webhook.SignatureHeader: webhook.Sign(tenant.Secret(st.WebhookSecret), []byte(body), now), "Content-Type": "application/json"}
			if r := do(t, http.MethodPost, st.URL+"/v1/webhooks/"+kind+"/demo", h, []byte(body)); r.status != 200 {
				t.Fatalf("%s webhook: %d %s", kind, r.status, r.body)
			}
		}
	}
	if w.kept != nil {
		const secret = "typeform-erase-secret"
		if r := do(t, http.MethodPut, st.URL+"/v1/admin/webhooks/typeform", bearer(st.AdminKey), []byte(`{"secret":"`+secret+`","mapping":{}}`)); r.status != 200 {
			t.Fatalf("configure typeform: %d %s", r.status, r.body)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(w.kept)
		h := map[string]string{"Typeform-Signature": "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil)), "Content-Type": "application/json"}
		if r := do(t, http.MethodPost, st.URL+"/v1/webhooks/typeform/demo", h, w.kept); r.status != 202 {
			t.Fatalf("typeform delivery: %d %s, want 202 kept", r.status, r.body)
		}
	}
	if r := do(t, http.MethodPost, st.URL+"/v1/admin/aggregate", bearer(st.AdminKey), []byte(`{"from":"2026-09-30","to":"2026-10-05"}`)); r.status != 200 {
		t.Fatalf("aggregate: %d %s", r.status, r.body)
	}
}

var eraseKPIs = []string{"dau", "mau", "stickiness", "sessions", "pages_per_session", "conversion_rate", "nps", "detractor_followups",
	"ticket_volume", "first_response_time", "resolution_time", "time_to_first_value", "retention_cohorts"}

func kpiAnswers(t *testing.T, st *stacktest.Stack) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range eraseKPIs {
		for _, q := range []string{"from=2026-10-01&to=2026-10-04", "from=2026-10-01&to=2026-10-04&interval=day", "from=2026-10-01&to=2026-10-04&breakdown=trait:plan"} {
			r := do(t, http.MethodGet, st.URL+"/v1/kpis/"+id+"?"+q, bearer(st.ReadKey), nil)
			out[id+"?"+q] = fmt.Sprintf("%d %s", r.status, r.body)
		}
	}
	return out
}

// TestEraseUser erases a user through DELETE /v1/users/{id} and checks the
// promise of a deletion request: after the next nightly run every KPI
// equals that of a stack that never had the user; no table item, object
// or older object version names them (id, visitor id, email, comment);
// the erasure is recorded by a hash; a second request removes nothing;
// other keys and bad ids are refused without any change.
func TestEraseUser(t *testing.T) {
	now := time.Date(2026, 10, 6, 12, 0, 0, 0, time.UTC)
	var tick atomic.Int64 // the clock moves on between the two erasures
	clock := func() time.Time { return now.Add(time.Duration(tick.Load()) * time.Minute) }
	st := stacktest.StartWith(t, stacktest.Options{Now: clock})
	ref := stacktest.StartWith(t, stacktest.Options{Now: clock})
	ctx := context.Background()
	// As deployed (template.yaml), the bucket keeps older versions: the
	// erasure must remove them too.
	s3c := localstack.NewS3Client(st.S3Endpoint)
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(st.Bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	newEraseWorkload(true).send(t, st, now)
	newEraseWorkload(false).send(t, ref, now)
	want := kpiAnswers(t, ref)
	if diff := cmp.Diff(want, kpiAnswers(t, st)); diff == "" {
		t.Fatal("the erased user's data does not change any KPI: the test would prove nothing")
	}
	names := []string{erasedUser, erasedVisitor, strings.ToLower(erasedEmail), erasedEmail, erasedComment}
	if len(traces(t, st, names)) == 0 {
		t.Fatal("the stack holds no trace of the user before the erasure: the scan finds nothing")
	}

	before := snapshot(t, st)
	for _, tc := range []struct {
		name, key, path string
		status          int
	}{
		{"read key", st.ReadKey, erasedUser, 403},
		{"write key", st.WriteKey, erasedUser, 403},
		{"no key", "", erasedUser, 401},
		{"unknown key", "nobody-key", erasedUser, 401},
		{"control character", st.AdminKey, "a%00b", 400},
		{"too long", st.AdminKey, strings.Repeat("x", erase.MaxIDBytes+1), 400},
		{"invalid UTF-8", st.AdminKey, "%ff%fe", 400},
	} {
		h := bearer(tc.key)
		if tc.key == "" {
			h = nil
		}
		if r := do(t, http.MethodDelete, st.URL+"/v1/users/"+tc.path, h, nil); r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
		} else {
			r.errorCode(t)
		}
	}
	// Another tenant's admin key erases in that tenant only.
	if err := st.Provision(ctx, devstack.Tenant{ID: "rival", WriteKey: "rival-write-key", ReadKey: "rival-read-key",
		AdminKey: "rival-admin-key", WebhookSecret: "rival-webhook-secret"}); err != nil {
		t.Fatal(err)
	}
	if r := do(t, http.MethodDelete, st.URL+"/v1/users/"+erasedUser, bearer("rival-admin-key"), nil); r.status != 200 || !strings.Contains(string(r.body), `"events_removed":0`) {
		t.Errorf("rival tenant's erasure: %d %s, want 200 removing nothing", r.status, r.body)
	}
	after := snapshot(t, st)
	for k, v := range after {
		if strings.Contains(k, "rival") || strings.Contains(v, `"rival"`) {
			delete(after, k) // the rival tenant's own items
		}
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("refused erasures, or another tenant's, changed this tenant's data:\n%s", diff)
	}

	r := do(t, http.MethodDelete, st.URL+"/v1/users/"+url.PathEscape(erasedUser), bearer(st.AdminKey), nil)
	if r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	var rc erase.Receipt
	if err := json.Unmarshal(r.body, &rc); err != nil {
		t.Fatal(err)
	}
	t.Logf("receipt: %s", r.body)
	// 3 + 6 Segment messages, 1 survey answer, 1 ticket update.
	if rc.Events != 11 || rc.Visitors != 1 || rc.WebhookDeliveries != 1 || rc.State.Answers != 1 || rc.State.Tickets != 1 ||
		rc.State.Identities != 2 || rc.Subject != erase.Subject(st.Tenant, erasedUser) || len(rc.Reaggregate) == 0 {
		t.Errorf("receipt = %+v, want 11 events, 1 visitor, 1 kept delivery, 1 answer, 1 ticket, 2 identities (user, visitor), days to re-run", rc)
	}
	if strings.Contains(string(r.body), erasedUser) {
		t.Errorf("the receipt names the user: %s", r.body)
	}

	// The next nightly run re-aggregates the marked days.
	if _, err := st.App.Aggregate.Nightly(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, kpiAnswers(t, st)); diff != "" {
		t.Errorf("KPIs after the erasure and the nightly run differ from a stack that never had the user (-never +erased):\n%s", diff)
	}
	if found := traces(t, st, names); len(found) > 0 {
		t.Errorf("the user is still named in:\n%s", strings.Join(found, "\n"))
	}

	tick.Add(1)
	again := do(t, http.MethodDelete, st.URL+"/v1/users/"+erasedUser, bearer(st.AdminKey), nil)
	var rc2 erase.Receipt
	if err := json.Unmarshal(again.body, &rc2); again.status != 200 || err != nil || rc2.Events != 0 || rc2.RawObjects != 0 || rc2.State != (erase.Erased{}) {
		t.Errorf("second erasure: %d %s, want 200 removing nothing", again.status, again.body)
	}
	list := do(t, http.MethodGet, st.URL+"/v1/admin/erasures", bearer(st.AdminKey), nil)
	var recs struct {
		Erasures []erase.Receipt `json:"erasures"`
	}
	if err := json.Unmarshal(list.body, &recs); list.status != 200 || err != nil || len(recs.Erasures) != 2 || recs.Erasures[0].Events != 11 || recs.Erasures[0].Subject != rc.Subject {
		t.Errorf("erasure records: %d %s, want both erasures, oldest first", list.status, list.body)
	}
	if r := do(t, http.MethodGet, st.URL+"/v1/admin/erasures", bearer(st.ReadKey), nil); r.status != 403 {
		t.Errorf("erasure records with the read key: %d, want 403", r.status)
	}
}

// traces lists the table items and object versions (gunzipped) that
// contain any of names.
func traces(t *testing.T, st *stacktest.Stack, names []string) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	check := func(where string, b []byte) {
		for _, n := range names {
			if bytes.Contains(b, []byte(n)) {
				found = append(found, fmt.Sprintf("%s (%q)", where, n))
			}
		}
	}
	for where, item := range snapshot(t, st) {
		if strings.HasPrefix(where, "item ") {
			check(where, []byte(item))
		}
	}
	s3c := localstack.NewS3Client(st.S3Endpoint)
	vs, err := s3c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(st.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Versions {
		got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Bucket), Key: v.Key, VersionId: v.VersionId})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				b = plain
			}
		}
		var kept struct {
			Body []byte `json:"body"`
		}
		if json.Unmarshal(b, &kept) == nil && kept.Body != nil {
			b = append(b, kept.Body...)
		}
		check(fmt.Sprintf("object %s version %s", aws.ToString(v.Key), aws.ToString(v.VersionId)), b)
	}
	return found
}

// faultyRaw fails the failAt-th call to Rewrite, Purge or Delete: an
// erasure interrupted half-way through its object rewrites.
type faultyRaw struct {
	erase.Raw
	calls, failAt int
}

var errInjected = errors.New("injected storage fault")

func (f *faultyRaw) step() error {
	f.calls++
	if f.calls == f.failAt {
		return errInjected
	}
	return nil
}

func (f *faultyRaw) Rewrite(ctx context.Context, key string, lines [][]byte) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Raw.Rewrite(ctx, key, lines)
}

func (f *faultyRaw) Purge(ctx context.Context, key string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Raw.Purge(ctx, key)
}

func (f *faultyRaw) Delete(ctx context.Context, key string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Raw.Delete(ctx, key)
}

// TestEraseUserInterrupted interrupts an erasure at several points of its
// storage writes; repeating the request finishes it: the same KPIs as a
// stack that never had the user, and no trace left.
func TestEraseUserInterrupted(t *testing.T) {
	now := time.Date(2026, 10, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ref := stacktest.StartWith(t, stacktest.Options{Now: clock})
	newEraseWorkload(false).send(t, ref, now)
	want := kpiAnswers(t, ref)
	names := []string{erasedUser, erasedVisitor, erasedEmail, erasedComment}
	for _, failAt := range []int{1, 2, 3, 5, 8} { // kept delivery, its versions, visitor lines, user lines, the last object
		t.Run(fmt.Sprintf("fault at storage write %d", failAt), func(t *testing.T) {
			st := stacktest.StartWith(t, stacktest.Options{Now: clock})
			newEraseWorkload(true).send(t, st, now)
			svc := &erase.Service{Raw: &faultyRaw{Raw: st.App.Raw, failAt: failAt}, State: st.App.Store, Now: clock, Log: st.App.Log}
			if _, err := svc.EraseUser(context.Background(), st.Tenant, erasedUser); !errors.Is(err, errInjected) {
				t.Fatalf("interrupted erasure: %v, want the injected fault", err)
			}
			if r := do(t, http.MethodDelete, st.URL+"/v1/users/"+erasedUser, bearer(st.AdminKey), nil); r.status != 200 {
				t.Fatalf("repeated erasure: %d %s", r.status, r.body)
			}
			if _, err := st.App.Aggregate.Nightly(context.Background()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, kpiAnswers(t, st)); diff != "" {
				t.Errorf("KPIs differ from a stack that never had the user (-never +erased):\n%s", diff)
			}
			if found := traces(t, st, names); len(found) > 0 {
				t.Errorf("the user is still named in:\n%s", strings.Join(found, "\n"))
			}
		})
	}
}
