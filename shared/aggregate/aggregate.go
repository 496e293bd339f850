// Package aggregate is the nightly run: it reads a day's raw events, folds
// them into the tenant's state (identities, first active days, latest
// survey answers) and writes the day's KPI part. Running a day again gives
// the same part; days whose earlier results a run invalidates are run
// again in the same call.
package aggregate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// RawReader reads the raw event files of a tenant's UTC day.
type RawReader interface {
	Keys(ctx context.Context, kind, tenantID string, day kpi.Day) ([]string, error)
	Lines(ctx context.Context, key string, fn func(line []byte) error) error
}

// State is the tenant state the run reads and folds into.
type State interface {
	Tenants(ctx context.Context) ([]string, error)
	Config(ctx context.Context, tenantID string) (kpi.Config, error)
	Identities(ctx context.Context, tenantID string, ids []string) (map[string]kpi.Identity, error)
	SetFirst(ctx context.Context, tenantID, id string, m kpi.Milestone, f kpi.First) (replaced kpi.First, changed bool, err error)
	Cohort(ctx context.Context, tenantID string, day kpi.Day) ([]string, error)
	PutTraits(ctx context.Context, tenantID, id string, old, next kpi.Traits) (bool, error)
	HasParts(ctx context.Context, tenantID string, days []kpi.Day) (map[kpi.Day]bool, error)
	MarkDirty(ctx context.Context, tenantID string, days []kpi.Day, at time.Time) error
	ClaimTicket(ctx context.Context, tenantID string, t kpi.Ticket, dayOf func(time.Time) kpi.Day) (changed bool, created, oldCreated kpi.Day, err error)
	TicketsCreated(ctx context.Context, tenantID string, day kpi.Day) ([]kpi.Ticket, error)
	AddSubscribers(ctx context.Context, tenantID string, accounts []string) error
	Subscribers(ctx context.Context, tenantID string) ([]string, error)
	ClaimResponse(ctx context.Context, tenantID string, r kpi.Response, day kpi.Day) (counted bool, replaced kpi.Day, err error)
	PutPart(ctx context.Context, tenantID string, p kpi.Part, computedAt time.Time) error
	// Parts and PutMonthPart keep the month parts (kpi.BuildMonth) of the
	// months a run touched equal to the merge of their day parts.
	Parts(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Part, error)
	PutMonthPart(ctx context.Context, tenantID string, p kpi.Part, computedAt time.Time) error
	// PartsOnly reads day parts with only the named counters and sets:
	// the active users of the days before a month, for its summaries.
	PartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error)
	// MonthParts reads the month parts of from..to with only fields: the
	// signups of the months before a month, from their cohort summaries.
	MonthParts(ctx context.Context, tenantID string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error)
	DirtyDays(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Dirty, error)
	ClearDirty(ctx context.Context, tenantID string, d kpi.Dirty) error
	// MarkPending, ResponsesReplaced and Tickets let a run mark the days
	// a write will invalidate before it writes (see pending).
	MarkPending(ctx context.Context, tenantID string, days []kpi.Day, at time.Time) ([]kpi.Day, error)
	ResponsesReplaced(ctx context.Context, tenantID string, rs []kpi.Response) ([]kpi.Day, error)
	Tickets(ctx context.Context, tenantID string, ids []string) (map[string]kpi.Ticket, map[string]kpi.Day, error)
}

// RawKind is the raw store prefix the run reads.
const RawKind = "raw"

// maxPasses bounds the re-runs of invalidated days in one call; each pass
// only moves first-active days and latest answers in one direction, so
// they settle fast.
const maxPasses = 5

// Metrics records each tenant's run (optional).
type Metrics interface {
	// Aggregated reports a run that ended well: how long it took and, for
	// the nightly run, the time from the end of the newest day it
	// aggregated to the end of the run.
	Aggregated(ctx context.Context, nightly bool, took, lag time.Duration)
}

// Service runs aggregations.
type Service struct {
	Raw     RawReader
	State   State
	Now     func() time.Time
	Log     *slog.Logger
	Metrics Metrics

	peek peekTest // tests: how the window peeks (window.go)
}

// Report says what a run did.
type Report struct {
	Tenant string   `json:"tenant"`
	Days   []string `json:"days"`
	// Reruns are days run again because this run changed what they count
	// (a user's first active day moved earlier, a survey answer was
	// replaced).
	Reruns []string `json:"reruns"`
}

// Run aggregates the given local days of a tenant, then clears the dirty
// marks that the run covered.
func (s *Service) Run(ctx context.Context, tenantID string, days []kpi.Day) (Report, error) {
	cfg, err := s.State.Config(ctx, tenantID)
	if err != nil {
		return Report{}, err
	}
	started := s.Now().UTC()
	rep, err := s.run(ctx, tenantID, cfg, days)
	if err != nil {
		return rep, err
	}
	if err := s.clearCovered(ctx, tenantID, cfg, days, started); err != nil {
		return rep, err
	}
	if s.Metrics != nil {
		s.Metrics.Aggregated(ctx, false, s.Now().Sub(started), 0)
	}
	return rep, nil
}

