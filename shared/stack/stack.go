// Package stack wires Uptake's services to their AWS clients, once, for the
// Lambda functions and the local stack alike: both serve the very same
// handlers.
package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/uptakehq/uptake/shared/admin"
	"github.com/uptakehq/uptake/shared/aggregate"
	"github.com/uptakehq/uptake/shared/alert"
	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/erase"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/ingest"
	"github.com/uptakehq/uptake/shared/logging"
	"github.com/uptakehq/uptake/shared/metrics"
	"github.com/uptakehq/uptake/shared/query"
	"github.com/uptakehq/uptake/shared/rawstore"
	"github.com/uptakehq/uptake/shared/secretbox"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// Env is the functions' configuration, read once from the environment.
type Env struct {
	Table  string
	Bucket string
	// S3PathStyle is set for S3 emulators (local runs).
	S3PathStyle bool
	LogLevel    slog.Level
	// SecretsKey is the key material that seals stored secrets; without
	// it, webhook secrets can be neither stored nor read.
	SecretsKey string
	// MetricsNamespace (METRICS_NAMESPACE, default DefaultMetricsNamespace)
	// and StackName (STACK_NAME, default "local") name the CloudWatch
	// metrics: their namespace and the value of their Stack dimension.
	MetricsNamespace string
	StackName        string
}

// DefaultMetricsNamespace is the metrics' namespace when METRICS_NAMESPACE
// is not set.
const DefaultMetricsNamespace = "Uptake"

// LoadEnv reads the configuration through getenv and reports every
// problem at once.
func LoadEnv(getenv func(string) string) (Env, error) {
	e := Env{Table: getenv("TABLE_NAME"), Bucket: getenv("BUCKET_NAME"), S3PathStyle: getenv("S3_FORCE_PATH_STYLE") == "true",
		SecretsKey: getenv("SECRETS_KEY"), LogLevel: slog.LevelInfo,
		MetricsNamespace: cmp.Or(getenv("METRICS_NAMESPACE"), DefaultMetricsNamespace), StackName: cmp.Or(getenv("STACK_NAME"), "local")}
	var errs []error
	if e.Table == "" {
		errs = append(errs, errors.New("TABLE_NAME is not set"))
	}
	if e.Bucket == "" {
		errs = append(errs, errors.New("BUCKET_NAME is not set"))
	}
	if e.SecretsKey != "" && len(e.SecretsKey) < 16 {
		errs = append(errs, errors.New("SECRETS_KEY must be at least 16 characters"))
	}
	if lvl, err := logging.ParseLevel(getenv("LOG_LEVEL")); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	} else {
		e.LogLevel = lvl
	}
	return e, errors.Join(errs...)
}

// Clients builds the DynamoDB and S3 clients from an AWS configuration.
// Emulators need path-style S3 addressing and checksums only when
// required; both are harmless on AWS.
func Clients(cfg aws.Config, env Env) (*dynamodb.Client, *s3.Client) {
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	return dynamodb.NewFromConfig(cfg), s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = env.S3PathStyle })
}

// Stack is every service, wired.
type Stack struct {
	Store     *dynamostore.Store
	Raw       *rawstore.Store
	Ingest    *ingest.Service
	Webhooks  *webhook.Service
	Query     *query.Service
	Admin     *admin.Service
	Aggregate *aggregate.Service
	Alerts    *alert.Sender
	// Web serves the dashboard page's files (package web). The query
	// function and the local stack set it; it is nil elsewhere, so that
	// the other functions do not carry the page.
	Web httpapi.Func
	Log *slog.Logger
}

