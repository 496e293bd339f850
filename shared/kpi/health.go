package kpi

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// HealthWeights weigh the components of an account's health score.
type HealthWeights struct {
	Engagement float64 `json:"engagement"` // share of the last 30 days with an active user
	Onboarding float64 `json:"onboarding"` // a user completed onboarding in time
	NPS        float64 `json:"nps"`        // latest NPS group of its users: 1, 0.5, 0 (none: 0.5)
	Tickets    float64 `json:"tickets"`    // no open urgent ticket
}

// DefaultHealthWeights are kpis.md's default components.
func DefaultHealthWeights() HealthWeights {
	return HealthWeights{Engagement: 40, Onboarding: 20, NPS: 20, Tickets: 20}
}

// Validate checks the weights.
func (w HealthWeights) Validate() error {
	for _, v := range []float64{w.Engagement, w.Onboarding, w.NPS, w.Tickets} {
		if v < 0 || v > 1000 {
			return fmt.Errorf("health_weights must be between 0 and 1000, got %v", v)
		}
	}
	if w.Engagement+w.Onboarding+w.NPS+w.Tickets == 0 {
		return errors.New("health_weights must not all be 0")
	}
	return nil
}

// healthLookback is how far back an account's latest NPS answer and open
// tickets are looked for.
const healthLookback = 365

// AccountHealth is an account's score on a day and 30 days before.
type AccountHealth struct {
	Account  string   `json:"account"`
	Score    float64  `json:"score"`
	Previous *float64 `json:"previous_score"`
	Change   *float64 `json:"change"`
	// The components, each 0..1.
	Engagement float64 `json:"engagement"`
	Onboarded  bool    `json:"onboarded"`
	NPS        float64 `json:"nps"`
	OpenUrgent int     `json:"open_urgent_tickets"`
}

// healthAt scores the customer accounts of day d.
func healthAt(in Input, d Day) (map[uint32]AccountHealth, bool) {
	var part *Part
	for i := range in.Parts {
		if in.Parts[i].Day.Equal(d) {
			part = &in.Parts[i]
		}
	}
	if part == nil {
		return nil, false
	}
	w := in.Config.HealthWeights
	loc := in.Config.Location()
	end := d.End(loc)
	active := map[uint32]int{}
	for _, p := range in.Between(d.AddDays(-29), d) {
		if b := p.Sets[SetActiveAccounts]; b != nil {
			it := b.Iterator()
			for it.HasNext() {
				active[it.Next()]++
			}
		}
	}
	latest := map[uint32]Response{}
	open := map[uint32]int{}
	for _, p := range in.Between(d.AddDays(-healthLookback), d) {
		for _, r := range p.Responses {
			if r.Type == "nps" && r.Account != nil && !r.Time.After(end) {
				if old, ok := latest[*r.Account]; !ok || r.Newer(old) {
					latest[*r.Account] = r
				}
			}
		}
		for _, t := range p.Tickets {
			if t.AccountOrd != nil && escalatedUrgent(t) && t.Created.Before(end) && (t.Resolved == nil || !t.Resolved.Before(end)) {
				open[*t.AccountOrd]++
			}
		}
	}
	out := map[uint32]AccountHealth{}
	for _, a := range part.Accounts {
		h := AccountHealth{Account: a.ID, Engagement: float64(active[a.Ordinal]) / 30, Onboarded: a.Onboarded, NPS: 0.5, OpenUrgent: open[a.Ordinal]}
		if r, ok := latest[a.Ordinal]; ok {
			h.NPS = []float64{0, 0.5, 1}[NPSGroup(r.Score)]
		}
		onb, tix := 0.0, 1.0
		if h.Onboarded {
			onb = 1
		}
		if h.OpenUrgent > 0 {
			tix = 0
		}
		total := w.Engagement + w.Onboarding + w.NPS + w.Tickets
		h.Score = 100 * (w.Engagement*h.Engagement + w.Onboarding*onb + w.NPS*h.NPS + w.Tickets*tix) / total
		out[a.Ordinal] = h
	}
	return out, true
}

// escalatedUrgent: the health score counts urgent tickets only.
func escalatedUrgent(t Ticket) bool { return t.Priority == "urgent" }

// AtRiskDrop is how many points a score must fall in 30 days to put an
// account at risk.
const AtRiskDrop = 20

func evalHealth(in Input) Result {
	now, ok := healthAt(in, in.To)
	if !ok {
		return Result{Details: map[string]any{"note": "the range's last day is not aggregated"}}
	}
	before, _ := healthAt(in, in.To.AddDays(-30))
	var list, risk []AccountHealth
	for _, ord := range slices.Sorted(maps.Keys(now)) {
		h := now[ord]
		if b, ok := before[ord]; ok {
			p, c := b.Score, h.Score-b.Score
			h.Previous, h.Change = &p, &c
			if c <= -AtRiskDrop {
				risk = append(risk, h)
			}
		}
		list = append(list, h)
	}
	byScore := func(a, b AccountHealth) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Account, b.Account)
	}
	slices.SortFunc(list, byScore)
	sum := 0.0
	for _, h := range list {
		sum += h.Score
	}
	slices.SortFunc(risk, func(a, b AccountHealth) int { return cmp.Compare(*a.Change, *b.Change) })
	if list == nil {
		list = []AccountHealth{}
	}
	if risk == nil {
		risk = []AccountHealth{}
	}
	n := float64(len(list))
	return Result{Value: ratio(sum, n, 1), Numerator: sum, Denominator: n,
		Details: map[string]any{"accounts": list[:min(len(list), 1000)], "at_risk": risk, "weights": in.Config.HealthWeights, "day": in.To.String()}}
}
