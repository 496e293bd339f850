package kpi

import (
	"maps"
	"math"
	"slices"
	"strconv"
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

// Score histograms
//
// CSAT and CES without a filter or a breakdown count from counters, as
// NPS does: BuildPart counts the day's answers of each type by score
// (ScoreCounter), from the same answers it keeps in Responses (those no
// later answer replaced), so a year reads no answer. The scale is the
// tenant's configuration at query time, so the counters keep scores, not
// verdicts: one counter per whole score within 0..100 (every scale a
// configuration may have, Config.Validate), and one for every other score
// (fractions, negatives, over 100), which is off every such scale. CSAT
// and CES add whole numbers only, so the counts and sums are the same
// float64s whatever the order: the counters answer bit for bit as the
// answers do (TestMonthPartsExact compares them with day parts whose
// counters are removed, TestScoreCounters with odd scores and scales).
//
// Parts built before the counters existed lack CounterScoreHistograms:
// such a part is counted from its answers. Day parts are read with their
// answers for these KPIs whatever the query (a day part is one item:
// the answers cost their decoding only), and a month part without the
// counters for each of its days is read as its days (Requires).

// CounterScoreHistograms is 1 on a day part with score counters; a month
// part has them for each of its days when it equals Days.
const CounterScoreHistograms = "score_histograms"

// otherScore is the key of the scores off every scale.
const otherScore = "other"

// ScoreCounter names the counter of answers of a type with a score.
func ScoreCounter(typ string, score float64) string {
	if score == math.Trunc(score) && score >= 0 && score <= 100 {
		return typ + "_score=" + strconv.Itoa(int(score))
	}
	return typ + "_score=" + otherScore
}

// scoreCounters counts a day's CSAT and CES answers by score into p.
func scoreCounters(p *Part, counted []Response) {
	p.Counters[CounterScoreHistograms] = 1
	for _, r := range counted {
		if r.Type == "csat" || r.Type == "ces" {
			p.Counters[ScoreCounter(r.Type, r.Score)]++
		}
	}
}

// scored is a score and how many answers have it.
type scored struct{ score, n float64 }

func scoresOf(rs []Response) []scored {
	out := make([]scored, len(rs))
	for i, r := range rs {
		out[i] = scored{r.Score, 1}
	}
	return out
}

// histogramsFit reports whether an evaluation of CSAT or CES counts from
// the score counters: no filter, no breakdown, and the configured scale
// within 0..100 (a configuration stored unchecked counts from answers).
func histogramsFit(in Input, lo, hi int) bool {
	return plain(in) && lo >= 0 && hi <= 100
}

// scoreFields and scoreRequires are the FieldsFor and Requires of CSAT
// and CES.
func scoreFields(scale func(Config) (int, int)) func(Input) Fields {
	return func(in Input) Fields {
		if lo, hi := scale(in.Config); histogramsFit(in, lo, hi) {
			return 0
		}
		return FieldResponses
	}
}

func scoreRequires(scale func(Config) (int, int)) func(Input) []string {
	return func(in Input) []string {
		if lo, hi := scale(in.Config); histogramsFit(in, lo, hi) {
			return []string{CounterScoreHistograms}
		}
		return nil
	}
}

func csatScale(c Config) (int, int) { return c.CSATScaleMin, c.CSATScaleMax }
func cesScale(c Config) (int, int)  { return c.CESScaleMin, c.CESScaleMax }

// histogram returns the answers of a type of the range's parts by score:
// from the counters of the parts that have them, from the answers of the
// others. Parts are taken in order and each score's counts summed in that
// order; only whole counts and sums of whole scores follow, so the order
// changes nothing.
func histogram(parts []Part, typ string) []scored {
	prefix := typ + "_score="
	var out []scored
	for _, p := range parts {
		if p.Counters[CounterScoreHistograms] != float64(p.days()) {
			for _, r := range p.Responses {
				if r.Type == typ {
					out = append(out, scored{r.Score, 1})
				}
			}
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(p.Counters)) {
			v, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			score := math.NaN() // off every scale
			if v != otherScore {
				i, err := strconv.Atoi(v)
				if err != nil {
					continue
				}
				score = float64(i)
			}
			out = append(out, scored{score, p.Counters[k]})
		}
	}
	return out
}

// scoreKPI evaluates CSAT or CES: from the score counters when they fit,
// else over the answers (surveyKPI).
func scoreKPI(in Input, typ string, lo, hi int, f func([]scored) Result) Result {
	if histogramsFit(in, lo, hi) {
		return f(histogram(in.CoverRange(), typ))
	}
	return surveyKPI(in, typ, func(rs []Response) Result { return f(scoresOf(rs)) })
}

func evalCSAT(in Input) Result {
	lo, hi := in.Config.CSATScaleMin, in.Config.CSATScaleMax
	return scoreKPI(in, "csat", lo, hi, func(rs []scored) Result {
		var pos, n, off float64
		for _, r := range rs {
			if !onScale(r.score, lo, hi) {
				off += r.n
				continue
			}
			n += r.n
			if r.score >= float64(hi-1) {
				pos += r.n
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
	return scoreKPI(in, "ces", cfg.CESScaleMin, cfg.CESScaleMax, func(rs []scored) Result {
		var sum, n, top, off float64
		for _, r := range rs {
			if !onScale(r.score, cfg.CESScaleMin, cfg.CESScaleMax) {
				off += r.n
				continue
			}
			n += r.n
			sum += r.score * r.n
			if easy(cfg, r.score) {
				top += r.n
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
