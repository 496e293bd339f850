// Package query answers KPI questions from the stored parts, never a scan
// of raw events: a range reads the month parts of its whole months and day
// parts for its edges (see kpi.BuildMonth and kpi.Definition.Plan), so a
// year costs about 12 month parts and a few dozen day parts; KPIs that
// need day-level values read one part per day.
package query

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// MaxRangeDays bounds a query's range (three years, leap days included).
const MaxRangeDays = 3*366 + 1

// Store reads what the nightly run wrote.
type Store interface {
	Config(ctx context.Context, tenantID string) (kpi.Config, error)
	// DayParts returns the day parts of from..to in day order, with the
	// fields asked for.
	DayParts(ctx context.Context, tenantID string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error)
	PartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error)
	// MonthParts returns the month parts of the months from..to touch,
	// in month order, with the fields asked for; MonthPartsOnly, with only the named counters and
	// sets (none: only the days they merge).
	MonthParts(ctx context.Context, tenantID string, from, to kpi.Day, fields kpi.Fields) ([]kpi.Part, error)
	MonthPartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error)
	DirtyDays(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Dirty, error)
}

// Service is the query use case.
type Service struct {
	Store Store
	Auth  tenant.Authenticator
	Log   *slog.Logger
	// OpenAPI is the API description served at /v1/openapi.json.
	OpenAPI []byte
	// DayParts makes every query read day parts only, never month parts,
	// with all their fields: for a store whose months are not merged yet
	// (parts written before month parts existed), and as the reference
	// month parts and Definition.Fields are tested against.
	DayParts bool
}

// Answer is one KPI over a range, api.md's query shape.
type Answer struct {
	KPI         string         `json:"kpi"`
	From        string         `json:"from"`
	To          string         `json:"to"`
	Value       *float64       `json:"value"`
	Numerator   float64        `json:"numerator"`
	Denominator float64        `json:"denominator"`
	Details     map[string]any `json:"details"`
	Series      []Point        `json:"series,omitempty"`
	Breakdown   []kpi.Row      `json:"breakdown,omitempty"`
	Complete    bool           `json:"complete"`
}

// Point is one period of a series.
type Point struct {
	Period      string         `json:"period"`
	Value       *float64       `json:"value"`
	Numerator   float64        `json:"numerator"`
	Denominator float64        `json:"denominator"`
	Details     map[string]any `json:"details"`
}

// Request is a parsed KPI query.
type Request struct {
	KPI       string
	From, To  kpi.Day
	Interval  string // "", day, week or month
	Breakdown string
	Filters   []kpi.Filter
	// Params are the KPI-specific parameters (feature, …).
	Params map[string]string
}

// Handle serves GET /v1/kpis, /v1/kpis/{id}, /v1/kpis/{id}.csv and
// /v1/openapi.json.
func (s *Service) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = tenant.NewContext(ctx)
	return httpapi.Serve(ctx, s.Log, func() (events.APIGatewayV2HTTPResponse, error) {
		if req.RawPath == "/v1/openapi.json" {
			return httpapi.Text(http.StatusOK, "application/json", string(s.OpenAPI)), nil
		}
		tenantID, err := s.Auth.Authenticate(ctx, httpapi.Key(req), tenant.Read)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		id, isKPI := req.PathParameters["id"]
		if !isKPI {
			q, err := parse("", query(req))
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			all, err := s.All(ctx, tenantID, q)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			return httpapi.JSON(http.StatusOK, all), nil
		}
		csv := strings.HasSuffix(id, ".csv")
		if strings.TrimSuffix(id, ".csv") == "" {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.UnknownKPI, "a KPI id is required")
		}
		q, err := parse(strings.TrimSuffix(id, ".csv"), query(req))
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		a, err := s.KPI(ctx, tenantID, q)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if csv {
			return httpapi.Text(http.StatusOK, "text/csv; charset=utf-8", CSV(a)), nil
		}
		return httpapi.JSON(http.StatusOK, a), nil
	})
}

// query returns the query parameters with repeated ones kept apart
// (API Gateway joins them with commas in QueryStringParameters).
func query(req events.APIGatewayV2HTTPRequest) url.Values {
	if v, err := url.ParseQuery(req.RawQueryString); err == nil && req.RawQueryString != "" {
		return v
	}
	v := url.Values{}
	for k, val := range req.QueryStringParameters {
		v.Set(k, val)
	}
	return v
}

