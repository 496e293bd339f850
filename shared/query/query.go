// Package query answers KPI questions from the stored daily parts: a range
// costs one read per day, never a scan of raw events.
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
	Parts(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Part, error)
	PartsOnly(ctx context.Context, tenantID string, from, to kpi.Day, names []string) ([]kpi.Part, error)
	DirtyDays(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Dirty, error)
}

// Service is the query use case.
type Service struct {
	Store Store
	Auth  tenant.Authenticator
	Log   *slog.Logger
	// OpenAPI is the API description served at /v1/openapi.json.
	OpenAPI []byte
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
	d, err := s.load(ctx, tenantID, q.From, q.To, []kpi.Definition{def})
	if err != nil {
		return Answer{}, err
	}
	return d.answer(def, q), nil
}

// data is what the KPIs of a range are computed from.
type data struct {
	cfg      kpi.Config
	parts    []kpi.Part // from the longest lookback to the longest lookforward
	history  []kpi.Part // every day before to, with only the history names
	complete bool
}

// load reads, once, the parts that the definitions need for from..to.
func (s *Service) load(ctx context.Context, tenantID string, from, to kpi.Day, defs []kpi.Definition) (data, error) {
	cfg, err := s.Store.Config(ctx, tenantID)
	if err != nil {
		return data{}, err
	}
	first, last := from, to
	var names []string
	for _, def := range defs {
		if f := from.AddDays(-def.Lookback(from.DaysUntil(to) + 1)); f.Before(first) {
			first = f
		}
		if l := to.AddDays(def.Lookforward); l.After(last) {
			last = l
		}
		names = append(names, def.History...)
	}
	d := data{cfg: cfg}
	if d.parts, d.complete, err = s.parts(ctx, tenantID, from, to, first, last); err != nil {
		return data{}, err
	}
	if len(names) > 0 {
		slices.Sort(names)
		if d.history, err = s.Store.PartsOnly(ctx, tenantID, kpi.NewDay(2000, 1, 1), to, slices.Compact(names)); err != nil {
			return data{}, err
		}
	}
	return d, nil
}

// answer evaluates a KPI on loaded data.
func (d data) answer(def kpi.Definition, q Request) Answer {
	if slices.Contains(def.Params, "interval") {
		// The KPI reads the interval itself (cohort periods): no series.
		q.Params = maps.Clone(q.Params)
		if q.Params == nil {
			q.Params = map[string]string{}
		}
		q.Params["interval"], q.Interval = q.Interval, ""
	}
	eval := func(from, to kpi.Day) kpi.Result {
		in := kpi.Input{From: from, To: to, Parts: d.parts, Breakdown: q.Breakdown, Filters: q.Filters, Params: q.Params, Config: d.cfg}
		if len(def.History) > 0 {
			before := def.HistoryBefore(from, to)
			var hs []kpi.Part
			for _, h := range d.history {
				if h.Day.Before(before) {
					hs = append(hs, h)
				}
			}
			in.History = kpi.Merge(hs)
		}
		return def.Evaluate(in)
	}
	r := eval(q.From, q.To)
	a := Answer{KPI: q.KPI, From: q.From.String(), To: q.To.String(), Value: r.Value, Numerator: r.Numerator,
		Denominator: r.Denominator, Details: r.Details, Breakdown: r.Breakdown, Complete: d.complete}
	if q.Interval != "" {
		a.Series = []Point{}
		for _, p := range Periods(q.From, q.To, q.Interval) {
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
	d, err := s.load(ctx, tenantID, q.From, q.To, defs)
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

// parts reads the parts from first to `to`, and whether every day of
// from..to is aggregated and up to date.
func (s *Service) parts(ctx context.Context, tenantID string, from, to, first, last kpi.Day) ([]kpi.Part, bool, error) {
	parts, err := s.Store.Parts(ctx, tenantID, first, last)
	if err != nil {
		return nil, false, fmt.Errorf("query %s: %w", tenantID, err)
	}
	inRange := 0
	for _, p := range parts {
		if !p.Day.Before(from) && !p.Day.After(to) {
			inRange++
		}
	}
	complete := inRange == from.DaysUntil(to)+1
	if complete {
		cfg, err := s.Store.Config(ctx, tenantID)
		if err != nil {
			return nil, false, err
		}
		dirty, err := s.Store.DirtyDays(ctx, tenantID, from.AddDays(-1), to.AddDays(1))
		if err != nil {
			return nil, false, err
		}
		for _, d := range dirty {
			for _, ld := range kpi.LocalDays(d.Day, cfg.Location()) {
				if !ld.Before(from) && !ld.After(to) {
					complete = false
				}
			}
		}
	}
	return parts, complete, nil
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
