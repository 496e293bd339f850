// Package devstack assembles the local stack from real parts: Uptake's
// handlers wired to DynamoDB Local and an S3-compatible server, behind the
// router that serves template.yaml's routes. `make dev` and the HTTP tests
// use the same assembly.
package devstack

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/router"
	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/metrics"
	"github.com/uptakehq/uptake/shared/openapi"
	"github.com/uptakehq/uptake/shared/rawstore"
	"github.com/uptakehq/uptake/shared/stack"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/web"
)

// Options says where the stack's parts are.
type Options struct {
	DynamoDBEndpoint string
	S3Endpoint       string
	Table, Bucket    string
	// Template is template.yaml's path; empty finds it from the cwd.
	Template string
	Now      func() time.Time
	Log      *slog.Logger
	// SecretsKey seals stored secrets; empty takes the local development
	// key (never used by a deployed stack, which generates its own).
	SecretsKey string
	// Transport, if set, carries the DynamoDB and S3 clients' requests
	// (the chaos tests inject faults with it); nil is the SDK's default.
	Transport http.RoundTripper
	// Retryer, if set, makes the DynamoDB and S3 clients' retryers; nil
	// keeps the SDK's standard one.
	Retryer func() aws.Retryer
	// Metrics, if set, receives the CloudWatch EMF records the functions
	// write to their standard output in Lambda; nil drops them.
	Metrics io.Writer
	// MetricsNamespace and StackName name them (defaults: Uptake, local).
	MetricsNamespace, StackName string
}

// devSecretsKey seals the local stack's secrets.
const devSecretsKey = "uptake-local-development-key"

// Tenant is a tenant to create, with its keys.
type Tenant struct {
	ID                          string
	WriteKey, ReadKey, AdminKey tenant.Secret
	WebhookSecret               tenant.Secret
}

// Demo is the local stack's tenant of api.md.
func Demo() Tenant {
	return Tenant{ID: "demo", WriteKey: "demo-write-key", ReadKey: "demo-read-key", AdminKey: "demo-admin-key", WebhookSecret: "demo-webhook-secret"}
}

// Stack is the assembled local stack.
type Stack struct {
	App    *stack.Stack
	Router *router.Router
}

// New creates the table and bucket if missing and wires the handlers
// behind the template's routes.
func New(ctx context.Context, o Options) (*Stack, error) {
	path := o.Template
	if path == "" {
		var err error
		if path, err = samtemplate.FindTemplate(); err != nil {
			return nil, err
		}
	}
	tmpl, err := samtemplate.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var dbOpts []func(*dynamodb.Options)
	var s3Opts []func(*s3.Options)
	if o.Transport != nil {
		client := &http.Client{Transport: o.Transport}
		dbOpts = append(dbOpts, func(do *dynamodb.Options) { do.HTTPClient = client })
		s3Opts = append(s3Opts, func(so *s3.Options) { so.HTTPClient = client })
	}
	if o.Retryer != nil {
		dbOpts = append(dbOpts, func(do *dynamodb.Options) { do.Retryer = o.Retryer() })
		s3Opts = append(s3Opts, func(so *s3.Options) { so.Retryer = o.Retryer() })
	}
	db := localstack.NewDynamoDBClient(o.DynamoDBEndpoint, dbOpts...)
	s3c := localstack.NewS3Client(o.S3Endpoint, s3Opts...)
	if err := dynamostore.CreateTable(ctx, db, o.Table); err != nil {
		return nil, err
	}
	if err := rawstore.CreateBucket(ctx, s3c, o.Bucket); err != nil {
		return nil, err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	key := o.SecretsKey
	if key == "" {
		key = devSecretsKey
	}
	var m *metrics.Emitter
	if o.Metrics != nil {
		m = metrics.New(o.Metrics, cmp.Or(o.MetricsNamespace, stack.DefaultMetricsNamespace), cmp.Or(o.StackName, "local"), now)
	}
	app := stack.New(db, s3c, stack.Env{Table: o.Table, Bucket: o.Bucket, S3PathStyle: true, SecretsKey: key}, now, o.Log, m, openapi.Document)
	app.Web = web.New(o.Log).Handle
	r, err := router.New(tmpl.Routes(), app.HTTPHandlers(), o.Log)
	if err != nil {
		return nil, err
	}
	return &Stack{App: app, Router: r}, nil
}

// Provision creates (or re-creates) a tenant with its keys.
func (s *Stack) Provision(ctx context.Context, t Tenant) error {
	keys := map[tenant.Kind]tenant.Secret{tenant.Write: t.WriteKey, tenant.Read: t.ReadKey, tenant.Admin: t.AdminKey}
	return s.App.Provision(ctx, t.ID, keys, t.WebhookSecret)
}
