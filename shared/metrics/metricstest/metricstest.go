// Package metricstest reads back the embedded metric format records that
// package metrics writes, checking each against the EMF specification and
// against metrics.Definitions, for tests.
package metricstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/uptakehq/uptake/shared/metrics"
)

// Record is one EMF record, checked.
type Record struct {
	Timestamp int64
	Namespace string
	// Dimensions are the directive's dimension sets.
	Dimensions [][]string
	// Units maps each metric of the directive to its unit.
	Units map[string]metrics.Unit
	// Values holds the metrics' values, Members every root member.
	Values  map[string]float64
	Members map[string]any
}

// Value returns the value of metric name, failing the test if the record
// has none.
func (r Record) Value(t testing.TB, name string) float64 {
	t.Helper()
	v, ok := r.Values[name]
	if !ok {
		t.Fatalf("record has no metric %s: %v", name, r.Members)
	}
	return v
}

// String returns the root member key as a string ("" if absent).
func (r Record) String(key string) string {
	s, _ := r.Members[key].(string)
	return s
}

// Records returns the EMF records among the lines of out (lines without
// an "_aws" member, such as log records, are skipped) and fails the test
// for any record that breaks the specification or is not one of
// metrics.Definitions.
func Records(t testing.TB, out []byte) []Record {
	t.Helper()
	var recs []Record
	for i, line := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var root map[string]json.RawMessage
		if err := json.Unmarshal(line, &root); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %s", i+1, err, line)
		}
		if _, ok := root["_aws"]; !ok {
			continue
		}
		r, err := Check(line)
		if err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// Check parses one EMF record and checks it.
func Check(line []byte) (Record, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return Record{}, err
	}
	var meta struct {
		Timestamp         *int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string    `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit *string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	var full map[string]json.RawMessage
	if err := json.Unmarshal(line, &full); err != nil {
		return Record{}, err
	}
	d := json.NewDecoder(bytes.NewReader(full["_aws"]))
	d.DisallowUnknownFields()
	if err := d.Decode(&meta); err != nil {
		return Record{}, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil || *meta.Timestamp <= 0 {
		return Record{}, errors.New("_aws.Timestamp must be a positive number of milliseconds")
	}
	// One directive per record is what package metrics writes.
	if len(meta.CloudWatchMetrics) != 1 {
		return Record{}, fmt.Errorf("_aws.CloudWatchMetrics has %d directives, want 1", len(meta.CloudWatchMetrics))
	}
	dir := meta.CloudWatchMetrics[0]
	if dir.Namespace == nil || *dir.Namespace == "" || len(*dir.Namespace) > 255 {
		return Record{}, errors.New("the directive's Namespace must be a string of 1 to 255 characters")
	}
	r := Record{Timestamp: *meta.Timestamp, Namespace: *dir.Namespace, Dimensions: dir.Dimensions,
		Units: map[string]metrics.Unit{}, Values: map[string]float64{}, Members: root}
	if len(dir.Dimensions) == 0 {
		return Record{}, errors.New("the directive has no Dimensions")
	}
	for _, set := range dir.Dimensions {
		if len(set) > 30 {
			return Record{}, fmt.Errorf("dimension set %v has more than 30 dimensions", set)
		}
		for _, k := range set {
			v, ok := root[k].(string)
			if !ok || v == "" {
				return Record{}, fmt.Errorf("dimension %s has no string value at the root", k)
			}
		}
	}
	if len(dir.Metrics) == 0 || len(dir.Metrics) > 100 {
		return Record{}, fmt.Errorf("the directive has %d Metrics, want 1 to 100", len(dir.Metrics))
	}
	defs := map[string]metrics.Definition{}
	for _, def := range metrics.Definitions() {
		defs[def.Name] = def
	}
	for _, m := range dir.Metrics {
		if m.Name == nil || *m.Name == "" {
			return Record{}, errors.New("a metric has no Name")
		}
		name := *m.Name
		n, ok := root[name].(json.Number)
		if !ok {
			return Record{}, fmt.Errorf("metric %s has no numeric value at the root", name)
		}
		v, err := n.Float64()
		if err != nil {
			return Record{}, fmt.Errorf("metric %s: %w", name, err)
		}
		def, ok := defs[name]
		if !ok {
			return Record{}, fmt.Errorf("metric %s is not in metrics.Definitions", name)
		}
		if m.Unit == nil || metrics.Unit(*m.Unit) != def.Unit {
			unit := "none"
			if m.Unit != nil {
				unit = *m.Unit
			}
			return Record{}, fmt.Errorf("metric %s: unit %s, want %s", name, unit, def.Unit)
		}
		for _, set := range dir.Dimensions {
			if !slices.ContainsFunc(def.DimensionSets, func(s []string) bool { return slices.Equal(s, set) }) {
				return Record{}, fmt.Errorf("metric %s: dimension set %v is not one of %v", name, set, def.DimensionSets)
			}
			for _, k := range set {
				if vals, fixed := def.Values[k]; fixed && !slices.Contains(vals, root[k].(string)) {
					return Record{}, fmt.Errorf("metric %s: dimension %s=%v is not one of %v", name, k, root[k], vals)
				}
			}
		}
		r.Units[name] = def.Unit
		r.Values[name] = v
		root[name] = v
	}
	return r, nil
}

// Find returns the records that have metric name.
func Find(recs []Record, name string) []Record {
	var out []Record
	for _, r := range recs {
		if _, ok := r.Values[name]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Describe lists records for failure messages.
func Describe(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%v %v\n", r.Dimensions, r.Members)
	}
	return b.String()
}
