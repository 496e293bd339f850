package nightly_test

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/bench/nightly"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/kpi"
)

// TestDir reads a folder laid out as the bucket: a day's keys in order,
// their lines, and their count.
func TestDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "raw", "tenant=t", "dt=2026-10-02")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"2.ndjson.gz": "c\n", "1.ndjson.gz": "a\n\nb\n"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		if _, err := zw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	ctx := context.Background()
	d := nightly.Dir{Root: root}
	keys, err := d.Keys(ctx, aggregate.RawKind, "t", kpi.NewDay(2026, 10, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"raw/tenant=t/dt=2026-10-02/1.ndjson.gz", "raw/tenant=t/dt=2026-10-02/2.ndjson.gz"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	var lines []string
	for _, k := range keys {
		if err := d.Lines(ctx, k, func(l []byte) error { lines = append(lines, string(l)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(lines, []string{"a", "b", "c"}) {
		t.Errorf("lines %q, want a, b, c", lines)
	}
	if n, err := nightly.CountLines(filepath.Join(root, want[0])); err != nil || n != 3 {
		t.Errorf("CountLines = %d, %v; want 3 (the blank line too)", n, err)
	}
	if keys, err := d.Keys(ctx, aggregate.RawKind, "t", kpi.NewDay(2026, 10, 3)); err != nil || len(keys) != 0 {
		t.Errorf("a day without files: %v, %v", keys, err)
	}
}

// TestState knows the population before its first day.
func TestState(t *testing.T) {
	ctx := context.Background()
	pop := gen.NewPopulation(1, 2000, kpi.NewDay(2026, 10, 1))
	st, err := nightly.State(ctx, "t", pop)
	if err != nil {
		t.Fatal(err)
	}
	u := pop.Users[0]
	ids, err := st.Identities(ctx, "t", []string{u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids[u.ID].Firsts[kpi.SignedUp]; !got.At.Equal(u.CreatedAt) || got.Day != kpi.DayOf(u.CreatedAt, time.UTC) {
		t.Errorf("user %s signed up %+v, want %s", u.ID, got, u.CreatedAt)
	}
}