func parse(id string, values url.Values) (Request, error) {
	params := map[string]string{}
	for k, vs := range values {
		if len(vs) > 1 && k != "filter" {
			return Request{}, apierr.New(apierr.InvalidRequest, "query parameter %q is given more than once", k)
		}
		params[k] = vs[0]
	}
	q := Request{KPI: id, Interval: params["interval"], Breakdown: params["breakdown"], Params: map[string]string{}}
	if id != "" && !slices.Contains(kpi.Defined(), id) {
		return Request{}, apierr.New(apierr.UnknownKPI, "unknown KPI %q", id)
	}
	def, computed := kpi.Lookup(id)
	for k := range params {
		switch {
		case k == "from" || k == "to" || k == "interval":
		case (k == "breakdown" || k == "filter") && id != "":
		case computed && slices.Contains(def.Params, k):
			q.Params[k] = params[k]
		default:
			return Request{}, apierr.New(apierr.InvalidRequest, "unknown query parameter %q", k)
		}
	}
	for _, f := range values["filter"] {
		dim, value, ok := strings.Cut(f, ":")
		if !ok || dim == "" {
			return Request{}, apierr.New(apierr.InvalidRequest, "filter %q must be <dimension>:<value>", f)
		}
		q.Filters = append(q.Filters, kpi.Filter{Dim: dim, Value: value})
	}
	if computed {
		if q.Breakdown != "" && !slices.Contains(def.Breakdowns, q.Breakdown) && !def.IsTraitDim(q.Breakdown) {
			return Request{}, apierr.New(apierr.InvalidRequest, "%s cannot be broken down by %q (available: %s)", id, q.Breakdown, list(def.Breakdowns))
		}
		if def.CheckParams != nil {
			if err := def.CheckParams(q.Params); err != nil {
				return Request{}, apierr.New(apierr.InvalidRequest, "%s: %v", id, err)
			}
		}
		own := 0
		for _, f := range q.Filters {
			switch {
			case slices.Contains(def.Filters, f.Dim):
				own++
			case !def.IsTraitDim(f.Dim):
				return Request{}, apierr.New(apierr.InvalidRequest, "%s cannot be filtered by %q (available: %s)", id, f.Dim, list(def.Filters))
			}
		}
		if own > 1 {
			return Request{}, apierr.New(apierr.InvalidRequest, "%s takes one filter on %s at a time", id, list(def.Filters))
		}
	}
	var err error
	if q.From, err = day(params, "from"); err != nil {
		return Request{}, err
	}
	if q.To, err = day(params, "to"); err != nil {
		return Request{}, err
	}
	if q.From.After(q.To) {
		return Request{}, apierr.New(apierr.InvalidDate, "from %s is after to %s", q.From, q.To)
	}
	if n := q.From.DaysUntil(q.To) + 1; n > MaxRangeDays {
		return Request{}, apierr.New(apierr.InvalidDate, "range of %d days is longer than the %d allowed", n, MaxRangeDays)
	}
	switch q.Interval {
	case "", "day", "week", "month":
	default:
		return Request{}, apierr.New(apierr.InvalidRequest, "interval must be day, week or month, got %q", q.Interval)
	}
	return q, nil
}

func day(params map[string]string, name string) (kpi.Day, error) {
	v, ok := params[name]
	if !ok || v == "" {
		return kpi.Day{}, apierr.New(apierr.InvalidDate, "%s is required, as YYYY-MM-DD", name)
	}
	d, err := kpi.ParseDay(v)
	if err != nil {
		return kpi.Day{}, apierr.New(apierr.InvalidDate, "%s: %v", name, err)
	}
	if d.Before(kpi.NewDay(2000, 1, 1)) || d.After(kpi.NewDay(2199, 12, 31)) {
		return kpi.Day{}, apierr.New(apierr.InvalidDate, "%s %s is out of the supported years 2000 to 2199", name, d)
	}
	return d, nil
}

