package kpi

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
)

// Survey dimensions: a response's own fields.
const (
	DimSurvey     = "survey_id"
	DimChannel    = "channel"
	DimTouchpoint = "touchpoint"
)

var surveyDims = []string{DimSurvey, DimChannel, DimTouchpoint}

func responseDim(r Response, dim string) string {
	v := ""
	switch dim {
	case DimSurvey:
		v = r.SurveyID
	case DimChannel:
		v = r.Channel
	case DimTouchpoint:
		v = r.Touchpoint
	}
	if v == "" {
		return none
	}
	return v
}

// surveyKPI evaluates a survey KPI over the range's answers of one type,
// honouring filters and a breakdown on the answers' own dimensions.
func surveyKPI(in Input, typ string, f func([]Response) Result) Result {
	var rs []Response
	for _, dr := range Merge(in.CoverRange()).Responses {
		r := dr.Response
		if r.Type != typ {
			continue
		}
		keep := true
		for _, flt := range in.Filters {
			keep = keep && responseDim(r, flt.Dim) == flt.Value
		}
		if keep {
			rs = append(rs, r)
		}
	}
	res := f(rs)
	if in.Breakdown != "" {
		res.Breakdown = breakdownRows(rs, func(r Response) []string { return []string{responseDim(r, in.Breakdown)} }, f)
	}
	return res
}

// breakdownRows groups items by their values of a dimension (an item may
// have several) and evaluates each group, biggest first.
func breakdownRows[T any](items []T, values func(T) []string, f func([]T) Result) []Row {
	groups := map[string][]T{}
	for _, it := range items {
		for _, v := range values(it) {
			groups[v] = append(groups[v], it)
		}
	}
	rows := make([]Row, 0, len(groups))
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		r := f(groups[k])
		rows = append(rows, Row{Key: k, Value: r.Value, Numerator: r.Numerator, Denominator: r.Denominator, Details: r.Details})
	}
	sortRows(rows)
	return rows
}

func npsOf(rs []Response) Result {
	var p, pa, d float64
	for _, r := range rs {
		switch NPSGroup(r.Score) {
		case Promoter:
			p++
		case Passive:
			pa++
		default:
			d++
		}
	}
	return npsCounts(p, pa, d)
}

func npsCounts(p, pa, d float64) Result {
	n := p + pa + d
	details := map[string]any{
		"promoters": p, "passives": pa, "detractors": d, "responses": n,
		"promoters_pct": ratio(p, n, 100), "passives_pct": ratio(pa, n, 100), "detractors_pct": ratio(d, n, 100),
	}
	return Result{Value: ratio(p-d, n, 100), Numerator: p - d, Denominator: n, Details: details}
}

// evalNPS counts the answers of the range; without a filter or a
// breakdown it counts from the parts' NPS counters, which BuildPart takes
// from the same answers, so a year reads no answer at all.
func evalNPS(in Input) Result {
	if len(in.Filters) > 0 || in.Breakdown != "" {
		return surveyKPI(in, "nps", npsOf)
	}
	m := Merge(in.CoverRange())
	return npsCounts(m.Counters[CounterNPSPromoters], m.Counters[CounterNPSPassives], m.Counters[CounterNPSDetractors])
}

// npsFields: evalNPS reads answers only to filter or break them down.
func npsFields(in Input) Fields {
	if len(in.Filters) > 0 || in.Breakdown != "" {
		return FieldResponses
	}
	return 0
}

// onScale reports whether a score is a whole number within min..max.
func onScale(score float64, min, max int) bool {
	return score == math.Trunc(score) && score >= float64(min) && score <= float64(max)
}

func evalCSAT(in Input) Result {
	lo, hi := in.Config.CSATScaleMin, in.Config.CSATScaleMax
	return surveyKPI(in, "csat", func(rs []Response) Result {
		var pos, n, off float64
		for _, r := range rs {
			if !onScale(r.Score, lo, hi) {
				off++
				continue
			}
			n++
			if r.Score >= float64(hi-1) {
				pos++
			}
		}
		return Result{Value: ratio(pos, n, 100), Numerator: pos, Denominator: n,
			Details: map[string]any{"positive": pos, "responses": n, "scale_min": lo, "scale_max": hi, "out_of_scale": off}}
	})
}

