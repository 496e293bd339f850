package kpi

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Follow-up summaries
//
// detractor_followups counts the low answers of its range and lists the
// newest maxFollowUps of them. Which answers are low depends on the
// configuration at query time (the CSAT and CES scales, the direction of
// CES), so a month part keeps its answers by class, not by verdict
// (FollowUpClass): the NPS answers of score 6 or less (low whatever the
// configuration), and the CSAT and CES answers by whole score within
// 0..100 (every score a configured scale within 0..100 can call low; no
// other score is low under such a scale). Each class holds its count and
// its newest maxFollowUps answers, in the list's order (followUpOrder),
// so the low answers of any such configuration are the union of some
// classes, their count the sum of the classes' counts, and their newest
// maxFollowUps are among the newest maxFollowUps of each class.
//
// A class keeps its answers encoded (Items) and its newest answer decoded
// (Top): the evaluation decodes the classes newest first, and stops when
// the answers it holds already fill the list with answers newer than the
// next class's newest; over a year, the older months' answers are counted,
// never decoded.
//
// CounterFollowUps equals Days on a month part with the classes; a month
// part merged before them lacks it and is read as its days (Requires). A
// query with a filter, or a configured scale outside 0..100, reads the
// answers.

// CounterFollowUps is the marker counter of the follow-up classes (one per
// day merged).
const CounterFollowUps = "summary_followups"

// FollowUpClass is a month part's answers of one type and score: NPS
// answers of score 6 or less (Score 0), CSAT or CES answers of one whole
// score.
type FollowUpClass struct {
	Type  string  `json:"type"`
	Score float64 `json:"score"`
	// N is how many answers the month has in the class.
	N float64 `json:"n"`
	// Top is the class's newest answer, Items its newest maxFollowUps,
	// newest first, as a JSON array of FollowUp (decoded on demand).
	Top   FollowUp        `json:"top"`
	Items json.RawMessage `json:"items"`
}

// followUpOrder orders follow-ups newest first, then by respondent, and
// then by every other field, so that the list and its cut do not depend on
// the order in which the answers come.
func followUpOrder(a, b FollowUp) int {
	if c := cmp.Compare(b.Time, a.Time); c != 0 {
		return c
	}
	return cmp.Or(strings.Compare(a.Respondent, b.Respondent), strings.Compare(a.Type, b.Type),
		strings.Compare(a.SurveyID, b.SurveyID), cmp.Compare(a.Score, b.Score), strings.Compare(a.Comment, b.Comment),
		strings.Compare(a.Channel, b.Channel), strings.Compare(a.Touchpoint, b.Touchpoint))
}

func followUpOf(r Response) FollowUp {
	return FollowUp{Type: r.Type, SurveyID: r.SurveyID, Respondent: r.Respondent, Score: r.Score,
		Comment: r.Comment, Time: r.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), Channel: r.Channel, Touchpoint: r.Touchpoint}
}

// followUpClass is the class of an answer, false when no configuration a
// class serves calls it low.
func followUpClass(r Response) (typ string, score float64, ok bool) {
	switch r.Type {
	case "nps":
		return r.Type, 0, r.Score <= 6
	case "csat", "ces":
		return r.Type, r.Score, onScale(r.Score, 0, 100)
	}
	return "", 0, false
}

// summarizeFollowUps adds the follow-up classes of days (in day order) to
// their month part m. Answers that do not encode (no stored answer) leave
// m without the classes, read as its days.
func summarizeFollowUps(m *Part, days []Part) {
	type key struct {
		typ   string
		score float64
	}
	classes := map[key][]FollowUp{}
	for _, p := range days {
		for _, r := range p.Responses {
			if typ, score, ok := followUpClass(r); ok {
				classes[key{typ, score}] = append(classes[key{typ, score}], followUpOf(r))
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(classes), func(a, b key) int { return cmp.Or(strings.Compare(a.typ, b.typ), cmp.Compare(a.score, b.score)) })
	for _, k := range keys {
		items := classes[k]
		slices.SortFunc(items, followUpOrder)
		n := len(items)
		items = items[:min(n, maxFollowUps)]
		raw, err := json.Marshal(items)
		if err != nil {
			m.FollowUps = nil
			return
		}
		m.FollowUps = append(m.FollowUps, FollowUpClass{Type: k.typ, Score: k.score, N: float64(n), Top: items[0], Items: raw})
	}
	m.Counters[CounterFollowUps] = float64(len(days))
}

// followUpsFit reports whether detractor_followups reads the classes of
// month parts: no filter, and both scales within 0..100.
func followUpsFit(in Input) bool {
	c := in.Config
	return len(in.Filters) == 0 && c.CSATScaleMin >= 0 && c.CSATScaleMax <= 100 && c.CESScaleMin >= 0 && c.CESScaleMax <= 100
}

func followUpFields(in Input) Fields {
	if followUpsFit(in) {
		return FieldFollowUps
	}
	return FieldResponses
}

func followUpRequires(in Input) []string {
	if followUpsFit(in) {
		return []string{CounterFollowUps}
	}
	return nil
}

// classLow reports whether the answers of a class are low under cfg.
func classLow(cfg Config, c FollowUpClass) bool {
	if c.Type == "nps" {
		return true
	}
	return low(cfg, Response{Type: c.Type, Score: c.Score})
}

// evalFollowUps counts and lists the low answers of the range: from the
// follow-up classes of month parts that have them (when they fit), from
// the answers of the other parts.
func evalFollowUps(in Input) Result {
	fit := followUpsFit(in)
	var items []FollowUp
	var classes []FollowUpClass
	total := 0.0
	for _, p := range in.CoverRange() {
		if fit && p.IsMonth() && p.Holds([]string{CounterFollowUps}) {
			for _, c := range p.FollowUps {
				if classLow(in.Config, c) {
					total += c.N
					classes = append(classes, c)
				}
			}
			continue
		}
		for _, r := range p.Responses {
			keep := low(in.Config, r)
			for _, flt := range in.Filters {
				keep = keep && responseDim(r, flt.Dim) == flt.Value
			}
			if keep {
				total++
				items = append(items, followUpOf(r))
			}
		}
	}
	slices.SortFunc(classes, func(a, b FollowUpClass) int { return followUpOrder(a.Top, b.Top) })
	for _, c := range classes {
		if len(items) >= maxFollowUps {
			slices.SortFunc(items, followUpOrder)
			items = items[:maxFollowUps]
			if followUpOrder(items[maxFollowUps-1], c.Top) < 0 {
				break // this class and the next are older than the whole list
			}
		}
		var more []FollowUp
		if err := json.Unmarshal(c.Items, &more); err != nil {
			// Not what summarizeFollowUps wrote: no answer rather than a
			// wrong one.
			return Result{Details: map[string]any{"error": "unreadable follow-ups: " + err.Error()}}
		}
		items = append(items, more...)
	}
	slices.SortFunc(items, followUpOrder)
	if items == nil {
		items = []FollowUp{}
	}
	items = items[:min(len(items), maxFollowUps)]
	return Result{Value: &total, Numerator: total, Denominator: 1, Details: map[string]any{"items": items, "listed": len(items)}}
}
