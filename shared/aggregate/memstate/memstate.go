// Package memstate holds a tenant's aggregation state in memory: the
// state the nightly run (aggregate.Service) reads and writes, and the parts
// queries read, without DynamoDB, for the aggregation's unit tests and for
// benchmarks that measure the run itself (the DynamoDB adapter is tested
// against DynamoDB Local). It follows
// dynamostore's semantics (ordinals handed out on first sight, first
// milestones kept earliest, latest survey answers and ticket states).
package memstate

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

type resp struct {
	ts  int64
	mid string
	day kpi.Day
}

// State is the tenant state of aggregate.State held in memory.
type State struct {
	mu     sync.Mutex
	tenant string
	cfg    kpi.Config
	idents map[string][]byte // encoded (identity.go)
	// signups are the ids signed up on each day (Cohort's index).
	signups map[kpi.Day]map[string]bool
	next    uint32
	resps   map[string]resp
	// Stored are the day parts written; Marks the dirty days with their
	// times. Tests read and set them directly, between runs.
	Stored map[kpi.Day]kpi.Part
	Marks  map[kpi.Day]int64
	// Months are the month parts written, by the first day of the month.
	Months map[kpi.Day]kpi.Part
	tix    map[string]ticketState
	subs   map[string]bool
}

type ticketState struct {
	t       kpi.Ticket
	created kpi.Day
}

// New returns the empty state of one tenant.
func New(tenant string, cfg kpi.Config) *State {
	return &State{tenant: tenant, cfg: cfg, idents: map[string][]byte{}, signups: map[kpi.Day]map[string]bool{}, resps: map[string]resp{}, Stored: map[kpi.Day]kpi.Part{}, Months: map[kpi.Day]kpi.Part{}, Marks: map[kpi.Day]int64{}, tix: map[string]ticketState{}, subs: map[string]bool{}}
}

func (m *State) Tenants(context.Context) ([]string, error) { return []string{m.tenant}, nil }

func (m *State) Config(context.Context, string) (kpi.Config, error) { return m.cfg, nil }

func (m *State) Identities(_ context.Context, _ string, ids []string) (map[string]kpi.Identity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]kpi.Identity, len(ids))
	for _, id := range ids {
		ident, ok, err := m.get(id)
		if err != nil {
			return nil, err
		}
		if !ok {
			ident = kpi.Identity{Ordinal: m.next}
			m.next++
			if err := m.put(id, ident); err != nil {
				return nil, err
			}
		}
		out[id] = ident
	}
	return out, nil
}

// get decodes the identity of id; false if it has none.
func (m *State) get(id string) (kpi.Identity, bool, error) {
	b, ok := m.idents[id]
	if !ok {
		return kpi.Identity{}, false, nil
	}
	ident, err := decodeIdentity(b)
	if err != nil {
		return kpi.Identity{}, false, fmt.Errorf("memstate %q: %w", id, err)
	}
	return ident, true, nil
}

// put stores the identity of id, and indexes its signup day.
func (m *State) put(id string, ident kpi.Identity) error {
	b, err := encodeIdentity(ident)
	if err != nil {
		return fmt.Errorf("memstate %q: %w", id, err)
	}
	m.idents[id] = b
	return nil
}

func (m *State) SetFirst(_ context.Context, _ string, id string, ms kpi.Milestone, f kpi.First) (kpi.First, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ident, _, err := m.get(id)
	if err != nil {
		return kpi.First{}, false, err
	}
	have := ident.First(ms)
	if !have.IsZero() && !have.At.After(f.At) {
		return kpi.First{}, false, nil
	}
	if ident.Firsts == nil {
		ident.Firsts = map[kpi.Milestone]kpi.First{}
	}
	ident.Firsts[ms] = f
	if err := m.put(id, ident); err != nil {
		return kpi.First{}, false, err
	}
	if ms == kpi.SignedUp {
		delete(m.signups[have.Day], id)
		if m.signups[f.Day] == nil {
			m.signups[f.Day] = map[string]bool{}
		}
		m.signups[f.Day][id] = true
	}
	return have, true, nil
}

func (m *State) Cohort(_ context.Context, _ string, day kpi.Day) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.signups[day])), nil
}

func (m *State) ClaimResponse(_ context.Context, _ string, r kpi.Response, day kpi.Day) (bool, kpi.Day, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := r.Type + "#" + r.SurveyID + "#" + r.Respondent
	old, ok := m.resps[k]
	ts := r.Time.UnixNano()
	if ok && (old.ts > ts || (old.ts == ts && old.mid > r.MessageID)) {
		return false, kpi.Day{}, nil
	}
	m.resps[k] = resp{ts: ts, mid: r.MessageID, day: day}
	if ok && !old.day.Equal(day) {
		return true, old.day, nil
	}
	return true, kpi.Day{}, nil
}

func (m *State) PutPart(_ context.Context, _ string, p kpi.Part, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Stored[p.Day] = p
	return nil
}

// PutMonthPart stores a month part, replacing the month's earlier one.
func (m *State) PutMonthPart(_ context.Context, _ string, p kpi.Part, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Months[kpi.MonthOf(p.Day)] = p
	return nil
}

// MonthParts returns the month parts of the months from..to touch.
func (m *State) MonthParts(_ context.Context, _ string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []kpi.Part
	for mo := kpi.MonthOf(from); !mo.After(to); mo = kpi.NextMonth(mo) {
		if p, ok := m.Months[mo]; ok {
			out = append(out, p.Only(fields))
		}
	}
	return out, nil
}

