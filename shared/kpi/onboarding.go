package kpi

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// CompletedAt is when a user completed onboarding within the window after
// signup: the Onboarding Completed event, or the last configured step
// reached in order, whichever came first.
func CompletedAt(cfg Config, id Identity) (time.Time, bool) {
	signup := id.First(SignedUp)
	if signup.IsZero() {
		return time.Time{}, false
	}
	window := time.Duration(cfg.OnboardingWindowDays) * 24 * time.Hour
	var done time.Time
	if o := id.First(Onboarded); !o.IsZero() && o.At.Sub(signup.At) <= window {
		done = o.At
	}
	if n := len(cfg.OnboardingSteps); n > 0 {
		prev := signup.At
		for k := 1; k <= n; k++ {
			f := id.First(StepMilestone(k))
			if f.IsZero() || f.At.Before(prev) || f.At.Sub(signup.At) > window {
				prev = time.Time{}
				break
			}
			prev = f.At
		}
		if !prev.IsZero() && (done.IsZero() || prev.Before(done)) {
			done = prev
		}
	}
	return done, !done.IsZero()
}

// ListOnboardingHours are the hours from signup to completion.
const ListOnboardingHours = "onboarding_hours"

// AccountOnboarded is an account's milestone: one of its users completed
// onboarding within the window.
const AccountOnboarded Milestone = "user_onboarded"

// Counter and list names of the onboarding parts. A signup day's part
// describes its cohort: the users whose signup day it is.
const (
	CounterOnboarded   = "onboarding_completed"
	CounterTTFVReached = "ttfv_reached"
	ListTTFVHours      = "ttfv_hours"
)

func funnelCounter(k int) string { return "funnel_reached:" + strconv.Itoa(k) }

// StoppedSet names the set of cohort users whose furthest onboarding step
// is k (0: none), short of the last.
func StoppedSet(k int) string { return "funnel_stopped:" + strconv.Itoa(k) }

// NextSet names the set of users whose first completion of step k (0:
// signup) was followed by the labelled event.
func NextSet(k int, label string) string { return "next_after_step:" + strconv.Itoa(k) + ":" + label }
func funnelList(k int) string            { return "funnel_hours:" + strconv.Itoa(k) }
func ttfvWithin(days int) string         { return "ttfv_within_" + strconv.Itoa(days) + "d" }

// ttfvMarks are the "reached within" marks of time to first value.
var ttfvMarks = []int{1, 7, 30}

// onboardingPart adds a signup day's cohort figures to its part.
func onboardingPart(p *Part, cfg Config, cohort map[string]Identity) {
	window := time.Duration(cfg.OnboardingWindowDays) * 24 * time.Hour
	steps := len(cfg.OnboardingSteps)
	if steps == 0 {
		for _, id := range cohort {
			for m := range id.Firsts {
				if k, ok := strings.CutPrefix(string(m), "step:"); ok {
					if n, err := strconv.Atoi(k); err == nil && n > steps {
						steps = n
					}
				}
			}
		}
	}
	for k := 1; k <= steps; k++ {
		p.Counters[funnelCounter(k)] += 0
	}
	p.Counters[CounterOnboarded] += 0
	p.Counters[CounterTTFVReached] += 0
	for _, d := range ttfvMarks {
		p.Counters[ttfvWithin(d)] += 0
	}
	for _, u := range slices.Sorted(maps.Keys(cohort)) {
		id := cohort[u]
		signup := id.First(SignedUp).At
		within := func(m Milestone) (time.Time, bool) {
			f := id.First(m)
			return f.At, !f.IsZero() && f.At.Sub(signup) <= window
		}
		// The funnel: each step reached after the previous one, in order,
		// within the window.
		prev, reached := signup, 0
		for k := 1; k <= steps; k++ {
			t, ok := within(StepMilestone(k))
			if !ok || t.Before(prev) {
				break
			}
			reached = k
			p.Counters[funnelCounter(k)]++
			p.Lists[funnelList(k)] = append(p.Lists[funnelList(k)], t.Sub(prev).Hours())
			prev = t
		}
		if reached < steps {
			if p.Sets[StoppedSet(reached)] == nil {
				p.Sets[StoppedSet(reached)] = roaring.New()
			}
			p.Sets[StoppedSet(reached)].Add(id.Ordinal)
		}
		if doneAt, ok := CompletedAt(cfg, id); ok {
			p.Counters[CounterOnboarded]++
			p.Lists[ListOnboardingHours] = append(p.Lists[ListOnboardingHours], math.Max(0, doneAt.Sub(signup).Hours()))
		}
		if fv := id.First(FirstValue); !fv.IsZero() {
			hours := math.Max(0, fv.At.Sub(signup).Hours())
			p.Counters[CounterTTFVReached]++
			p.Lists[ListTTFVHours] = append(p.Lists[ListTTFVHours], hours)
			for _, d := range ttfvMarks {
				if hours <= float64(24*d) {
					p.Counters[ttfvWithin(d)]++
				}
			}
		}
	}
}