// New wires the services. now is the clock; log the logger; m writes the
// CloudWatch metrics (nil: none).
func New(db *dynamodb.Client, s3c *s3.Client, env Env, now func() time.Time, log *slog.Logger, m *metrics.Emitter, openAPI []byte) *Stack {
	var box *secretbox.Box
	if env.SecretsKey != "" {
		// LoadEnv checked the key's length, the only way New can fail.
		box, _ = secretbox.New(env.SecretsKey)
	}
	store := dynamostore.New(db, env.Table, box)
	raw := rawstore.New(s3c, env.Bucket)
	// A warm function looks each key up once a minute, not per request.
	auth := tenant.Authenticator{Keys: &tenant.KeyCache{Keys: store, TTL: time.Minute, Now: now}}
	agg := &aggregate.Service{Raw: raw, State: store, Now: now, Log: log, Metrics: m}
	ing := &ingest.Service{Raw: raw, Days: store, Auth: auth, Now: now, Log: log, Metrics: m}
	client := &http.Client{Timeout: 10 * time.Second}
	hooks := &webhook.Service{Secrets: store, Ingest: ing, Adapters: webhook.DefaultAdapters(client), Settings: store, Blobs: raw,
		Alerts: store, Configs: store, Now: now, Log: log, Metrics: m}
	return &Stack{
		Store:    store,
		Raw:      raw,
		Ingest:   ing,
		Webhooks: hooks,
		Query:    &query.Service{Store: store, Auth: auth, Log: log, OpenAPI: openAPI},
		Admin: &admin.Service{Configs: store, Aggregator: agg, Webhooks: hooks, Auth: auth, Now: now, Log: log,
			Eraser: &erase.Service{Raw: raw, State: store, Now: now, Log: log}},
		Aggregate: agg,
		Alerts:    &alert.Sender{Outbox: store, Configs: store, Client: client, Now: now, Log: log},
		Log:       log,
	}
}

// HTTPHandlers maps template.yaml's function logical ids to their handlers,
// for the local router.
func (s *Stack) HTTPHandlers() map[string]httpapi.Func {
	return map[string]httpapi.Func{
		"IngestFunction":   s.Ingest.Handle,
		"WebhooksFunction": s.Webhooks.Handle,
		"QueryFunction":    s.QueryFunction,
		"AdminFunction":    s.Admin.Handle,
	}
}

// QueryFunction is the query function's handler: the KPI routes and the
// OpenAPI description, and the dashboard page's files (GET / and
// GET /assets/{file}), which API Gateway routes to the same function.
func (s *Stack) QueryFunction(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RouteKey == "GET /" || strings.HasPrefix(req.RouteKey, "GET /assets/") {
		if s.Web == nil {
			return httpapi.Error(ctx, s.Log, apierr.New(apierr.NotFound, "this function does not serve the dashboard")), nil
		}
		return s.Web(ctx, req)
	}
	return s.Query.Handle(ctx, req)
}

// Nightly is the scheduled function's handler.
func (s *Stack) Nightly(ctx context.Context, ev events.EventBridgeEvent) error {
	reports, err := s.Aggregate.Nightly(ctx)
	for _, r := range reports {
		s.Log.InfoContext(ctx, "nightly run", "tenant", r.Tenant, "days", len(r.Days), "reruns", len(r.Reruns))
	}
	return err
}

// SendAlerts is the alerts function's handler: it posts the due alerts.
func (s *Stack) SendAlerts(ctx context.Context, ev events.EventBridgeEvent) error {
	sent, failed, err := s.Alerts.Send(ctx)
	if sent+failed > 0 {
		s.Log.InfoContext(ctx, "alerts", "sent", sent, "failed", failed)
	}
	return err
}

// Provision creates a tenant with the given keys and a signing secret for
// every webhook provider.
func (s *Stack) Provision(ctx context.Context, tenantID string, keys map[tenant.Kind]tenant.Secret, webhookSecret tenant.Secret) error {
	if !tenant.ValidID(tenantID) {
		return fmt.Errorf("tenant id %q: use lower-case letters, digits and dashes", tenantID)
	}
	if err := s.Store.PutTenant(ctx, tenantID); err != nil {
		return err
	}
	for kind, k := range keys {
		if err := s.Store.PutKey(ctx, tenant.HashKey(string(k)), tenantID, kind); err != nil {
			return err
		}
	}
	for _, p := range webhook.Providers {
		if err := s.Store.PutWebhookSecret(ctx, tenantID, p, webhookSecret); err != nil {
			return err
		}
	}
	return nil
}

// Boot is what every function's main does: read the environment, load the
// AWS configuration with load (LambdaAWS in Lambda) and wire the stack on
// the real clock, with JSON logs (LOG_LEVEL and above) and EMF metrics
// written to out, the function's standard output.
func Boot(ctx context.Context, getenv func(string) string, load func(context.Context) (aws.Config, error), out io.Writer, openAPI []byte) (*Stack, error) {
	env, err := LoadEnv(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	db, s3c := Clients(cfg, env)
	log := logging.New(out, logging.JSON, env.LogLevel)
	m := metrics.New(out, env.MetricsNamespace, env.StackName, time.Now)
	return New(db, s3c, env, time.Now, log, m, openAPI), nil
}
