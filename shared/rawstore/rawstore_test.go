package rawstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

func TestPutListReadDelete(t *testing.T) {
	ctx := context.Background()
	client := localstack.NewS3Client(localstacktest.S3Endpoint(t))
	bucket := localstacktest.UniqueName("raw")
	if err := rawstore.CreateBucket(ctx, client, bucket); err != nil {
		t.Fatal(err)
	}
	if err := rawstore.CreateBucket(ctx, client, bucket); err != nil {
		t.Fatalf("creating an existing bucket must be fine: %v", err)
	}
	st := rawstore.New(client, bucket)
	d := kpi.NewDay(2026, 10, 1)
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	var keys []string
	for i := range 3 {
		// Later requests sort later, whatever their random suffix.
		k, err := st.Put(ctx, "raw", "acme", d, t0.Add(time.Duration(i)*time.Millisecond), [][]byte{fmt.Appendf(nil, `{"n":%d}`, i), []byte(`{"x":"y"}`)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if _, err := st.Put(ctx, "raw", "acme", d.AddDays(1), t0, [][]byte{[]byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "raw", "other", d, t0, [][]byte{[]byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Keys(ctx, "raw", "acme", d)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, keys); diff != "" {
		t.Fatalf("Keys (-got +want):\n%s", diff)
	}
	var lines []string
	for _, k := range got {
		if err := st.Lines(ctx, k, func(l []byte) error { lines = append(lines, string(l)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{`{"n":0}`, `{"x":"y"}`, `{"n":1}`, `{"x":"y"}`, `{"n":2}`, `{"x":"y"}`}
	if diff := cmp.Diff(lines, want); diff != "" {
		t.Fatalf("Lines (-got +want):\n%s", diff)
	}
	if err := st.Delete(ctx, keys[1]); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Keys(ctx, "raw", "acme", d); len(got) != 2 {
		t.Errorf("after delete: %v", got)
	}
}