// Median is the middle of values (the mean of the two middle ones for an
// even count); P90 the nearest-rank 90th percentile; nil when empty.
func Median(values []float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	v := slices.Sorted(slices.Values(values))
	n := len(v)
	m := v[n/2]
	if n%2 == 0 {
		m = (v[n/2-1] + v[n/2]) / 2
	}
	return &m
}

// P90 is the nearest-rank 90th percentile: the smallest value with at
// least 90% of the values at or below it.
func P90(values []float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	v := slices.Sorted(slices.Values(values))
	x := v[int(math.Ceil(0.9*float64(len(v))))-1]
	return &x
}

func mean(values []float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	s := 0.0
	for _, x := range values {
		s += x
	}
	return ratio(s, float64(len(values)), 1)
}

func evalOnboardingCompletion(in Input) Result {
	m := Merge(in.CoverRange())
	done, size := m.Counters[CounterOnboarded], m.Counters[CounterSignups]
	return Result{Value: ratio(done, size, 100), Numerator: done, Denominator: size,
		Details: map[string]any{"signed_up": size, "completed": done, "window_days": in.Config.OnboardingWindowDays}}
}

// FunnelStep is one step of the onboarding funnel.
type FunnelStep struct {
	Step          int      `json:"step"`
	Name          string   `json:"name,omitempty"`
	Reached       float64  `json:"reached"`
	ConversionPct *float64 `json:"conversion_pct"`
	Dropoff       float64  `json:"dropoff"`
	DropoffPct    *float64 `json:"dropoff_pct"`
	MedianHours   *float64 `json:"median_hours"`
	P90Hours      *float64 `json:"p90_hours"`
}

func evalFunnel(in Input) Result {
	// Merged with their counters and funnel lists only: a year of month
	// parts holds every list of the year (ticket times, hours to first
	// value, …), which the funnel does not read.
	parts := in.CoverRange()
	for i, p := range parts {
		lists := map[string][]float64{}
		for k, l := range p.Lists {
			if strings.HasPrefix(k, "funnel_hours:") {
				lists[k] = l
			}
		}
		parts[i].Lists, parts[i].Sets = lists, map[string]*roaring.Bitmap{}
	}
	m := Merge(parts)
	size := m.Counters[CounterSignups]
	steps := len(in.Config.OnboardingSteps)
	for k := range m.Counters {
		if s, ok := strings.CutPrefix(k, "funnel_reached:"); ok {
			if n, err := strconv.Atoi(s); err == nil && n > steps {
				steps = n
			}
		}
	}
	prev := size
	out := []FunnelStep{}
	for k := 1; k <= steps; k++ {
		r := m.Counters[funnelCounter(k)]
		st := FunnelStep{Step: k, Reached: r, ConversionPct: ratio(r, prev, 100), Dropoff: prev - r, DropoffPct: ratio(prev-r, prev, 100),
			MedianHours: Median(m.Lists[funnelList(k)]), P90Hours: P90(m.Lists[funnelList(k)])}
		if k <= len(in.Config.OnboardingSteps) {
			st.Name = in.Config.OnboardingSteps[k-1]
		}
		out = append(out, st)
		prev = r
	}
	last := 0.0
	if steps > 0 {
		last = m.Counters[funnelCounter(steps)]
	}
	// The biggest drop-off is the step most users abandon at.
	worst := 0
	for i, s := range out {
		if worst == 0 || s.Dropoff > out[worst-1].Dropoff {
			worst = i + 1
		}
	}
	details := map[string]any{"signed_up": size, "steps": out, "worst_step": nil}
	if worst > 0 {
		details["worst_step"] = worst
	}
	return Result{Value: ratio(last, size, 100), Numerator: last, Denominator: size, Details: details}
}

func evalTTFV(in Input) Result {
	m := Merge(in.CoverRange())
	hours := m.Lists[ListTTFVHours]
	size, reached := m.Counters[CounterSignups], m.Counters[CounterTTFVReached]
	details := map[string]any{"median_hours": Median(hours), "p90_hours": P90(hours), "mean_hours": mean(hours),
		"reached": reached, "signed_up": size}
	for _, d := range ttfvMarks {
		details["within_"+strconv.Itoa(d)+"d_pct"] = ratio(m.Counters[ttfvWithin(d)], size, 100)
	}
	return Result{Value: Median(hours), Numerator: reached, Denominator: size, Details: details}
}