// easy reports whether a CES score is in the two easiest values.
func easy(cfg Config, score float64) bool {
	if cfg.CESHigherIsEasier {
		return score >= float64(cfg.CESScaleMax-1)
	}
	return score <= float64(cfg.CESScaleMin+1)
}

func evalCES(in Input) Result {
	cfg := in.Config
	return surveyKPI(in, "ces", func(rs []Response) Result {
		var sum, n, top, off float64
		for _, r := range rs {
			if !onScale(r.Score, cfg.CESScaleMin, cfg.CESScaleMax) {
				off++
				continue
			}
			n++
			sum += r.Score
			if easy(cfg, r.Score) {
				top++
			}
		}
		return Result{Value: ratio(sum, n, 1), Numerator: sum, Denominator: n,
			Details: map[string]any{"responses": n, "top_two_box_pct": ratio(top, n, 100), "scale_min": cfg.CESScaleMin,
				"scale_max": cfg.CESScaleMax, "higher_is_easier": cfg.CESHigherIsEasier, "out_of_scale": off}}
	})
}

// FollowUp is a low score to act on.
type FollowUp struct {
	Type       string  `json:"type"`
	SurveyID   string  `json:"survey_id"`
	Respondent string  `json:"respondent"`
	Score      float64 `json:"score"`
	Comment    string  `json:"comment"`
	Time       string  `json:"time"`
	Channel    string  `json:"channel,omitempty"`
	Touchpoint string  `json:"touchpoint,omitempty"`
}

// maxFollowUps bounds the list of an answer.
const maxFollowUps = 500

// low reports whether an answer calls for a follow-up: NPS detractors,
// CSAT and CES answers in their two worst values.
// NeedsFollowUp reports whether an answer calls for a follow-up (and an
// alert): an NPS detractor, a CSAT or CES answer in its two worst values.
func NeedsFollowUp(cfg Config, typ string, score float64) bool {
	return low(cfg, Response{Type: typ, Score: score})
}

func low(cfg Config, r Response) bool {
	switch r.Type {
	case "nps":
		return r.Score <= 6
	case "csat":
		return onScale(r.Score, cfg.CSATScaleMin, cfg.CSATScaleMax) && r.Score <= float64(cfg.CSATScaleMin+1)
	case "ces":
		if !onScale(r.Score, cfg.CESScaleMin, cfg.CESScaleMax) {
			return false
		}
		if cfg.CESHigherIsEasier {
			return r.Score <= float64(cfg.CESScaleMin+1)
		}
		return r.Score >= float64(cfg.CESScaleMax-1)
	}
	return false
}

func evalFollowUps(in Input) Result {
	var items []FollowUp
	total := 0.0
	for _, dr := range Merge(in.CoverRange()).Responses {
		r := dr.Response
		keep := low(in.Config, r)
		for _, flt := range in.Filters {
			keep = keep && responseDim(r, flt.Dim) == flt.Value
		}
		if !keep {
			continue
		}
		total++
		items = append(items, FollowUp{Type: r.Type, SurveyID: r.SurveyID, Respondent: r.Respondent, Score: r.Score,
			Comment: r.Comment, Time: r.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), Channel: r.Channel, Touchpoint: r.Touchpoint})
	}
	slices.SortFunc(items, func(a, b FollowUp) int {
		if c := cmp.Compare(b.Time, a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Respondent, b.Respondent)
	})
	if items == nil {
		items = []FollowUp{}
	}
	items = items[:min(len(items), maxFollowUps)]
	return Result{Value: &total, Numerator: total, Denominator: 1, Details: map[string]any{"items": items, "listed": len(items)}}
}
