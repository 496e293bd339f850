package kpi

import (
	"bytes"

	"encoding/json"
	"github.com/RoaringBitmap/roaring/v2"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/event"
)

// TraitChange is a trait's value from a time on.
type TraitChange struct {
	At    time.Time `json:"at"`
	Value string    `json:"v"`
}

// Traits is a trait history: per trait, its changes in time order. A
// user's history also holds GroupTrait, the account they belong to.
type Traits map[string][]TraitChange

// GroupTrait is the pseudo-trait holding a user's account: the groupId of
// their latest group call.
const GroupTrait = "$group"

// AccountID is the dictionary id of an account (a groupId), apart from
// user ids.
func AccountID(groupID string) string { return "@group:" + groupID }

// At is the trait's value at t: the latest change at or before it.
func (tr Traits) At(name string, t time.Time) (string, bool) {
	changes := tr[name]
	i, _ := slices.BinarySearchFunc(changes, t, func(c TraitChange, t time.Time) int {
		if c.At.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return "", false
	}
	return changes[i-1].Value, true
}

// Merge adds changes to the history. It returns the merged history and
// the earliest time from which values changed (zero if nothing did).
func (tr Traits) Merge(more Traits) (Traits, time.Time) {
	out := maps.Clone(tr)
	if out == nil {
		out = Traits{}
	}
	var earliest time.Time
	for name, changes := range more {
		cur := slices.Clone(out[name])
		for _, c := range changes {
			i, found := slices.BinarySearchFunc(cur, c.At, func(x TraitChange, t time.Time) int { return x.At.Compare(t) })
			if found {
				if cur[i].Value == c.Value || cur[i].Value > c.Value {
					continue // same instant: the greater value wins, whatever the order
				}
				cur[i] = c
			} else {
				before, ok := "", i > 0
				if ok {
					before = cur[i-1].Value
				}
				cur = slices.Insert(cur, i, c)
				if ok && before == c.Value {
					continue // no value changed
				}
			}
			if earliest.IsZero() || c.At.Before(earliest) {
				earliest = c.At
			}
		}
		if len(cur) > maxTraitChanges {
			cur = cur[len(cur)-maxTraitChanges:]
		}
		out[name] = cur
	}
	return out, earliest
}

// maxTraitChanges bounds a trait's history (the latest are kept).
const maxTraitChanges = 50

// skippedTraits are identity traits, never segments.
var skippedTraits = map[string]bool{
	"email": true, "name": true, "first_name": true, "firstname": true, "last_name": true, "lastname": true,
	"phone": true, "avatar": true, "username": true, "address": true, "created_at": true, "createdat": true,
	"id": true, "birthday": true, "description": true, "website": true, "title": true, "userid": true,
}

// maxTraitValue bounds a segment value's length.
const maxTraitValue = 100

// segmentTraits keeps the traits that can name a segment: strings,
// numbers and booleans, of at most 100 characters, but not identity
// traits such as email or name.
func segmentTraits(raw json.RawMessage) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		if skippedTraits[strings.ToLower(k)] || strings.HasPrefix(k, "$") || len(k) > 64 {
			continue
		}
		v = bytes.TrimSpace(v)
		var s string
		switch {
		case len(v) == 0 || bytes.Equal(v, []byte("null")) || v[0] == '{' || v[0] == '[':
			continue
		case v[0] == '"':
			if json.Unmarshal(v, &s) != nil {
				continue
			}
		default:
			s = string(v)
		}
		if s != "" && len(s) <= maxTraitValue {
			out[k] = s
		}
	}
	return out
}

// traitChanges are the trait histories a day's identify and group calls
// add: users' traits and accounts, accounts' traits.
func traitChanges(r *event.Record, add func(id, name string, c TraitChange)) {
	switch r.Type {
	case event.Identify:
		// An anonymous identify describes the visitor.
		for k, v := range segmentTraits(r.Traits) {
			add(r.User(), k, TraitChange{At: r.Timestamp, Value: v})
		}
	case event.Group:
		if r.User() != "" && r.GroupID != "" {
			add(r.User(), GroupTrait, TraitChange{At: r.Timestamp, Value: string(r.GroupID)})
		}
		for k, v := range segmentTraits(r.Traits) {
			add(AccountID(string(r.GroupID)), k, TraitChange{At: r.Timestamp, Value: v})
		}
	}
}

// SegmentSet names the set of users whose trait dim had value on the day.
func SegmentSet(dim, value string) string { return "seg:" + dim + "=" + value }