// CohortRow is one signup cohort of the retention triangle.
type CohortRow struct {
	Cohort string `json:"cohort"`
	Size   int    `json:"size"`
	// Active and Pct are per period after signup; nil for a period that
	// has not ended yet.
	Active []*float64 `json:"active"`
	Pct    []*float64 `json:"pct"`
}

// retentionPeriod returns the days of period n after a signup day for an
// interval.
func retentionPeriod(signup Day, n int, interval string) (Day, Day) {
	switch interval {
	case "day":
		d := signup.AddDays(n)
		return d, d
	case "month":
		start := Day{signup.t.AddDate(0, n, 0)}
		return start, Day{signup.t.AddDate(0, n+1, 0)}.AddDays(-1)
	}
	return signup.AddDays(7 * n), signup.AddDays(7*n + 6)
}

// cohortStart is the first day of the cohort (day, ISO week or month) of d.
func cohortStart(d Day, interval string) Day {
	switch interval {
	case "day":
		return d
	case "month":
		return NewDay(d.Year(), d.Month(), 1)
	}
	return d.AddDays(-((int(d.Weekday()) + 6) % 7))
}

// evalRetention builds the cohort triangle from hits (cohorts.go): those
// of month parts, and those it counts on day parts.
func evalRetention(in Input) Result {
	interval := in.Params["interval"]
	if interval == "" {
		interval = "week"
	}
	iv := uint8(slices.Index(cohortIntervals, interval))
	end := in.To.AddDays(retentionLookforward)
	parts := in.Cover(in.From, end)
	byDay := map[Day]Part{}
	for _, p := range in.Parts {
		byDay[p.Day] = p
	}
	// The signup days of the range, and the last day with data.
	var signups []signupDay
	last := Day{}
	inRange := func(d Day) bool { return !d.Before(in.From) && !d.After(in.To) }
	var bad error
	for _, p := range parts {
		if !p.IsMonth() {
			if b := p.Sets[SetSignups]; b != nil && !b.IsEmpty() && inRange(p.Day) {
				signups = append(signups, signupDay{p.Day, b})
			}
			last = maxDay(last, p.Day)
			continue
		}
		m := MonthOf(p.Day)
		if p.Cohorts == nil {
			// Requires keeps such months out of a query.
			bad = errors.Join(bad, fmt.Errorf("month part %s has no cohort summary", m))
			continue
		}
		for _, c := range p.Cohorts.Signups {
			d := dayOfMonth(m, c.Day)
			if !inRange(d) {
				continue
			}
			b := roaring.New()
			if _, err := b.FromUnsafeBytes(c.Users); err != nil {
				bad = errors.Join(bad, fmt.Errorf("month part %s signups of %s: %w", m, d, err))
				continue
			}
			signups = append(signups, signupDay{d, b})
		}
		last = maxDay(last, dayOfMonth(m, p.Cohorts.Last))
	}
	slices.SortFunc(signups, func(a, b signupDay) int { return a.day.Compare(b.day) })
	hits := map[cohortKey]float64{}
	add := func(k cohortKey, n uint64) { hits[k] += float64(n) }
	activeOn := func(d Day) *roaring.Bitmap { return byDay[d].Sets[SetActiveUsers] }
	for _, p := range parts {
		if !p.IsMonth() {
			firstActive(p.Day, p.Sets[SetActiveUsers], signups, math.MaxInt, []uint8{iv}, activeOn, add)
		} else if p.Cohorts != nil {
			if err := p.Cohorts.unpackHits(MonthOf(p.Day), iv, in.From, in.To, add); err != nil {
				bad = errors.Join(bad, fmt.Errorf("month part %s: %w", MonthOf(p.Day), err))
			}
		}
	}
	if bad != nil {
		return Result{Details: map[string]any{"error": "unreadable cohort summary: " + bad.Error()}}
	}
	// Cohorts of the signup days in the range; each user's periods count
	// from their own signup day.
	cohorts := map[Day][]signupDay{}
	for _, s := range signups {
		c := cohortStart(s.day, interval)
		cohorts[c] = append(cohorts[c], s)
	}
	rows := []CohortRow{}
	var avgNum, avgDen []float64
	for _, c := range slices.SortedFunc(maps.Keys(cohorts), Day.Compare) {
		row := CohortRow{Cohort: c.String(), Active: []*float64{}, Pct: []*float64{}}
		for _, m := range cohorts[c] {
			row.Size += int(m.users.GetCardinality())
		}
		for n := 0; ; n++ {
			ended, active := true, 0.0
			for _, m := range cohorts[c] {
				_, to := retentionPeriod(m.day, n, interval)
				if to.After(last) {
					ended = false
					break
				}
				active += hits[cohortKey{iv, m.day, n}]
			}
			if !ended {
				break
			}
			a := active
			row.Active = append(row.Active, &a)
			row.Pct = append(row.Pct, ratio(active, float64(row.Size), 100))
			for len(avgNum) <= n {
				avgNum, avgDen = append(avgNum, 0), append(avgDen, 0)
			}
			avgNum[n] += active
			avgDen[n] += float64(row.Size)
		}
		rows = append(rows, row)
	}
	periods := 0
	for _, r := range rows {
		periods = max(periods, len(r.Active))
	}
	for i := range rows {
		for len(rows[i].Active) < periods {
			rows[i].Active = append(rows[i].Active, nil)
			rows[i].Pct = append(rows[i].Pct, nil)
		}
	}
	average := make([]*float64, periods)
	for n := range average {
		average[n] = ratio(avgNum[n], avgDen[n], 100)
	}
	var dataUntil *string
	if !last.IsZero() {
		s := last.String()
		dataUntil = &s
	}
	var value *float64
	num, den := 0.0, 0.0
	if periods > 1 {
		value, num, den = average[1], avgNum[1], avgDen[1]
	}
	return Result{Value: value, Numerator: num, Denominator: den,
		Details: map[string]any{"interval": interval, "cohorts": rows, "average_pct": average, "data_until": dataUntil}}
}

