package kpi_test

import (
	"fmt"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/uptakehq/uptake/shared/kpi"
)

func TestTrimKeepsTheEssentials(t *testing.T) {
	p := kpi.NewPart(kpi.NewDay(2026, 10, 1))
	all := roaring.New()
	for i := uint32(0); i < 200000; i += 3 {
		all.Add(i)
	}
	p.Sets[kpi.SetActiveUsers] = all
	p.Counters[kpi.CounterDAU] = float64(all.GetCardinality())
	for v := range 20 {
		seg := roaring.New()
		for i := uint32(v); i < 200000; i += 60 {
			seg.Add(i)
		}
		p.Sets[kpi.SegmentSet("email_domain", fmt.Sprint(v))] = seg
		p.Sets[kpi.SegmentSet("plan", fmt.Sprint(v%2))] = seg
	}
	p.Sets[kpi.FeatureSet("reports")] = roaring.BitmapOf(1, 2, 3)
	before := p.Size()
	limit := int(all.GetSerializedSizeInBytes()) + 40000
	if !p.Trim(limit) {
		t.Fatalf("Trim(%d) of a %d-byte part dropped nothing", limit, before)
	}
	if p.Size() > limit {
		t.Errorf("size after Trim = %d, want <= %d", p.Size(), limit)
	}
	if p.Sets[kpi.SetActiveUsers] == nil || p.Counters[kpi.CounterDAU] == 0 || p.Sets[kpi.FeatureSet("reports")] == nil {
		t.Error("Trim dropped an essential set or counter")
	}
	if p.Counters["dropped:seg:email_domain"] != 1 {
		t.Errorf("the trait with the most values was not dropped first: counters %v", p.Counters)
	}
	small := kpi.NewPart(kpi.NewDay(2026, 10, 1))
	small.Sets[kpi.SetActiveUsers] = roaring.BitmapOf(1)
	if small.Trim(1 << 20) {
		t.Error("Trim dropped from a small part")
	}
}
