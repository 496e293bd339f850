// Package result is the record each of `make bench`'s measurements writes
// (one JSON file per goal id under the results folder), and that
// bench/cmd/report turns into docs/benchmarks.md. A figure is always
// reported with the baseline measured in the same run and their ratio.
package result

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Figure is one measured value against its baseline (peer or limit).
type Figure struct {
	// Name says what was measured, e.g. "nightly aggregation, 1 M events".
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline is what Value is compared with, measured in the same run
	// (DuckDB, plain decoding, a hello-world bootstrap) or a fixed limit
	// (12 MB, $0.25); BaselineValue in the same unit.
	Baseline      string  `json:"baseline"`
	BaselineValue float64 `json:"baseline_value"`
	// Ratio is Value / BaselineValue, or BaselineValue / Value where
	// smaller is better, as Better says; Goal states the target in words
	// ("≥ 1.0× DuckDB"), Met whether it is reached.
	Ratio  float64 `json:"ratio"`
	Better string  `json:"better"` // "higher" or "lower": which Value is better
	Goal   string  `json:"goal"`
	Met    bool    `json:"met"`
	Note   string  `json:"note,omitempty"`
}

// Result is one goal's measurements.
type Result struct {
	ID      string   `json:"id"` // P1 … P6
	Title   string   `json:"title"`
	Command string   `json:"command"` // what reproduces it
	Figures []Figure `json:"figures"`
	// Tables are details under the figures (per-KPI latencies, …).
	Tables []Table `json:"tables,omitempty"`
	// Notes: what was profiled, what remains and why.
	Notes      []string  `json:"notes,omitempty"`
	MeasuredAt time.Time `json:"measured_at"`
}

// Table is a table of details, rendered as Markdown under the figures.
type Table struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// Dir is the results folder: $UPTAKE_BENCH_RESULTS, else bench/results
// under the module root found from the working directory.
func Dir() (string, error) {
	if d := os.Getenv("UPTAKE_BENCH_RESULTS"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "template.yaml")); err == nil {
			return filepath.Join(d, "bench", "results"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no template.yaml above %s: set UPTAKE_BENCH_RESULTS", wd)
		}
	}
}

// Write stores r as <Dir>/<ID>.json (or <ID>-<suffix>.json when a goal's
// figures come from several programs).
func Write(r Result, suffix string) error {
	dir, err := Dir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if r.MeasuredAt.IsZero() {
		r.MeasuredAt = time.Now().UTC()
	}
	name := r.ID
	if suffix != "" {
		name += "-" + suffix
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644)
}

// Higher returns a figure where a higher value is better: ratio is
// value/baseline.
func Higher(name string, value float64, unit, baseline string, baselineValue float64, goal string, minRatio float64) Figure {
	f := Figure{Name: name, Value: value, Unit: unit, Baseline: baseline, BaselineValue: baselineValue, Better: "higher", Goal: goal}
	if baselineValue > 0 {
		f.Ratio = value / baselineValue
	}
	f.Met = f.Ratio >= minRatio
	return f
}

// Lower returns a figure where a lower value is better (latency, memory,
// size, cost): ratio is value/baseline, met when it is at most maxRatio.
func Lower(name string, value float64, unit, baseline string, baselineValue float64, goal string, maxRatio float64) Figure {
	f := Figure{Name: name, Value: value, Unit: unit, Baseline: baseline, BaselineValue: baselineValue, Better: "lower", Goal: goal}
	if baselineValue > 0 {
		f.Ratio = value / baselineValue
	}
	f.Met = baselineValue > 0 && f.Ratio <= maxRatio
	return f
}

// Faster returns a figure where value is a time that must be minRatio
// times shorter than baseline's at least: ratio is baselineValue/value
// (how many times faster), met when it is at least minRatio.
func Faster(name string, value float64, unit, baseline string, baselineValue float64, goal string, minRatio float64) Figure {
	f := Figure{Name: name, Value: value, Unit: unit, Baseline: baseline, BaselineValue: baselineValue, Better: "lower", Goal: goal}
	if value > 0 {
		f.Ratio = baselineValue / value
	}
	f.Met = value > 0 && f.Ratio >= minRatio
	return f
}