func evalDropoff(in Input) Result {
	cohort := Merge(in.CoverRange())
	size := cohort.Counters[CounterSignups]
	// Where users went after a step may be on any day up to the end of
	// their onboarding window after the range.
	after := Merge(in.Cover(in.From, in.To.AddDays(in.Config.OnboardingWindowDays+1)))
	type next struct {
		Path  string  `json:"path"`
		Count float64 `json:"count"`
	}
	type stop struct {
		StoppedAt int    `json:"stopped_at"`
		Users     uint64 `json:"users"`
		Next      []next `json:"next"`
	}
	stops := []stop{}
	total := 0.0
	for _, k := range cohort.SetNames() {
		ks, ok := strings.CutPrefix(k, "funnel_stopped:")
		if !ok {
			continue
		}
		step, _ := strconv.Atoi(ks)
		stopped := cohort.Set(k)
		st := stop{StoppedAt: step, Users: stopped.GetCardinality(), Next: []next{}}
		total += float64(st.Users)
		prefix := "next_after_step:" + ks + ":"
		for _, name := range after.SetNames() {
			if lbl, ok := strings.CutPrefix(name, prefix); ok {
				if c := stopped.AndCardinality(after.Set(name)); c > 0 {
					st.Next = append(st.Next, next{Path: lbl, Count: float64(c)})
				}
			}
		}
		slices.SortStableFunc(st.Next, func(a, b next) int { return cmp.Compare(b.Count, a.Count) })
		st.Next = st.Next[:min(10, len(st.Next))]
		stops = append(stops, st)
	}
	slices.SortFunc(stops, func(a, b stop) int { return a.StoppedAt - b.StoppedAt })
	return Result{Value: ratio(total, size, 100), Numerator: total, Denominator: size,
		Details: map[string]any{"signed_up": size, "stopped": stops}}
}

// Training counter and list names, per course.
func trainingStarted(c string) string   { return "training_started:" + c }
func trainingCompleted(c string) string { return "training_completed:" + c }
func trainingHours(c string) string     { return "training_hours:" + c }

// trainingPart adds the courses started on a day, with their completion.
func trainingPart(p *Part, started []Started) {
	for _, s := range started {
		p.Counters[trainingStarted(s.Course)]++
		p.Counters[trainingCompleted(s.Course)] += 0
		begin, done := s.Identity.First(TrainingStarted(s.Course)), s.Identity.First(TrainingCompleted(s.Course))
		if !done.IsZero() && !done.At.Before(begin.At) {
			p.Counters[trainingCompleted(s.Course)]++
			p.Lists[trainingHours(s.Course)] = append(p.Lists[trainingHours(s.Course)], done.At.Sub(begin.At).Hours())
		}
	}
}

func evalTraining(in Input) Result {
	m := Merge(in.CoverRange())
	var rows []Row
	var started, completed float64
	var hours []float64
	for _, k := range slices.Sorted(maps.Keys(m.Counters)) {
		course, ok := strings.CutPrefix(k, "training_started:")
		if !ok {
			continue
		}
		s, c := m.Counters[k], m.Counters[trainingCompleted(course)]
		h := m.Lists[trainingHours(course)]
		started, completed = started+s, completed+c
		hours = append(hours, h...)
		rows = append(rows, Row{Key: course, Value: ratio(c, s, 100), Numerator: c, Denominator: s,
			Details: map[string]any{"median_hours_to_complete": Median(h)}})
	}
	sortRows(rows)
	return Result{Value: ratio(completed, started, 100), Numerator: completed, Denominator: started,
		Details: map[string]any{"started": started, "completed": completed, "median_hours_to_complete": Median(hours)}, Breakdown: rows}
}
