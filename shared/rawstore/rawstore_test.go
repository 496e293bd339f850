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
		k, err := st.Put(ctx, "raw", "acme", d, t0.Add(time.Duration(i)*time.Millisecond), t0.Add(-time.Duration(i)*time.Hour), [][]byte{fmt.Appendf(nil, `{"n":%d}`, i), []byte(`{"x":"y"}`)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if _, err := st.Put(ctx, "raw", "acme", d.AddDays(1), t0, time.Time{}, [][]byte{[]byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "raw", "other", d, t0, time.Time{}, [][]byte{[]byte(`{}`)}); err != nil {
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
	for i, k := range keys {
		if at, ok := rawstore.Latest(k); !ok || !at.Equal(t0.Add(-time.Duration(i)*time.Hour)) {
			t.Errorf("Latest(%s) = %v, %v; want %v", k, at, ok, t0.Add(-time.Duration(i)*time.Hour))
		}
	}
	if err := st.Delete(ctx, keys[1]); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Keys(ctx, "raw", "acme", d); len(got) != 2 {
		t.Errorf("after delete: %v", got)
	}
}

// TestLatest reads the latest event time back from names, and none from
// names without one (written before keys named it) or with a broken one.
func TestLatest(t *testing.T) {
	recv := time.Date(2026, 10, 2, 0, 0, 16, 0, time.UTC)
	at := time.Date(2026, 10, 1, 23, 59, 59, 123456789, time.UTC)
	key := "raw/tenant=t/dt=2026-10-01/" + rawstore.Name(recv, at, "00ff")
	if got, ok := rawstore.Latest(key); !ok || !got.Equal(at) {
		t.Errorf("Latest(%s) = %v, %v; want %v", key, got, ok, at)
	}
	for _, k := range []string{
		"raw/tenant=t/dt=2026-10-01/" + rawstore.Name(recv, time.Time{}, "00ff"),
		"raw/tenant=t/dt=2026-10-01/" + rawstore.Name(recv, time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), "00ff"),
		"raw/tenant=t/dt=2026-10-01/1790899216309000000-5869171ad2a5c20f.ndjson.gz",
		"raw/tenant=t/dt=2026-10-01/1790899216309000000-5869171ad2a5c20f-12x4567890123456789.ndjson.gz",
		"raw/tenant=t/dt=2026-10-01/1790899216309000000-5869171ad2a5c20f-1790899216309000000.json",
	} {
		if got, ok := rawstore.Latest(k); ok {
			t.Errorf("Latest(%s) = %v, want none", k, got)
		}
	}
}