// Segments are each trait's values on a day, with the users holding them:
// their own traits, then those of the user a visitor is linked to
// (links), then those of the account (the first of them to name a trait
// wins). Values are read at the end of the day.
func Segments(users []string, idents map[string]Identity, end time.Time, links map[string]string) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, u := range users {
		seen := map[string]bool{}
		put := func(name, v string) {
			if seen[name] {
				return
			}
			seen[name] = true
			if out[name] == nil {
				out[name] = map[string][]string{}
			}
			out[name][v] = append(out[name][v], u)
		}
		chain := []string{u}
		if l, ok := links[u]; ok && l != u {
			chain = append(chain, l)
		}
		for _, id := range chain {
			tr := idents[id].Traits
			for _, name := range slices.Sorted(maps.Keys(tr)) {
				if name == GroupTrait {
					continue
				}
				if v, ok := tr.At(name, end); ok {
					put(name, v)
				}
			}
		}
		for _, id := range chain {
			if g, ok := idents[id].Traits.At(GroupTrait, end); ok {
				acct := idents[AccountID(g)].Traits
				for _, name := range slices.Sorted(maps.Keys(acct)) {
					if v, ok := acct.At(name, end); ok {
						put(name, v)
					}
				}
				break
			}
		}
	}
	return out
}

// segmentable are the sets that a trait filter restricts; the other parts
// of a part do not survive it.
var segmentable = []string{SetActiveUsers, SetNewUsers, SetSignups, SetPageVisitors, SetConvertedVisitors}

// segmentParts restricts parts to the users who, on each day, held every
// filter's trait value.
func segmentParts(parts []Part, filters []Filter) []Part {
	out := make([]Part, 0, len(parts))
	for _, p := range parts {
		var seg *roaring.Bitmap
		for _, f := range filters {
			b := p.Sets[SegmentSet(f.Dim, f.Value)]
			if b == nil {
				b = roaring.New()
			}
			if seg == nil {
				seg = b.Clone()
			} else {
				seg.And(b)
			}
		}
		q := NewPart(p.Day)
		for k, b := range p.Sets {
			if slices.Contains(segmentable, k) || strings.HasPrefix(k, "feature:") || strings.HasPrefix(k, "first_") {
				q.Sets[k] = roaring.And(b, seg)
			} else if strings.HasPrefix(k, "seg:") {
				q.Sets[k] = b
			}
		}
		var groups [3]float64 // the NPS counters of the segment's answers
		for _, r := range p.Responses {
			if seg.Contains(r.Ordinal) {
				q.Responses = append(q.Responses, r)
				if r.Type == "nps" {
					groups[NPSGroup(r.Score)]++
				}
			}
		}
		q.Counters[CounterNPSPromoters], q.Counters[CounterNPSPassives], q.Counters[CounterNPSDetractors] = groups[Promoter], groups[Passive], groups[Detractor]
		q.Counters[CounterDAU] = float64(q.Sets[SetActiveUsers].GetCardinality())
		if b := q.Sets[SetNewUsers]; b != nil {
			q.Counters[CounterDAUNew] = float64(b.GetCardinality())
		}
		if b := q.Sets[SetSignups]; b != nil {
			q.Counters[CounterSignups] = float64(b.GetCardinality())
		}
		if q.Sets[SetActiveUsers] == nil {
			q.Sets[SetActiveUsers] = roaring.New()
		}
		out = append(out, q)
	}
	return out
}

// segmentValues lists the values of a trait found in parts.
func segmentValues(parts []Part, dim string) []string {
	prefix := SegmentSet(dim, "")
	set := map[string]bool{}
	for _, p := range parts {
		for k := range p.Sets {
			if v, ok := strings.CutPrefix(k, prefix); ok {
				set[v] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// IsTraitDim reports whether a dimension is a trait for d: not one of its
// own breakdowns or filters.
func (d Definition) IsTraitDim(dim string) bool {
	return d.Segments && !slices.Contains(d.Breakdowns, dim) && !slices.Contains(d.Filters, dim)
}

// Evaluate computes the KPI, applying trait filters and a trait breakdown
// (for KPIs of user sets) before the KPI's own dimensions.
func (d Definition) Evaluate(in Input) Result {
	var traits, own []Filter
	for _, f := range in.Filters {
		if d.IsTraitDim(f.Dim) {
			traits = append(traits, f)
		} else {
			own = append(own, f)
		}
	}
	in.Filters = own
	base := in.Parts
	if len(traits) > 0 {
		in.Parts = segmentParts(base, traits)
	}
	if in.Breakdown == "" || !d.IsTraitDim(in.Breakdown) {
		return d.Eval(in)
	}
	dim := in.Breakdown
	in.Breakdown = ""
	r := d.Eval(in)
	r.Breakdown = nil
	for _, v := range segmentValues(in.Parts, dim) {
		sub := in
		sub.Parts = segmentParts(base, append(slices.Clone(traits), Filter{Dim: dim, Value: v}))
		br := d.Eval(sub)
		r.Breakdown = append(r.Breakdown, Row{Key: v, Value: br.Value, Numerator: br.Numerator, Denominator: br.Denominator})
	}
	sortRows(r.Breakdown)
	return r
}
