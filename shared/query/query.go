// Package query answers KPI questions from the stored daily parts: a range
// costs one read per day, never a scan of raw events.
package query

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
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
	KPI      string
	From, To kpi.Day
	Interval string // "", day, week or month
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
			q, err := parse("", req.QueryStringParameters)
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
		q, err := parse(strings.TrimSuffix(id, ".csv"), req.QueryStringParameters)
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

func parse(id string, params map[string]string) (Request, error) {
	for k := range params {
		switch k {
		case "from", "to", "interval":
		case "breakdown", "filter":
			return Request{}, apierr.New(apierr.NotImplemented, "%s is not available yet", k)
		default:
			return Request{}, apierr.New(apierr.InvalidRequest, "unknown query parameter %q", k)
		}
	}
	q := Request{KPI: id, Interval: params["interval"]}
	if id != "" && !slices.Contains(kpi.Defined(), id) {
		return Request{}, apierr.New(apierr.UnknownKPI, "unknown KPI %q", id)
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
	parts, complete, err := s.parts(ctx, tenantID, q.From, q.To)
	if err != nil {
		return Answer{}, err
	}
	r := def.Eval(parts)
	a := Answer{KPI: q.KPI, From: q.From.String(), To: q.To.String(), Value: r.Value, Numerator: r.Numerator,
		Denominator: r.Denominator, Details: r.Details, Complete: complete}
	if q.Interval != "" {
		a.Series = []Point{}
		for _, p := range Periods(q.From, q.To, q.Interval) {
			var in []kpi.Part
			for _, part := range parts {
				if !part.Day.Before(p.From) && !part.Day.After(p.To) {
					in = append(in, part)
				}
			}
			pr := def.Eval(in)
			a.Series = append(a.Series, Point{Period: p.From.String(), Value: pr.Value, Numerator: pr.Numerator,
				Denominator: pr.Denominator, Details: pr.Details})
		}
	}
	return a, nil
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
	parts, complete, err := s.parts(ctx, tenantID, q.From, q.To)
	if err != nil {
		return Overview{}, err
	}
	o := Overview{From: q.From.String(), To: q.To.String(), Complete: complete, KPIs: []Headline{}, Pending: []string{}}
	for _, id := range kpi.Defined() {
		def, ok := kpi.Lookup(id)
		if !ok {
			o.Pending = append(o.Pending, id)
			continue
		}
		r := def.Eval(parts)
		o.KPIs = append(o.KPIs, Headline{KPI: id, Value: r.Value, Numerator: r.Numerator, Denominator: r.Denominator})
	}
	return o, nil
}

// parts reads the range's parts and whether every day of it is aggregated
// and up to date.
func (s *Service) parts(ctx context.Context, tenantID string, from, to kpi.Day) ([]kpi.Part, bool, error) {
	parts, err := s.Store.Parts(ctx, tenantID, from, to)
	if err != nil {
		return nil, false, fmt.Errorf("query %s: %w", tenantID, err)
	}
	complete := len(parts) == from.DaysUntil(to)+1
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