func (s *Service) run(ctx context.Context, tenantID string, cfg kpi.Config, days []kpi.Day) (Report, error) {
	rep := Report{Tenant: tenantID, Days: []string{}, Reruns: []string{}}
	pm := &pending{marks: map[kpi.Day]int64{}, ranAfter: map[kpi.Day]bool{}}
	queue := sortedDays(days)
	done := map[kpi.Day]bool{}
	later := map[kpi.Day]bool{} // stale days outside this call
	for pass := 0; len(queue) > 0; pass++ {
		if pass == maxPasses {
			return rep, fmt.Errorf("aggregate %s: days still invalidated after %d passes: %v", tenantID, maxPasses, queue)
		}
		pending := map[kpi.Day]bool{}
		for _, d := range queue {
			pending[d] = true
		}
		next := map[kpi.Day]bool{}
		for _, d := range queue {
			delete(pending, d)
			if _, ok := pm.marks[d]; ok {
				pm.ranAfter[d] = true
			}
			reruns, stale, err := s.runDay(ctx, tenantID, cfg, d, pm)
			if err != nil {
				return rep, err
			}
			done[d] = true
			if pass == 0 {
				rep.Days = append(rep.Days, d.String())
			} else {
				rep.Reruns = append(rep.Reruns, d.String())
			}
			for _, r := range reruns {
				next[r] = true
			}
			// Days that read trait histories this day changed: those
			// still ahead in this pass will read the new history; those
			// done already run again; the others wait for the nightly run.
			for _, r := range stale {
				switch {
				case pending[r]:
				case done[r]:
					next[r] = true
				default:
					later[r] = true
				}
			}
		}
		queue = sortedDays(keys(next))
	}
	for d := range later {
		if done[d] {
			delete(later, d)
		}
	}
	// Month parts are merged again before any mark is cleared: a run
	// killed before it has merged them leaves its dirty days marked, and
	// the run that takes them up merges the months again.
	if err := s.mergeMonths(ctx, tenantID, done); err != nil {
		return rep, fmt.Errorf("aggregate %s: %w", tenantID, err)
	}
	if len(later) > 0 {
		if err := s.State.MarkDirty(ctx, tenantID, sortedDays(keys(later)), s.Now()); err != nil {
			return rep, fmt.Errorf("aggregate %s: %w", tenantID, err)
		}
	}
	// The pending marks of days this call ran again after marking them
	// are done with (unless newer events re-marked them since).
	for _, d := range sortedDays(keys(pm.ranAfter)) {
		if later[d] {
			continue
		}
		if err := s.State.ClearDirty(ctx, tenantID, kpi.Dirty{Day: d, At: pm.marks[d]}); err != nil {
			return rep, fmt.Errorf("aggregate %s: %w", tenantID, err)
		}
	}
	return rep, nil
}

// MergeMonths merges the month parts of the months days fall in (and of
// the days before and after them, as mergeMonths says) from the stored
// day parts, as a run does after
// its days: for day parts written otherwise (benchmarks seeding a store,
// a store upgraded from a version without month parts).
func (s *Service) MergeMonths(ctx context.Context, tenantID string, days []kpi.Day) error {
	ran := make(map[kpi.Day]bool, len(days))
	for _, d := range days {
		ran[d] = true
	}
	return s.mergeMonths(ctx, tenantID, ran)
}

