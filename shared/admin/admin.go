// Package admin serves the admin-key routes: the tenant's KPI
// configuration and on-demand aggregation runs.
package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/erase"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// MaxRunDays bounds one on-demand run.
const MaxRunDays = 3*366 + 1

// ConfigStore reads and replaces a tenant's configuration.
type ConfigStore interface {
	Config(ctx context.Context, tenantID string) (kpi.Config, error)
	PutConfig(ctx context.Context, tenantID string, cfg kpi.Config) error
}

// Aggregator runs the nightly aggregation for given days.
type Aggregator interface {
	Run(ctx context.Context, tenantID string, days []kpi.Day) (aggregate.Report, error)
}

// WebhookAdmin manages a tenant's webhook providers.
type WebhookAdmin interface {
	Describe(ctx context.Context, tenantID, provider string) (webhook.Overview, error)
	Configure(ctx context.Context, tenantID, provider string, body []byte) error
	Reprocess(ctx context.Context, tenantID, provider string) (webhook.Reprocessed, error)
}

// Eraser erases a user's data on request and lists the erasures done.
type Eraser interface {
	EraseUser(ctx context.Context, tenantID, userID string) (erase.Receipt, error)
	Erasures(ctx context.Context, tenantID string) ([]json.RawMessage, error)
}

// Service is the admin use case.
type Service struct {
	Configs    ConfigStore
	Aggregator Aggregator
	Webhooks   WebhookAdmin
	Eraser     Eraser
	Auth       tenant.Authenticator
	Now        func() time.Time
	Log        *slog.Logger
}

// Handle serves GET and PUT /v1/config, POST /v1/admin/aggregate, the
// webhook providers' admin routes, DELETE /v1/users/{id} and GET
// /v1/admin/erasures.
func (s *Service) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = tenant.NewContext(ctx)
	return httpapi.Serve(ctx, s.Log, func() (events.APIGatewayV2HTTPResponse, error) {
		tenantID, err := s.Auth.Authenticate(ctx, httpapi.Key(req), tenant.Admin)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		body, err := httpapi.Body(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		method := req.RequestContext.HTTP.Method
		if provider, ok := req.PathParameters["provider"]; ok {
			return s.webhooks(ctx, tenantID, provider, method, req.RawPath, body)
		}
		if id, ok := req.PathParameters["id"]; ok && method == http.MethodDelete {
			rc, err := s.Eraser.EraseUser(ctx, tenantID, id)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			return httpapi.JSON(http.StatusOK, rc), nil
		}
		switch {
		case strings.HasSuffix(req.RawPath, "/admin/erasures") && method == http.MethodGet:
			list, err := s.Eraser.Erasures(ctx, tenantID)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			return httpapi.JSON(http.StatusOK, map[string]any{"erasures": list}), nil
		case strings.HasSuffix(req.RawPath, "/admin/aggregate") && method == http.MethodPost:
			rep, err := s.Aggregate(ctx, tenantID, body)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			return httpapi.JSON(http.StatusOK, rep), nil
		case strings.HasSuffix(req.RawPath, "/config") && method == http.MethodGet:
			cfg, err := s.Configs.Config(ctx, tenantID)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			return httpapi.JSON(http.StatusOK, cfg), nil
		case strings.HasSuffix(req.RawPath, "/config") && method == http.MethodPut:
			cfg, err := s.PutConfig(ctx, tenantID, body)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			return httpapi.JSON(http.StatusOK, cfg), nil
		}
		return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.NotFound, "no such admin route: %s %s", method, req.RawPath)
	})
}

// decodeStrict decodes a body that must be exactly one JSON object.
func decodeStrict(body []byte, v any) error { return httpapi.DecodeObject(body, v) }

// PutConfig validates and stores a configuration; fields left out take
// their defaults. An invalid one changes nothing.
func (s *Service) PutConfig(ctx context.Context, tenantID string, body []byte) (kpi.Config, error) {
	cfg := kpi.DefaultConfig()
	if err := decodeStrict(body, &cfg); err != nil {
		return kpi.Config{}, err
	}
	if cfg.ActiveEvents == nil {
		cfg.ActiveEvents = []string{}
	}
	if err := cfg.Validate(); err != nil {
		return kpi.Config{}, apierr.New(apierr.InvalidRequest, "invalid configuration: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err := s.Configs.PutConfig(ctx, tenantID, cfg); err != nil {
		return kpi.Config{}, err
	}
	return cfg, nil
}

// Aggregate runs the aggregation for the days of {"from", "to"}.
func (s *Service) Aggregate(ctx context.Context, tenantID string, body []byte) (aggregate.Report, error) {
	var in struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := decodeStrict(body, &in); err != nil {
		return aggregate.Report{}, err
	}
	from, err := kpi.ParseDay(in.From)
	if err != nil {
		return aggregate.Report{}, apierr.New(apierr.InvalidDate, "from: %v", err)
	}
	to, err := kpi.ParseDay(in.To)
	if err != nil {
		return aggregate.Report{}, apierr.New(apierr.InvalidDate, "to: %v", err)
	}
	if from.After(to) {
		return aggregate.Report{}, apierr.New(apierr.InvalidDate, "from %s is after to %s", from, to)
	}
	if from.Before(kpi.NewDay(2000, 1, 1)) {
		return aggregate.Report{}, apierr.New(apierr.InvalidDate, "from %s is before 2000-01-01", from)
	}
	if to.After(kpi.DayOf(s.Now(), time.UTC).AddDays(1)) {
		return aggregate.Report{}, apierr.New(apierr.InvalidDate, "to %s is in the future", to)
	}
	if n := from.DaysUntil(to) + 1; n > MaxRunDays {
		return aggregate.Report{}, apierr.New(apierr.InvalidDate, "a run covers at most %d days, asked for %d", MaxRunDays, n)
	}
	return s.Aggregator.Run(ctx, tenantID, kpi.Days(from, to))
}

// webhooks serves /v1/admin/webhooks/{provider}[/reprocess].
func (s *Service) webhooks(ctx context.Context, tenantID, provider, method, path string, body []byte) (events.APIGatewayV2HTTPResponse, error) {
	switch {
	case strings.HasSuffix(path, "/reprocess") && method == http.MethodPost:
		r, err := s.Webhooks.Reprocess(ctx, tenantID, provider)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return httpapi.JSON(http.StatusOK, r), nil
	case method == http.MethodGet:
		o, err := s.Webhooks.Describe(ctx, tenantID, provider)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return httpapi.JSON(http.StatusOK, o), nil
	case method == http.MethodPut:
		if err := s.Webhooks.Configure(ctx, tenantID, provider, body); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		o, err := s.Webhooks.Describe(ctx, tenantID, provider)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return httpapi.JSON(http.StatusOK, o), nil
	}
	return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.NotFound, "no such admin route: %s %s", method, path)
}
