package kpi

import (
	"maps"

	"github.com/RoaringBitmap/roaring/v2"
)

// Counter and set names of a daily Part.
const (
	CounterDAU              = "dau"
	CounterDAUNew           = "dau_new"
	CounterSessions         = "sessions"
	CounterSessionPages     = "session_pages"
	CounterSessionSeconds   = "session_seconds"
	CounterConversionEvents = "conversion_events"
	CounterNPSPromoters     = "nps_promoters"
	CounterNPSPassives      = "nps_passives"
	CounterNPSDetractors    = "nps_detractors"

	SetActiveUsers       = "active_users"
	SetPageVisitors      = "page_visitors"
	SetConvertedVisitors = "converted_visitors"
)

// Part is one day's mergeable aggregate: counters that add up and sets of
// identity ordinals that union. A range is evaluated from its days' parts.
type Part struct {
	Day      Day
	Counters map[string]float64
	Sets     map[string]*roaring.Bitmap
}

// NewPart returns an empty part for day.
func NewPart(day Day) Part {
	return Part{Day: day, Counters: map[string]float64{}, Sets: map[string]*roaring.Bitmap{}}
}

// Ordinals maps identities (user and visitor ids) to the dense numbers
// that sets hold; the same identity has the same ordinal on every day.
type Ordinals map[string]uint32

func (o Ordinals) set(ids []string) *roaring.Bitmap {
	b := roaring.New()
	for _, id := range ids {
		b.Add(o[id])
	}
	b.RunOptimize()
	return b
}

// BuildPart turns a day's facts into its part. newUsers is how many of the
// day's active users were first active that day; counted are the day's
// survey answers that no later answer replaced.
func BuildPart(f Facts, ords Ordinals, newUsers int, counted []Response) Part {
	p := NewPart(f.Day)
	p.Counters[CounterDAU] = float64(len(f.ActiveUsers))
	p.Counters[CounterDAUNew] = float64(newUsers)
	p.Counters[CounterSessions] = float64(f.Sessions)
	p.Counters[CounterSessionPages] = float64(f.SessionPages)
	p.Counters[CounterSessionSeconds] = f.SessionSeconds
	p.Counters[CounterConversionEvents] = float64(f.ConversionEvents)
	var prom, pass, detr float64
	for _, r := range counted {
		if r.Type != "nps" {
			continue
		}
		switch NPSGroup(r.Score) {
		case Promoter:
			prom++
		case Passive:
			pass++
		default:
			detr++
		}
	}
	p.Counters[CounterNPSPromoters] = prom
	p.Counters[CounterNPSPassives] = pass
	p.Counters[CounterNPSDetractors] = detr
	p.Sets[SetActiveUsers] = ords.set(f.ActiveUsers)
	p.Sets[SetPageVisitors] = ords.set(f.PageVisitors)
	p.Sets[SetConvertedVisitors] = ords.set(f.ConvertedVisitors)
	return p
}

// Merged is the sum of several parts: counters added, sets unioned.
type Merged struct {
	Days     int
	Counters map[string]float64
	Sets     map[string]*roaring.Bitmap
}

// Merge adds parts together.
func Merge(parts []Part) Merged {
	m := Merged{Days: len(parts), Counters: map[string]float64{}, Sets: map[string]*roaring.Bitmap{}}
	bySet := map[string][]*roaring.Bitmap{}
	for _, p := range parts {
		for k, v := range p.Counters {
			m.Counters[k] += v
		}
		for k, b := range p.Sets {
			bySet[k] = append(bySet[k], b)
		}
	}
	for _, k := range slicesSorted(maps.Keys(bySet)) {
		m.Sets[k] = roaring.FastOr(bySet[k]...)
	}
	return m
}

// Set returns a merged set, empty when no part had it.
func (m Merged) Set(name string) *roaring.Bitmap {
	if b, ok := m.Sets[name]; ok {
		return b
	}
	return roaring.New()
}

// NPS groups.
const (
	Detractor = iota
	Passive
	Promoter
)

// NPSGroup classifies a 0–10 score: 9–10 promoter, 7–8 passive, 0–6
// detractor.
func NPSGroup(score float64) int {
	switch {
	case score >= 9:
		return Promoter
	case score >= 7:
		return Passive
	}
	return Detractor
}