// mergeMonths rebuilds the month parts of the months of the days run,
// and of the days before them: a nightly run killed between its day part
// and its month merge (yesterday is not marked dirty) leaves that month
// stale only until the next night, which runs the following day and so
// merges the month of the day before it again. A month part's summaries
// also read the kpi.MonthLookback days before the month (the 30-day
// windows of its first days), so the months that start within that many
// days after a day run are merged again too (up to two: a day of January
// is in the window of March's first day when February is short). Their
// cohort summaries read the signups of the kpi.CohortHorizon days before
// them and the active users of the kpi.CohortLookback days before them, so
// the months after a day run, up to that many days and to the last day
// stored, are merged again too: every night the month of the day before
// (and the next when a month begins), after a late day the months since.
func (s *Service) mergeMonths(ctx context.Context, tenantID string, ran map[kpi.Day]bool) error {
	if len(ran) == 0 {
		return nil
	}
	// The cohort summaries of the months up to kpi.CohortHorizon days
	// after a day count its signups: merged again up to the last day
	// stored.
	latest := slices.MaxFunc(keys(ran), kpi.Day.Compare)
	after, err := s.State.PartsOnly(ctx, tenantID, latest.AddDays(1), latest.AddDays(kpi.CohortHorizon), nil)
	if err != nil {
		return fmt.Errorf("merge months: %w", err)
	}
	for _, p := range after {
		if p.Day.After(latest) {
			latest = p.Day
		}
	}
	months := map[kpi.Day]bool{}
	for d := range ran {
		until := d.AddDays(kpi.CohortHorizon)
		if until.After(latest) {
			until = latest
		}
		for m := kpi.MonthOf(d.AddDays(-1)); !m.After(until); m = kpi.NextMonth(m) {
			months[m] = true
		}
	}
	for _, m := range sortedDays(keys(months)) {
		parts, err := s.State.Parts(ctx, tenantID, m, kpi.MonthEnd(m))
		if err != nil {
			return fmt.Errorf("merge month %s: %w", m, err)
		}
		if len(parts) == 0 {
			continue
		}
		active, signups := kpi.MonthWindow(m)
		before, err := s.State.PartsOnly(ctx, tenantID, active.From, active.To, []string{kpi.SetActiveUsers, kpi.SetSignups})
		if err != nil {
			return fmt.Errorf("merge month %s: %w", m, err)
		}
		older, err := s.signupsBefore(ctx, tenantID, signups)
		if err != nil {
			return fmt.Errorf("merge month %s: %w", m, err)
		}
		mp, ok := kpi.BuildMonth(parts, append(older, before...))
		if !ok {
			continue
		}
		if err := s.State.PutMonthPart(ctx, tenantID, mp, s.Now()); err != nil {
			return fmt.Errorf("merge month %s: %w", m, err)
		}
	}
	return nil
}

// signupsBefore reads the signups of the days of span as day parts with
// them alone: from the cohort summaries of the month parts of their
// months (kpi.CohortSignupParts), a few KB a month where the day parts
// are a hundred KB a day, and from the day parts of the months without
// one.
func (s *Service) signupsBefore(ctx context.Context, tenantID string, span kpi.Span) ([]kpi.Part, error) {
	months, err := s.State.MonthParts(ctx, tenantID, span.From, span.To, kpi.FieldCohorts)
	if err != nil {
		return nil, err
	}
	var out []kpi.Part
	have := map[kpi.Day]bool{}
	for _, mp := range months {
		if mp.Cohorts != nil && mp.Holds([]string{kpi.CounterCohorts}) {
			have[kpi.MonthOf(mp.Day)] = true
			parts, err := kpi.CohortSignupParts(mp, span.From, span.To)
			if err != nil {
				return nil, err
			}
			out = append(out, parts...)
		}
	}
	for m := kpi.MonthOf(span.From); !m.After(span.To); m = kpi.NextMonth(m) {
		if have[m] {
			continue
		}
		from, to := m, kpi.MonthEnd(m)
		if from.Before(span.From) {
			from = span.From
		}
		if to.After(span.To) {
			to = span.To
		}
		parts, err := s.State.PartsOnly(ctx, tenantID, from, to, []string{kpi.SetSignups})
		if err != nil {
			return nil, err
		}
		out = append(out, parts...)
	}
	return out, nil
}

// pending tracks the days a run marked dirty before a write that
// invalidates their parts (a user's earlier first day, a replaced survey
// answer, a ticket's new state, a trait history): the run re-runs them in
// the same call, but only the marks make a run killed after the write
// leave them for the next run, as what was replaced is no longer stored.
type pending struct {
	marks    map[kpi.Day]int64 // day -> the mark's time
	ranAfter map[kpi.Day]bool  // marked days run since they were marked
}