// KPI answers one KPI query.
func (s *Service) KPI(ctx context.Context, tenantID string, q Request) (Answer, error) {
	def, ok := kpi.Lookup(q.KPI)
	if !ok {
		return Answer{}, apierr.New(apierr.NotImplemented, "KPI %q is defined but not computed yet", q.KPI)
	}
	d, err := s.load(ctx, tenantID, q.From, q.To, []kpi.Definition{def}, q)
	if err != nil {
		return Answer{}, err
	}
	return d.answer(def, q), nil
}

// data is what the KPIs of a range are computed from.
type data struct {
	cfg kpi.Config
	// parts are the day parts read, in day order: every day from the
	// longest lookback to the longest lookforward for KPIs evaluated day
	// by day, the edges and day spans of the others.
	parts []kpi.Part
	// months are the month parts read for the KPIs of monthly.
	months  []kpi.Part
	monthly map[string]bool
	// history holds, for KPIs with History evaluated day by day, every day
	// part up to `to` with only the history names; histMonths and
	// histDays, for the others, the month parts before the month of the
	// latest HistoryBefore and the day parts of the months of the
	// HistoryBefore days, with only those names.
	history, histMonths, histDays []kpi.Part
	complete                      bool
}

// request is what the plan of a definition depends on.
func (q Request) input(def kpi.Definition, cfg kpi.Config, from, to kpi.Day) kpi.Input {
	return kpi.Input{From: from, To: to, Breakdown: q.Breakdown, Filters: q.Filters, Params: q.params(def), Config: cfg}
}

// params are the KPI's parameters, with the interval for KPIs that read
// it themselves; interval is the series' interval, empty for those.
func (q Request) params(def kpi.Definition) map[string]string {
	if !slices.Contains(def.Params, "interval") {
		return q.Params
	}
	p := maps.Clone(q.Params)
	if p == nil {
		p = map[string]string{}
	}
	p["interval"] = q.Interval
	return p
}

func (q Request) interval(def kpi.Definition) string {
	if slices.Contains(def.Params, "interval") {
		return ""
	}
	return q.Interval
}

// spans collects day spans, merged into disjoint ones in day order.
type spans []kpi.Span

func (sp *spans) add(from, to kpi.Day) {
	if !from.After(to) {
		*sp = append(*sp, kpi.Span{From: from, To: to})
	}
}

