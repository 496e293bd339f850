package result_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/uptakehq/uptake/bench/result"
)

func TestFaster(t *testing.T) {
	for _, tc := range []struct {
		name        string
		value, base float64
		ratio       float64
		met         bool
	}{
		{"200 times faster", 5, 1000, 200, true},
		{"exactly the goal", 10, 1000, 100, true},
		{"short of the goal", 20, 1000, 50, false},
		{"no time measured", 0, 1000, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := result.Faster("q", tc.value, "ms", "scan", tc.base, "≥ 100×", 100)
			if f.Ratio != tc.ratio || f.Met != tc.met || f.Better != "lower" {
				t.Errorf("Faster(%v, %v) = ratio %v met %v better %s; want %v %v lower", tc.value, tc.base, f.Ratio, f.Met, f.Better, tc.ratio, tc.met)
			}
		})
	}
}

// TestWriteTables writes a result with a table and reads it back.
func TestWriteTables(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("UPTAKE_BENCH_RESULTS", dir)
	r := result.Result{ID: "P9", Tables: []result.Table{{Title: "t", Header: []string{"a", "b"}, Rows: [][]string{{"1", "2"}}}}}
	if err := result.Write(r, "x"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "P9-x.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got result.Result
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tables) != 1 || got.Tables[0].Rows[0][1] != "2" || got.MeasuredAt.IsZero() {
		t.Errorf("read back %+v", got)
	}
}
