// Package logging builds the functions' slog loggers: one line per record,
// JSON in Lambda (the keys of Lambda's JSON log format: timestamp, level,
// message) and text for people on the local stack, both carrying the
// Lambda request id and the tenant of the request being served, read from
// the context of the ctx-aware calls (InfoContext, ErrorContext, ...).
//
// The request id comes from aws-lambda-go's lambdacontext, whose key
// renaming (ReplaceAttr) is used as well. Its own NewLogHandler is not:
// it writes only to os.Stdout, picks JSON or text from
// AWS_LAMBDA_LOG_FORMAT when the package loads, and its tenant is Lambda's
// tenant-isolation id, not the Uptake tenant that a request's API key or
// webhook path names (tenant.FromContext).
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/uptakehq/uptake/shared/tenant"
)

// Keys of the attributes the handler adds.
const (
	RequestIDKey = "requestId"
	TenantKey    = "tenant"
)

// Format is how records are written.
type Format int

// The formats.
const (
	JSON Format = iota // one JSON object per line, for CloudWatch Logs
	Text               // key=value lines, for people
)

// New returns a logger writing records at level or above to w.
func New(w io.Writer, f Format, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr}
	var h slog.Handler
	if f == Text {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(NewHandler(h))
}

// ParseLevel reads a level name as LOG_LEVEL gives it (DEBUG, INFO, WARN,
// ERROR, any case); empty is INFO.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if strings.TrimSpace(s) == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo, fmt.Errorf("log level %q: use DEBUG, INFO, WARN or ERROR", s)
	}
	return l, nil
}

// NewHandler wraps h so that each record made with a context carries the
// Lambda request id (lambdacontext.FromContext) and the tenant
// (tenant.FromContext) when they are known. A record that names the
// tenant itself keeps its own attribute.
func NewHandler(h slog.Handler) slog.Handler { return &handler{inner: h} }

type handler struct {
	inner slog.Handler
	// tenantSet: an attribute added with WithAttrs names the tenant.
	tenantSet bool
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.inner.Handle(ctx, r)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String(RequestIDKey, lc.AwsRequestID))
	}
	if id, ok := tenant.FromContext(ctx); ok && !h.tenantSet && !hasAttr(r, TenantKey) {
		r.AddAttrs(slog.String(TenantKey, id))
	}
	return h.inner.Handle(ctx, r)
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	set := h.tenantSet
	for _, a := range attrs {
		set = set || a.Key == TenantKey
	}
	return &handler{inner: h.inner.WithAttrs(attrs), tenantSet: set}
}

func (h *handler) WithGroup(name string) slog.Handler {
	// Attributes added after a group land in it: the context's are added
	// inside the group too, which keeps them on the record.
	return &handler{inner: h.inner.WithGroup(name), tenantSet: h.tenantSet}
}