// MonthPartsOnly is MonthParts without the fields: the counters and
// sets are in memory already, all of them.
func (m *State) MonthPartsOnly(ctx context.Context, t string, from, to kpi.Day, _ []string) ([]kpi.Part, error) {
	return m.MonthParts(ctx, t, from, to, kpi.FieldSets)
}

// DayParts is Parts with only the fields asked for.
func (m *State) DayParts(ctx context.Context, t string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error) {
	parts, err := m.Parts(ctx, t, from, to)
	for i := range parts {
		parts[i] = parts[i].Only(fields)
	}
	return parts, err
}

func (m *State) Parts(_ context.Context, _ string, from, to kpi.Day) ([]kpi.Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []kpi.Part
	for _, d := range kpi.Days(from, to) {
		if p, ok := m.Stored[d]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func (m *State) DirtyDays(_ context.Context, _ string, from, to kpi.Day) ([]kpi.Dirty, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []kpi.Dirty
	for _, d := range slices.SortedFunc(maps.Keys(m.Marks), func(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) }) {
		if !d.Before(from) && !d.After(to) {
			out = append(out, kpi.Dirty{Day: d, At: m.Marks[d]})
		}
	}
	return out, nil
}

func (m *State) ClearDirty(_ context.Context, _ string, d kpi.Dirty) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Marks[d.Day] == d.At {
		delete(m.Marks, d.Day)
	}
	return nil
}

func (m *State) PartsOnly(ctx context.Context, t string, from, to kpi.Day, _ []string) ([]kpi.Part, error) {
	m.mu.Lock()
	var days []kpi.Day
	for d := range m.Stored {
		if !d.Before(from) && !d.After(to) {
			days = append(days, d)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(days, func(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) })
	if len(days) == 0 {
		return nil, nil
	}
	return m.Parts(ctx, t, days[0], days[len(days)-1])
}

func (m *State) PutTraits(_ context.Context, _ string, id string, old, next kpi.Traits) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ident, _, err := m.get(id)
	if err != nil {
		return false, err
	}
	// Compared as stored, as dynamostore compares them: by their JSON.
	same, err := sameTraits(ident.Traits, old)
	if err != nil || !same {
		return false, err
	}
	ident.Traits = next
	return true, m.put(id, ident)
}

func (m *State) HasParts(_ context.Context, _ string, days []kpi.Day) (map[kpi.Day]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[kpi.Day]bool{}
	for _, d := range days {
		if _, ok := m.Stored[d]; ok {
			out[d] = true
		}
	}
	return out, nil
}

func (m *State) MarkDirty(_ context.Context, _ string, days []kpi.Day, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range days {
		m.Marks[d] = at.UnixNano()
	}
	return nil
}

func (m *State) ClaimTicket(_ context.Context, _ string, t kpi.Ticket, dayOf func(time.Time) kpi.Day) (bool, kpi.Day, kpi.Day, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.tix[t.ID]
	var prev *kpi.Ticket
	if ok {
		prev = &old.t
	}
	merged := kpi.MergeTicket(prev, t)
	day := dayOf(merged.Created)
	if ok && reflect.DeepEqual(merged, old.t) {
		return false, day, kpi.Day{}, nil
	}
	m.tix[t.ID] = ticketState{merged, day}
	if ok && !old.created.Equal(day) {
		return true, day, old.created, nil
	}
	return true, day, kpi.Day{}, nil
}

func (m *State) TicketsCreated(_ context.Context, _ string, day kpi.Day) ([]kpi.Ticket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []kpi.Ticket
	for _, st := range m.tix {
		if st.created.Equal(day) {
			out = append(out, st.t)
		}
	}
	return out, nil
}

func (m *State) AddSubscribers(_ context.Context, _ string, accounts []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range accounts {
		m.subs[a] = true
	}
	return nil
}

func (m *State) Subscribers(_ context.Context, _ string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.subs)), nil
}

func (m *State) MarkPending(_ context.Context, _ string, days []kpi.Day, at time.Time) ([]kpi.Day, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var marked []kpi.Day
	for _, d := range days {
		if _, ok := m.Marks[d]; !ok {
			m.Marks[d] = at.UnixNano()
			marked = append(marked, d)
		}
	}
	return marked, nil
}

func (m *State) ResponsesReplaced(_ context.Context, _ string, rs []kpi.Response) ([]kpi.Day, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]kpi.Day, len(rs))
	for i, r := range rs {
		old, ok := m.resps[r.Type+"#"+r.SurveyID+"#"+r.Respondent]
		if ts := r.Time.UnixNano(); ok && (old.ts < ts || old.ts == ts && old.mid <= r.MessageID) {
			out[i] = old.day
		}
	}
	return out, nil
}

func (m *State) Tickets(_ context.Context, _ string, ids []string) (map[string]kpi.Ticket, map[string]kpi.Day, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	states, days := map[string]kpi.Ticket{}, map[string]kpi.Day{}
	for _, id := range ids {
		if t, ok := m.tix[id]; ok {
			states[id], days[id] = t.t, t.created
		}
	}
	return states, days, nil
}

// Reached counts the identities whose first milestone m falls on day.
func (m *State) Reached(ms kpi.Milestone, day kpi.Day) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id := range m.idents {
		ident, _, err := m.get(id)
		if f := ident.First(ms); err == nil && !f.IsZero() && f.Day.Equal(day) {
			n++
		}
	}
	return n
}