func (sp spans) merged() []kpi.Span {
	s := slices.Clone(sp)
	slices.SortFunc(s, func(a, b kpi.Span) int { return strings.Compare(a.From.String(), b.From.String()) })
	var out []kpi.Span
	for _, x := range s {
		if n := len(out); n > 0 && !x.From.After(out[n-1].To.AddDays(1)) {
			if x.To.After(out[n-1].To) {
				out[n-1].To = x.To
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// minus is the days of x outside the spans of read (disjoint, in day
// order), as spans.
func minus(x kpi.Span, read []kpi.Span) []kpi.Span {
	var out []kpi.Span
	for _, r := range read {
		if r.To.Before(x.From) || r.From.After(x.To) {
			continue
		}
		if r.From.After(x.From) {
			out = append(out, kpi.Span{From: x.From, To: r.From.AddDays(-1)})
		}
		x.From = r.To.AddDays(1)
		if x.From.After(x.To) {
			return out
		}
	}
	return append(out, x)
}

func (sp spans) contains(from, to kpi.Day) bool {
	for _, x := range sp.merged() {
		if !from.Before(x.From) && !to.After(x.To) {
			return true
		}
	}
	return false
}

// load reads, once, the parts that the definitions need for from..to.
// Each definition is planned (kpi.Definition.Plan) for the range and for
// each period of a monthly series: the month parts of the whole months
// its cover spans hold are read, and day parts for the rest of them and
// for its day spans; a definition that cannot be planned reads every day
// part of its lookback to its lookforward, as before month parts. A
// whole month without a month part is read day by day.
func (s *Service) load(ctx context.Context, tenantID string, from, to kpi.Day, defs []kpi.Definition, q Request) (data, error) {
	cfg, err := s.Store.Config(ctx, tenantID)
	if err != nil {
		return data{}, err
	}
	d := data{cfg: cfg, monthly: map[string]bool{}}
	var days spans
	var cover []kpi.Span
	var dayNames, monthNames []string
	var befores []kpi.Day // HistoryBefore days of the monthly definitions
	// Month parts are read with the fields of the definitions planned on
	// them (MonthFieldsOf); day parts with those of every definition, sets and lists
	// always (a day part is one item: leaving them out saves decoding,
	// not reading, and the plan of a definition that reads no set
	// may still read its days through a trait filter).
	var monthFields kpi.Fields
	// required are the counters a month part must hold to be read
	// (kpi.Definition.Requires); one without them is read as its days.
	var required []string
	// window is the longest DayWindow of the definitions planned on month
	// parts: a whole month read as its days is read with as many days
	// before it.
	window := 0
	dayFields := kpi.FieldSets | kpi.FieldLists
	for _, def := range defs {
		first := from.AddDays(-def.Lookback(from.DaysUntil(to) + 1))
		last := to.AddDays(def.Lookforward)
		clip := func(x kpi.Span) (kpi.Span, bool) {
			if x.From.Before(first) {
				x.From = first
			}
			if x.To.After(last) {
				x.To = last
			}
			return x, !x.From.After(x.To)
		}
		interval := q.interval(def)
		evals := []kpi.Span{{From: from, To: to}}
		if interval == "month" {
			for _, p := range Periods(from, to, interval) {
				evals = append(evals, kpi.Span{From: p.From, To: p.To})
			}
		}
		var defCover, defDays []kpi.Span
		var defRequired []string
		ok := !s.DayParts
		for _, e := range evals {
			in := q.input(def, cfg, e.From, e.To)
			f := def.FieldsOf(in)
			dayFields |= f
			if def.Requires != nil {
				dayFields |= def.Fields // day parts written before the counters
			}
			if !ok {
				break
			}
			monthFields |= def.MonthFieldsOf(in)
			if def.Requires != nil {
				defRequired = append(defRequired, def.Requires(in)...)
			}
			c, dd, planned := def.Plan(in, interval)
			ok = planned
			defCover, defDays = append(defCover, c...), append(defDays, dd...)
		}
		if !ok {
			days.add(first, last)
			dayNames = append(dayNames, def.History...)
			continue
		}
		d.monthly[def.ID] = true
		required = append(required, defRequired...)
		window = max(window, def.DayWindow)
		for _, x := range defCover {
			if x, in := clip(x); in {
				cover = append(cover, x)
			}
		}
		for _, x := range defDays {
			if x, in := clip(x); in {
				days.add(x.From, x.To)
			}
		}
		if len(def.History) > 0 {
			monthNames = append(monthNames, def.History...)
			for _, e := range evals {
				befores = append(befores, def.HistoryBefore(e.From, e.To))
			}
		}
	}
	// Month parts of the whole months of the cover spans; their edges,
	// and whole months without a month part, day by day.
	want := map[kpi.Day]bool{}
	var missing []kpi.Day // whole months without a month part
	for _, x := range cover {
		whole := kpi.WholeMonths(x.From, x.To)
		for _, m := range whole {
			want[m] = true
		}
		if len(whole) == 0 {
			days.add(x.From, x.To)
			continue
		}
		days.add(x.From, whole[0].AddDays(-1))
		days.add(kpi.MonthEnd(whole[len(whole)-1]).AddDays(1), x.To)
	}
	if len(want) > 0 {
		ms := slices.SortedFunc(maps.Keys(want), func(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) })
		read, err := s.Store.MonthParts(ctx, tenantID, ms[0], ms[len(ms)-1], monthFields)
		if err != nil {
			return data{}, fmt.Errorf("query %s: %w", tenantID, err)
		}
		have := map[kpi.Day]bool{}
		for _, mp := range read {
			if m := kpi.MonthOf(mp.Day); want[m] && mp.Holds(required) {
				d.months = append(d.months, mp)
				have[m] = true
			}
		}
		for _, m := range ms {
			if !have[m] {
				days.add(m, kpi.MonthEnd(m))
				missing = append(missing, m)
			}
		}
	}
	if s.DayParts {
		dayFields = kpi.AllFields
	}
	read := days.merged()
	for _, x := range read {
		ps, err := s.Store.DayParts(ctx, tenantID, x.From, x.To, dayFields)
		if err != nil {
			return data{}, fmt.Errorf("query %s: %w", tenantID, err)
		}
		d.parts = append(d.parts, ps...)
	}
	// A whole month read as its days is read with the window days before
	// it, when it has any (months after the data have none).
	var before spans
	for _, m := range missing {
		if window > 0 && slices.ContainsFunc(d.parts, func(p kpi.Part) bool { return kpi.MonthOf(p.Day).Equal(m) }) {
			before.add(m.AddDays(-window), m.AddDays(-1))
		}
	}
	for _, x := range before.merged() {
		for _, y := range minus(x, read) {
			ps, err := s.Store.DayParts(ctx, tenantID, y.From, y.To, dayFields)
			if err != nil {
				return data{}, fmt.Errorf("query %s: %w", tenantID, err)
			}
			d.parts = append(d.parts, ps...)
			days.add(y.From, y.To)
		}
	}
	if d.complete, err = s.complete(ctx, tenantID, cfg, from, to, days, d); err != nil {
		return data{}, err
	}
	if len(dayNames) > 0 {
		slices.Sort(dayNames)
		if d.history, err = s.Store.PartsOnly(ctx, tenantID, kpi.NewDay(2000, 1, 1), to, slices.Compact(dayNames)); err != nil {
			return data{}, err
		}
	}
	if len(monthNames) > 0 {
		slices.Sort(monthNames)
		monthNames = slices.Compact(monthNames)
		latest := slices.MaxFunc(befores, func(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) })
		if m := kpi.MonthOf(latest); m.After(kpi.NewDay(2000, 1, 1)) {
			if d.histMonths, err = s.Store.MonthPartsOnly(ctx, tenantID, kpi.NewDay(2000, 1, 1), m.AddDays(-1), monthNames); err != nil {
				return data{}, err
			}
		}
		var hd spans
		for _, b := range befores {
			hd.add(kpi.MonthOf(b), b.AddDays(-1))
		}
		for _, x := range hd.merged() {
			ps, err := s.Store.PartsOnly(ctx, tenantID, x.From, x.To, monthNames)
			if err != nil {
				return data{}, err
			}
			d.histDays = append(d.histDays, ps...)
		}
	}
	return d, nil
}

// complete reports whether every day of from..to is aggregated and up to
// date: the days of whole months with a month part are counted from it
// (a run that put day parts leaves them dirty until it has merged their
// months), the other days from their day parts.
func (s *Service) complete(ctx context.Context, tenantID string, cfg kpi.Config, from, to kpi.Day, read spans, d data) (bool, error) {
	counted := 0
	whole := kpi.WholeMonths(from, to)
	// The month parts read already say how many days they merge; the
	// others are asked for only when a whole month is not among them.
	months := map[kpi.Day]int{}
	for _, mp := range d.months {
		months[kpi.MonthOf(mp.Day)] = mp.Days
	}
	if slices.ContainsFunc(whole, func(m kpi.Day) bool { _, ok := months[m]; return !ok }) {
		ms, err := s.Store.MonthPartsOnly(ctx, tenantID, whole[0], whole[len(whole)-1], nil)
		if err != nil {
			return false, fmt.Errorf("query %s: %w", tenantID, err)
		}
		for _, mp := range ms {
			if m := kpi.MonthOf(mp.Day); months[m] == 0 {
				months[m] = mp.Days
			}
		}
	}
	for m := kpi.MonthOf(from); !m.After(to); m = kpi.NextMonth(m) {
		a, b := m, kpi.MonthEnd(m)
		if n, ok := months[m]; ok && !a.Before(from) && !b.After(to) {
			counted += n
			continue
		}
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if read.contains(a, b) {
			for _, p := range d.parts {
				if !p.Day.Before(a) && !p.Day.After(b) {
					counted++
				}
			}
			continue
		}
		ps, err := s.Store.PartsOnly(ctx, tenantID, a, b, nil)
		if err != nil {
			return false, fmt.Errorf("query %s: %w", tenantID, err)
		}
		counted += len(ps)
	}
	if counted != from.DaysUntil(to)+1 {
		return false, nil
	}
	dirty, err := s.Store.DirtyDays(ctx, tenantID, from.AddDays(-1), to.AddDays(1))
	if err != nil {
		return false, err
	}
	for _, dd := range dirty {
		for _, ld := range kpi.LocalDays(dd.Day, cfg.Location()) {
			if !ld.Before(from) && !ld.After(to) {
				return false, nil
			}
		}
	}
	return true, nil
}

// answer evaluates a KPI on loaded data.
func (d data) answer(def kpi.Definition, q Request) Answer {
	interval := q.interval(def)
	monthly := d.monthly[def.ID]
	eval := func(from, to kpi.Day) kpi.Result {
		in := q.input(def, d.cfg, from, to)
		in.Parts = d.parts
		if monthly {
			in.Months = d.months
		}
		if len(def.History) > 0 {
			before := def.HistoryBefore(from, to)
			var hs []kpi.Part
			if monthly {
				for _, h := range d.histMonths {
					if kpi.MonthOf(h.Day).Before(kpi.MonthOf(before)) {
						hs = append(hs, h)
					}
				}
				for _, h := range d.histDays {
					if !h.Day.Before(kpi.MonthOf(before)) && h.Day.Before(before) {
						hs = append(hs, h)
					}
				}
			} else {
				for _, h := range d.history {
					if h.Day.Before(before) {
						hs = append(hs, h)
					}
				}
			}
			in.History = kpi.Merge(hs)
		}
		return def.Evaluate(in)
	}
	r := eval(q.From, q.To)
	a := Answer{KPI: q.KPI, From: q.From.String(), To: q.To.String(), Value: r.Value, Numerator: r.Numerator,
		Denominator: r.Denominator, Details: r.Details, Breakdown: r.Breakdown, Complete: d.complete}
	if interval != "" {
		a.Series = []Point{}
		for _, p := range Periods(q.From, q.To, interval) {
			pr := eval(p.From, p.To)
			a.Series = append(a.Series, Point{Period: p.From.String(), Value: pr.Value, Numerator: pr.Numerator,
				Denominator: pr.Denominator, Details: pr.Details})
		}
	}
	return a
}

// Headline is one KPI's value in the overview.
type Headline struct {
	KPI         string   `json:"kpi"`
	Value       *float64 `json:"value"`
	Numerator   float64  `json:"numerator"`
	Denominator float64  `json:"denominator"`
}

// Overview is the answer of GET /v1/kpis.
type Overview struct {
	From     string     `json:"from"`
	To       string     `json:"to"`
	KPIs     []Headline `json:"kpis"`
	Complete bool       `json:"complete"`
	// Pending lists the KPIs of kpis.md not computed yet.
	Pending []string `json:"pending"`
}

// All answers every computed KPI's headline value for a range.
func (s *Service) All(ctx context.Context, tenantID string, q Request) (Overview, error) {
	var defs []kpi.Definition
	o := Overview{From: q.From.String(), To: q.To.String(), KPIs: []Headline{}, Pending: []string{}}
	for _, id := range kpi.Defined() {
		if def, ok := kpi.Lookup(id); ok {
			defs = append(defs, def)
		} else {
			o.Pending = append(o.Pending, id)
		}
	}
	d, err := s.load(ctx, tenantID, q.From, q.To, defs, Request{From: q.From, To: q.To})
	if err != nil {
		return Overview{}, err
	}
	o.Complete = d.complete
	for _, def := range defs {
		a := d.answer(def, Request{KPI: def.ID, From: q.From, To: q.To})
		o.KPIs = append(o.KPIs, Headline{KPI: def.ID, Value: a.Value, Numerator: a.Numerator, Denominator: a.Denominator})
	}
	return o, nil
}

// Period is a span of a series.
type Period struct{ From, To kpi.Day }

// Periods cuts from..to into days, ISO weeks (Monday first) or calendar
// months, each clipped to the range.
func Periods(from, to kpi.Day, interval string) []Period {
	var out []Period
	for start := from; !start.After(to); {
		end := start
		switch interval {
		case "week":
			end = start.AddDays((7 - (int(start.Weekday())+6)%7) - 1)
		case "month":
			end = kpi.NewDay(start.Year(), start.Month()+1, 1).AddDays(-1)
		}
		if end.After(to) {
			end = to
		}
		out = append(out, Period{From: start, To: end})
		start = end.AddDays(1)
	}
	return out
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