// premark marks days (but day itself, zero days and days already marked
// by this run) before a write that may invalidate them.
// It returns the days the write invalidates, to run again: what the
// write's own answer says could be lost when a write is retried after it
// was applied.
func (s *Service) premark(ctx context.Context, tenantID string, day kpi.Day, pm *pending, days ...kpi.Day) ([]kpi.Day, error) {
	var out, todo []kpi.Day
	for _, d := range days {
		if d.IsZero() || d.Equal(day) {
			continue
		}
		out = append(out, d)
		if _, have := pm.marks[d]; !have {
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	at := s.Now()
	todo = sortedDays(todo)
	marked, err := s.State.MarkPending(ctx, tenantID, todo, at)
	if err != nil {
		return nil, err
	}
	for _, d := range todo {
		pm.marks[d] = 0 // marked already by someone else: theirs to clear
	}
	for _, d := range marked {
		pm.marks[d] = at.UnixNano()
	}
	return out, nil
}

// runDay computes and stores one day's part and returns the other days
// whose parts it invalidated: reruns, to run again in this call, and
// stale, the later days that read trait histories it changed.
func (s *Service) runDay(ctx context.Context, tenantID string, cfg kpi.Config, day kpi.Day, pm *pending) (reruns, stale []kpi.Day, err error) {
	facts, events, err := s.facts(ctx, tenantID, cfg, day)
	if err != nil {
		return nil, nil, err
	}
	ids := facts.Identities()
	idents, err := s.State.Identities(ctx, tenantID, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	loc := cfg.Location()
	st := kpi.DayState{}
	for _, u := range slices.Sorted(maps.Keys(facts.Firsts)) {
		for _, r := range facts.Firsts[u] { // in milestone order
			m, at := r.M, r.At
			f := kpi.First{At: at, Day: kpi.DayOf(at, loc)}
			have := idents[u].First(m)
			if !have.IsZero() && !have.At.After(at) {
				continue
			}
			var anchor kpi.Day
			if a := kpi.Anchor(m); a != "" {
				anchor = idents[u].First(a).Day
			}
			pre, err := s.premark(ctx, tenantID, day, pm, have.Day, f.Day, anchor)
			if err != nil {
				return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
			}
			reruns = append(reruns, pre...)
			replaced, changed, err := s.State.SetFirst(ctx, tenantID, u, m, f)
			if err != nil {
				return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
			}
			if !changed {
				// Another run set it since idents were read (at this time
				// or earlier): count what is stored, not the stale copy.
				fresh, err := s.State.Identities(ctx, tenantID, []string{u})
				if err != nil {
					return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
				}
				idents[u] = fresh[u]
				continue
			}
			ident := idents[u]
			ident.Firsts = maps.Clone(ident.Firsts)
			if ident.Firsts == nil {
				ident.Firsts = map[kpi.Milestone]kpi.First{}
			}
			ident.Firsts[m] = f
			idents[u] = ident
			// Days whose parts counted the old first day, or now must
			// count the new one, run again.
			for _, d := range []kpi.Day{replaced.Day, f.Day} {
				if !d.IsZero() && !d.Equal(day) {
					reruns = append(reruns, d)
				}
			}
			// A cohort's figures follow its users' later milestones.
			if a := kpi.Anchor(m); a != "" {
				if ad := ident.First(a).Day; !ad.IsZero() && !ad.Equal(day) {
					reruns = append(reruns, ad)
				}
			}
		}
	}
	for _, u := range facts.ActiveUsers {
		if idents[u].First(kpi.FirstActive).Day.Equal(day) {
			st.NewUsers++
			st.NewUserIDs = append(st.NewUserIDs, u)
		}
	}
	if stale, err = s.applyTraits(ctx, tenantID, day, loc, facts.TraitChanges, idents, pm); err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	for _, u := range facts.KnownUsers {
		if idents[u].First(kpi.FirstSeen).Day.Equal(day) {
			st.NewKnown++
		}
	}
	cohort, err := s.State.Cohort(ctx, tenantID, day)
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	var missing []string
	for _, u := range cohort {
		if _, ok := idents[u]; !ok {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		more, err := s.State.Identities(ctx, tenantID, missing)
		if err != nil {
			return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
		}
		maps.Copy(idents, more)
	}
	st.Cohort = make(map[string]kpi.Identity, len(cohort))
	for _, u := range cohort {
		if idents[u].First(kpi.SignedUp).Day.Equal(day) { // the index may lead
			st.Cohort[u] = idents[u]
		}
	}
	ords := make(kpi.Ordinals, len(idents))
	for id, ident := range idents {
		ords[id] = ident.Ordinal
	}
	displaced, err := s.State.ResponsesReplaced(ctx, tenantID, facts.Responses)
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	pre, err := s.premark(ctx, tenantID, day, pm, displaced...)
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	reruns = append(reruns, pre...)
	for _, r := range facts.Responses {
		ok, replaced, err := s.State.ClaimResponse(ctx, tenantID, r, day)
		if err != nil {
			return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
		}
		if ok {
			st.Counted = append(st.Counted, r)
		}
		if !replaced.IsZero() {
			reruns = append(reruns, replaced)
		}
	}
	if err := s.accountsOnboarded(ctx, tenantID, cfg, facts, idents); err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	subDay, subStale, subReruns, err := s.subscriptions(ctx, tenantID, day, loc, facts, idents, pm)
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	st.Subscription = subDay
	stale = append(stale, subStale...)
	reruns = append(reruns, subReruns...)
	if st.Segments, err = s.segments(ctx, tenantID, day, loc, facts, st.Cohort, idents); err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	// Tickets: the day's updates replace older states; the tickets created
	// on the day are reported on its part, as of their latest update.
	dayOf := func(t time.Time) kpi.Day { return kpi.DayOf(t, loc) }
	pre, err = s.premarkTickets(ctx, tenantID, day, pm, facts.Tickets, dayOf)
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	reruns = append(reruns, pre...)
	for _, t := range facts.Tickets {
		changed, created, old, err := s.State.ClaimTicket(ctx, tenantID, t, dayOf)
		if err != nil {
			return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
		}
		if changed {
			for _, d := range []kpi.Day{created, old} {
				if !d.IsZero() && !d.Equal(day) {
					reruns = append(reruns, d)
				}
			}
		}
	}
	if st.Tickets, err = s.State.TicketsCreated(ctx, tenantID, day); err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	// Training courses started on the day, and where users went after
	// their first completion of an onboarding step (or signup) that day.
	for _, u := range slices.Sorted(maps.Keys(facts.Firsts)) {
		for _, r := range facts.Firsts[u] {
			if m := r.M; strings.HasPrefix(string(m), "training_start:") && idents[u].First(m).Day.Equal(day) {
				st.Started = append(st.Started, kpi.Started{User: u, Course: strings.TrimPrefix(string(m), "training_start:"), Identity: idents[u]})
			}
		}
		for k, next := range facts.NextAfter[u] {
			m := kpi.SignedUp
			if k > 0 {
				m = kpi.StepMilestone(k)
			}
			if idents[u].First(m).At.Equal(next.After) {
				st.Next = append(st.Next, kpi.NextStep{User: u, Step: k, Label: next.Label})
			}
		}
	}
	if err := s.accountsOfDay(ctx, tenantID, day, loc, facts, &st, idents); err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	part := kpi.BuildPart(cfg, facts, ords, st)
	if err := s.State.PutPart(ctx, tenantID, part, s.Now()); err != nil {
		return nil, nil, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
	}
	s.Log.InfoContext(ctx, "day aggregated", "tenant", tenantID, "day", day.String(), "events", events, "dau", len(facts.ActiveUsers), "sessions", facts.Sessions)
	return reruns, stale, nil
}

// premarkTickets marks the created days, old and new, of the tickets
// whose state the day's updates change.
func (s *Service) premarkTickets(ctx context.Context, tenantID string, day kpi.Day, pm *pending, tickets []kpi.Ticket, dayOf func(time.Time) kpi.Day) ([]kpi.Day, error) {
	if len(tickets) == 0 {
		return nil, nil
	}
	ids := make([]string, len(tickets))
	for i, t := range tickets {
		ids[i] = t.ID
	}
	states, days, err := s.State.Tickets(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	var marks []kpi.Day
	for _, t := range tickets {
		old, ok := states[t.ID]
		var prev *kpi.Ticket
		if ok {
			prev = &old
		}
		merged := kpi.MergeTicket(prev, t)
		if ok && sameTicket(merged, old) {
			continue
		}
		marks = append(marks, dayOf(merged.Created), days[t.ID])
	}
	return s.premark(ctx, tenantID, day, pm, marks...)
}

func sameTicket(a, b kpi.Ticket) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// applyTraits folds the day's trait changes into the identities' trait
// histories, and returns the later days that were aggregated with the old
// histories.
func (s *Service) applyTraits(ctx context.Context, tenantID string, day kpi.Day, loc *time.Location, changes map[string]kpi.Traits, idents map[string]kpi.Identity, pm *pending) ([]kpi.Day, error) {
	// The days the new histories will invalidate are marked first.
	var first time.Time
	for id, ch := range changes {
		if _, from := idents[id].Traits.Merge(ch); !from.IsZero() && (first.IsZero() || from.Before(first)) {
			first = from
		}
	}
	if !first.IsZero() {
		stale, err := s.staleAfter(ctx, tenantID, day, loc, first)
		if err != nil {
			return nil, err
		}
		if _, err := s.premark(ctx, tenantID, day, pm, stale...); err != nil {
			return nil, err
		}
	}
	var earliest time.Time
	for _, id := range slices.Sorted(maps.Keys(changes)) {
		for attempt := 0; ; attempt++ {
			ident := idents[id]
			merged, from := ident.Traits.Merge(changes[id])
			if from.IsZero() {
				break
			}
			ok, err := s.State.PutTraits(ctx, tenantID, id, ident.Traits, merged)
			if err != nil {
				return nil, err
			}
			if ok {
				ident.Traits = merged
				idents[id] = ident
				if earliest.IsZero() || from.Before(earliest) {
					earliest = from
				}
				break
			}
			if attempt == 5 {
				return nil, fmt.Errorf("traits of %q keep changing under this run", id)
			}
			fresh, err := s.State.Identities(ctx, tenantID, []string{id})
			if err != nil {
				return nil, err
			}
			idents[id] = fresh[id]
		}
	}
	if earliest.IsZero() {
		return nil, nil
	}
	return s.staleAfter(ctx, tenantID, day, loc, earliest)
}

// staleAfter returns the days after the one of `from` (but day) whose
// parts exist: those that read trait histories changed from then on.
func (s *Service) staleAfter(ctx context.Context, tenantID string, day kpi.Day, loc *time.Location, from time.Time) ([]kpi.Day, error) {
	later := kpi.Days(kpi.DayOf(from, loc).AddDays(1), kpi.DayOf(s.Now(), loc))
	if len(later) == 0 {
		return nil, nil
	}
	has, err := s.State.HasParts(ctx, tenantID, later)
	if err != nil {
		return nil, err
	}
	var stale []kpi.Day
	for _, d := range later {
		if has[d] && !d.Equal(day) {
			stale = append(stale, d)
		}
	}
	return stale, nil
}

// subscriptions folds the day's subscription events into their users'
// histories and states the accounts: customers at the day's end,
// cancellations, renewals and trials of the day, and the day's orders.
// Events are attributed to accounts from the complete histories at each
// run, so the order they arrive in never matters.
func (s *Service) subscriptions(ctx context.Context, tenantID string, day kpi.Day, loc *time.Location, facts kpi.Facts, idents map[string]kpi.Identity, pm *pending) (sd kpi.SubscriptionDay, stale, reruns []kpi.Day, err error) {
	subscribers, err := s.State.Subscribers(ctx, tenantID)
	if err != nil {
		return sd, nil, nil, err
	}
	if len(facts.SubEvents) > 0 {
		changes := map[string]kpi.Traits{}
		var users []string
		for _, e := range facts.SubEvents {
			if changes[e.User] == nil {
				changes[e.User] = kpi.Traits{}
			}
			changes[e.User][kpi.SubTrait] = append(changes[e.User][kpi.SubTrait], kpi.SubscriptionChange(e))
			users = append(users, e.User)
		}
		all := slices.Concat(subscribers, users)
		slices.Sort(all)
		all = slices.Compact(all)
		if err := s.fetch(ctx, tenantID, all, idents); err != nil {
			return sd, nil, nil, err
		}
		// A payment this day newly tells is reported on its trial's day:
		// that day runs again, marked before the histories are written.
		after := maps.Clone(idents)
		changed := map[string]bool{} // accounts
		for _, e := range facts.SubEvents {
			ident := after[e.User]
			merged, from := idents[e.User].Traits.Merge(changes[e.User])
			if from.IsZero() {
				continue
			}
			ident.Traits = merged
			after[e.User] = ident
			changed[kpi.AccountOf(e.User, e.Group, merged, e.At)] = true
		}
		var trialDays []kpi.Day
		for acct, evs := range kpi.AccountEvents(all, after) {
			if td, ok := paidTrialDay(evs, day, loc); ok && changed[acct] {
				trialDays = append(trialDays, td)
			}
		}
		if reruns, err = s.premark(ctx, tenantID, day, pm, trialDays...); err != nil {
			return sd, nil, nil, err
		}
		if stale, err = s.applyTraits(ctx, tenantID, day, loc, changes, idents, pm); err != nil {
			return sd, nil, nil, err
		}
		slices.Sort(users)
		if err := s.State.AddSubscribers(ctx, tenantID, slices.Compact(users)); err != nil {
			return sd, nil, nil, err
		}
		subscribers = all
	}
	if err := s.fetch(ctx, tenantID, subscribers, idents); err != nil {
		return sd, nil, nil, err
	}
	byAccount := kpi.AccountEvents(subscribers, idents)
	accounts := slices.Sorted(maps.Keys(byAccount))
	var orderAccounts []string
	for _, o := range facts.Orders {
		orderAccounts = append(orderAccounts, kpi.AccountOf(o.User, o.Group, idents[o.User].Traits, o.At))
	}
	if err := s.fetch(ctx, tenantID, slices.Concat(accounts, orderAccounts), idents); err != nil {
		return sd, nil, nil, err
	}
	end := day.End(loc).Add(-time.Nanosecond)
	for _, acct := range accounts {
		evs, ord := byAccount[acct], idents[acct].Ordinal
		if c, ok := kpi.CustomerAt(ord, evs, end); ok {
			c.ID = strings.TrimPrefix(acct, kpi.AccountID(""))
			f := idents[acct].First(kpi.AccountOnboarded)
			c.Onboarded = !f.IsZero() && !f.At.After(end)
			sd.Customers = append(sd.Customers, c)
		}
		var trialStart time.Time
		for _, e := range evs {
			if e.Kind == "trial" && trialStart.IsZero() {
				trialStart = e.At
			}
			if !kpi.DayOf(e.At, loc).Equal(day) {
				continue
			}
			switch e.Kind {
			case "cancelled":
				sd.Cancelled = append(sd.Cancelled, ord)
			case "renewed":
				sd.Renewed = append(sd.Renewed, ord)
			}
		}
		if !trialStart.IsZero() && kpi.DayOf(trialStart, loc).Equal(day) {
			tr := kpi.Trial{Start: trialStart}
			for _, e := range evs {
				if e.Kind == "paid" && !e.At.Before(trialStart) {
					tr.Paid = e.At
					break
				}
			}
			sd.Trials = append(sd.Trials, tr)
		}
	}
	for i, o := range facts.Orders {
		sd.Orders = append(sd.Orders, kpi.OrderRecord{Ordinal: idents[orderAccounts[i]].Ordinal, Revenue: o.Revenue})
	}
	return sd, stale, reruns, nil
}

// paidTrialDay returns the day of the trial an account paid for on day,
// other than day: the day its conversion is reported on.
func paidTrialDay(evs []kpi.AccountEvent, day kpi.Day, loc *time.Location) (kpi.Day, bool) {
	var trialStart time.Time
	for _, e := range evs {
		if e.Kind == "trial" && trialStart.IsZero() {
			trialStart = e.At
		}
		if e.Kind == "paid" && !trialStart.IsZero() && kpi.DayOf(e.At, loc).Equal(day) {
			if td := kpi.DayOf(trialStart, loc); !td.Equal(day) {
				return td, true
			}
		}
	}
	return kpi.Day{}, false
}

// accountsOnboarded records, on the accounts of the day's users who have
// completed onboarding in time, that one of their users did.
func (s *Service) accountsOnboarded(ctx context.Context, tenantID string, cfg kpi.Config, facts kpi.Facts, idents map[string]kpi.Identity) error {
	users := slices.Concat(slices.Collect(maps.Keys(facts.Firsts)), slices.Collect(maps.Keys(facts.TraitChanges)))
	slices.Sort(users)
	type done struct {
		acct string
		at   time.Time
	}
	var todo []done
	for _, u := range slices.Compact(users) {
		if at, ok := kpi.CompletedAt(cfg, idents[u]); ok {
			todo = append(todo, done{kpi.AccountOf(u, "", idents[u].Traits, at), at})
		}
	}
	var accts []string
	for _, d := range todo {
		accts = append(accts, d.acct)
	}
	if err := s.fetch(ctx, tenantID, accts, idents); err != nil {
		return err
	}
	loc := cfg.Location()
	for _, d := range todo {
		if have := idents[d.acct].First(kpi.AccountOnboarded); !have.IsZero() && !have.At.After(d.at) {
			continue
		}
		f := kpi.First{At: d.at, Day: kpi.DayOf(d.at, loc)}
		_, changed, err := s.State.SetFirst(ctx, tenantID, d.acct, kpi.AccountOnboarded, f)
		if err != nil {
			return err
		}
		if changed {
			ident := idents[d.acct]
			ident.Firsts = maps.Clone(ident.Firsts)
			if ident.Firsts == nil {
				ident.Firsts = map[kpi.Milestone]kpi.First{}
			}
			ident.Firsts[kpi.AccountOnboarded] = f
			idents[d.acct] = ident
		}
	}
	return nil
}

// accountsOfDay states the customer accounts of the day's active users,
// respondents and ticket requesters, for the health score. Only customer
// accounts are scored, so no other account is looked up.
func (s *Service) accountsOfDay(ctx context.Context, tenantID string, day kpi.Day, loc *time.Location, facts kpi.Facts, st *kpi.DayState, idents map[string]kpi.Identity) error {
	customers := map[string]uint32{}
	for _, c := range st.Subscription.Customers {
		customers[kpi.AccountID(c.ID)] = c.Ordinal
	}
	if len(customers) == 0 {
		return nil
	}
	end := day.End(loc).Add(-time.Nanosecond)
	st.Accounts = map[string]uint32{}
	for _, u := range facts.ActiveUsers {
		if o, ok := customers[kpi.AccountOf(u, "", idents[u].Traits, end)]; ok {
			st.ActiveAccounts = append(st.ActiveAccounts, o)
		}
	}
	for _, r := range facts.Responses {
		if o, ok := customers[kpi.AccountOf(r.Respondent, "", idents[r.Respondent].Traits, r.Time)]; ok {
			st.Accounts[r.Respondent] = o
		}
	}
	for i, t := range st.Tickets {
		acct := ""
		switch {
		case t.Account != "":
			acct = kpi.AccountID(t.Account)
		case t.Requester != "":
			if err := s.fetch(ctx, tenantID, []string{t.Requester}, idents); err != nil {
				return err
			}
			acct = kpi.AccountOf(t.Requester, "", idents[t.Requester].Traits, t.Created)
		}
		if o, ok := customers[acct]; ok {
			st.Tickets[i].AccountOrd = &o
		}
	}
	return nil
}

// fetch adds the identities of ids missing from idents.
func (s *Service) fetch(ctx context.Context, tenantID string, ids []string, idents map[string]kpi.Identity) error {
	var missing []string
	for _, id := range ids {
		if _, ok := idents[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	more, err := s.State.Identities(ctx, tenantID, slices.Compact(missing))
	if err != nil {
		return err
	}
	maps.Copy(idents, more)
	return nil
}

// segments are the trait values of the day's users (active, cohort and
// feature users) at the day's end.
func (s *Service) segments(ctx context.Context, tenantID string, day kpi.Day, loc *time.Location, facts kpi.Facts, cohort map[string]kpi.Identity, idents map[string]kpi.Identity) (map[string]map[string][]string, error) {
	users := slices.Concat(facts.ActiveUsers, slices.Collect(maps.Keys(cohort)), facts.PageVisitors, facts.ConvertedVisitors)
	for _, us := range facts.Features {
		users = append(users, us...)
	}
	slices.Sort(users)
	users = slices.Compact(users)
	end := day.End(loc).Add(-time.Nanosecond)
	var missing []string
	for _, u := range users {
		for _, id := range []string{u, facts.Links[u]} {
			if _, have := idents[id]; id != "" && !have {
				missing = append(missing, id) // a linked user not otherwise in the day
			}
			if g, ok := idents[id].Traits.At(kpi.GroupTrait, end); ok {
				if _, have := idents[kpi.AccountID(g)]; !have {
					missing = append(missing, kpi.AccountID(g))
				}
			}
		}
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	if len(missing) > 0 {
		more, err := s.State.Identities(ctx, tenantID, missing)
		if err != nil {
			return nil, err
		}
		maps.Copy(idents, more)
	}
	return kpi.Segments(users, idents, end, facts.Links), nil
}

// facts computes the day's facts from its window: the events from a day
// before the local day's start to a day after its end, read file by file
// in arrival order within each UTC day and fed to a kpi.DayBuilder as they
// are decoded, so no more than the builder's points is held. It returns
// the events of the window.
func (s *Service) facts(ctx context.Context, tenantID string, cfg kpi.Config, day kpi.Day) (kpi.Facts, int, error) {
	f, n, broken, err := s.build(ctx, tenantID, cfg, day, true)
	if err == nil && broken {
		// A file of a later UTC day held an event of the day: read the
		// window again keeping every later event.
		s.Log.WarnContext(ctx, "an event of the day in a later day's file: the window is read again", "tenant", tenantID, "day", day.String())
		f, n, _, err = s.build(ctx, tenantID, cfg, day, false)
	}
	return f, n, err
}

// clearCovered removes the dirty marks of UTC days whose local days were
// all run (at the start of this run or later marks stay).
func (s *Service) clearCovered(ctx context.Context, tenantID string, cfg kpi.Config, days []kpi.Day, started time.Time) error {
	if len(days) == 0 {
		return nil
	}
	ran := map[kpi.Day]bool{}
	for _, d := range days {
		ran[d] = true
	}
	sorted := sortedDays(days)
	dirty, err := s.State.DirtyDays(ctx, tenantID, sorted[0].AddDays(-1), sorted[len(sorted)-1].AddDays(1))
	if err != nil {
		return err
	}
	loc := cfg.Location()
	for _, d := range dirty {
		if d.At > started.UnixNano() {
			continue
		}
		covered := true
		for _, ld := range kpi.LocalDays(d.Day, loc) {
			covered = covered && ran[ld]
		}
		if covered {
			if err := s.State.ClearDirty(ctx, tenantID, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// Nightly runs every tenant for the day before today (in its zone) and for
// every day with late events, with the neighbouring days whose sessions
// those events may extend.
func (s *Service) Nightly(ctx context.Context) ([]Report, error) {
	tenants, err := s.State.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	var reports []Report
	for _, t := range tenants {
		rep, err := s.nightly(tenant.WithID(ctx, t), t)
		if err != nil {
			return reports, fmt.Errorf("nightly %s: %w", t, err)
		}
		reports = append(reports, rep)
	}
	return reports, nil
}

func (s *Service) nightly(ctx context.Context, tenantID string) (Report, error) {
	cfg, err := s.State.Config(ctx, tenantID)
	if err != nil {
		return Report{}, err
	}
	loc := cfg.Location()
	started := s.Now().UTC()
	today := kpi.DayOf(started, loc)
	want := map[kpi.Day]bool{today.AddDays(-1): true}
	dirty, err := s.State.DirtyDays(ctx, tenantID, kpi.NewDay(2000, 1, 1), today.AddDays(1))
	if err != nil {
		return Report{}, err
	}
	for _, d := range dirty {
		for _, ld := range kpi.LocalDays(d.Day, loc) {
			for _, n := range []kpi.Day{ld.AddDays(-1), ld, ld.AddDays(1)} {
				if n.Before(today) {
					want[n] = true
				}
			}
		}
	}
	days := sortedDays(keys(want))
	rep, err := s.run(ctx, tenantID, cfg, days)
	if err != nil {
		return rep, err
	}
	if err := s.clearCovered(ctx, tenantID, cfg, days, started); err != nil {
		return rep, err
	}
	if s.Metrics != nil {
		end := s.Now()
		// days is sorted and never empty: it holds yesterday.
		s.Metrics.Aggregated(ctx, true, end.Sub(started), end.Sub(days[len(days)-1].End(loc)))
	}
	return rep, nil
}

func keys(m map[kpi.Day]bool) []kpi.Day {
	out := make([]kpi.Day, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	return out
}

func sortedDays(days []kpi.Day) []kpi.Day {
	out := slices.Clone(days)
	slices.SortFunc(out, func(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) })
	return slices.CompactFunc(out, kpi.Day.Equal)
}
