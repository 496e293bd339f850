// Package ingest accepts Segment-format messages: it authenticates the
// write key, validates each message, keeps the valid ones in the raw store
// and marks their days for the next aggregation run.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// RawStore keeps accepted lines, one object per tenant and UTC day.
type RawStore interface {
	Put(ctx context.Context, kind, tenantID string, day kpi.Day, receivedAt, latest time.Time, lines [][]byte) (string, error)
	Delete(ctx context.Context, key string) error
}

// DayMarker records which UTC days received events.
type DayMarker interface {
	MarkDirty(ctx context.Context, tenantID string, days []kpi.Day, at time.Time) error
}

// RawKind is the raw store prefix of Segment events.
const RawKind = "raw"

// Metrics records what requests did with their messages (optional).
type Metrics interface {
	EventsIngested(ctx context.Context, accepted, rejected, duplicated int)
}

// Service is the ingest use case.
type Service struct {
	Raw     RawStore
	Days    DayMarker
	Auth    tenant.Authenticator
	Now     func() time.Time
	Log     *slog.Logger
	Metrics Metrics
}

// Result is the answer to an ingest request.
type Result struct {
	Success    bool        `json:"success"`
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
}

// Rejection says why the message at Index was not kept.
type Rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Handle serves POST /v1/batch and the single-message routes.
func (s *Service) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = tenant.NewContext(ctx)
	return httpapi.Serve(ctx, s.Log, func() (events.APIGatewayV2HTTPResponse, error) {
		tenantID, err := s.Auth.Authenticate(ctx, httpapi.Key(req), tenant.Write)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		body, err := httpapi.Body(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if err := checkContentType(httpapi.Header(req, "Content-Type")); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		route := routeType(req)
		res, err := s.Ingest(ctx, tenantID, route, body)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return httpapi.JSON(http.StatusOK, res), nil
	})
}

func routeType(req events.APIGatewayV2HTTPRequest) string {
	p := req.RawPath
	if _, rk, ok := strings.Cut(req.RouteKey, " "); ok {
		p = rk
	}
	if t := path.Base(p); event.IsType(t) {
		return t
	}
	return "" // batch
}

func checkContentType(ct string) error {
	mt, _, _ := strings.Cut(strings.ToLower(ct), ";")
	mt = strings.TrimSpace(mt)
	if mt == "" || mt == "text/plain" || strings.HasSuffix(mt, "json") {
		return nil
	}
	return apierr.New(apierr.UnsupportedType, "content type %q is not JSON: send application/json", ct)
}

// Ingest validates and stores the messages of one request. route is the
// message type of a single-message route, or "" for a batch.
func (s *Service) Ingest(ctx context.Context, tenantID, route string, body []byte) (Result, error) {
	msgs, sentAt, err := split(route, body)
	if err != nil {
		return Result{}, err
	}
	now := s.Now().UTC()
	res := Result{Success: true, Rejected: []Rejection{}}
	seen := make(map[string]bool, len(msgs))
	byDay := map[kpi.Day][][]byte{}
	latest := map[kpi.Day]time.Time{} // each day's latest event time
	for i, raw := range msgs {
		p, err := event.Parse(raw, event.Arrival{RouteType: route, ReceivedAt: now, SentAt: sentAt, Checked: true})
		if event.IsInvalid(err) {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Reason: err.Error()})
			continue
		}
		if err != nil {
			return Result{}, err
		}
		if seen[p.Record.MessageID] {
			res.Duplicates++
			continue
		}
		seen[p.Record.MessageID] = true
		day := kpi.DayOf(p.Record.Timestamp, time.UTC)
		byDay[day] = append(byDay[day], p.Line)
		if ts := p.Record.Timestamp; ts.After(latest[day]) {
			latest[day] = ts
		}
		res.Accepted++
	}
	if len(res.Rejected) > 0 {
		// The count only: a reason may quote the message.
		s.Log.WarnContext(ctx, "messages rejected", "rejected", len(res.Rejected), "accepted", res.Accepted)
	}
	if res.Accepted == 0 && len(res.Rejected) > 0 {
		s.record(ctx, res)
		e := apierr.New(apierr.InvalidRequest, "no valid message: %s", res.Rejected[0].Reason)
		if route == "" {
			e.Message = fmt.Sprintf("no valid message in the batch (first: message %d: %s)", res.Rejected[0].Index, res.Rejected[0].Reason)
			e.Details = map[string]any{"rejected": res.Rejected}
		}
		return Result{}, e
	}
	if err := s.store(ctx, tenantID, now, byDay, latest); err != nil {
		return Result{}, err
	}
	s.record(ctx, res)
	return res, nil
}

// record reports a request's counts to Metrics.
func (s *Service) record(ctx context.Context, res Result) {
	if s.Metrics != nil {
		s.Metrics.EventsIngested(ctx, res.Accepted, len(res.Rejected), res.Duplicates)
	}
}

// store writes the day files and marks the days; if anything fails, it
// removes what it wrote, so that a 5xx means nothing was kept.
func (s *Service) store(ctx context.Context, tenantID string, now time.Time, byDay map[kpi.Day][][]byte, latest map[kpi.Day]time.Time) error {
	days := make([]kpi.Day, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	slices.SortFunc(days, func(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) })
	var written []string
	fail := func(err error) error {
		// Undo with a context that outlives a cancelled request.
		undoCtx := context.WithoutCancel(ctx)
		for _, k := range written {
			if derr := s.Raw.Delete(undoCtx, k); derr != nil {
				// The sender retries after a 5xx; the aggregation
				// de-duplicates by messageId, so a leftover file never
				// counts twice.
				s.Log.ErrorContext(ctx, "undo of raw write failed", "tenant", tenantID, "key", k, "err", derr)
			}
		}
		s.Log.ErrorContext(ctx, "ingest storage failed", "tenant", tenantID, "err", err)
		return apierr.New(apierr.Unavailable, "storage is unavailable, nothing was stored: retry the request")
	}
	for _, d := range days {
		k, err := s.Raw.Put(ctx, RawKind, tenantID, d, now, latest[d], byDay[d])
		if err != nil {
			return fail(err)
		}
		written = append(written, k)
	}
	if len(days) > 0 {
		// Marked after the files exist: a run that started before this
		// instant keeps the mark, so the days are run again.
		if err := s.Days.MarkDirty(ctx, tenantID, days, s.Now()); err != nil {
			return fail(err)
		}
	}
	return nil
}

// split returns the messages of a body: the `batch` array, or the single
// message of a single-message route.
func split(route string, body []byte) ([]json.RawMessage, time.Time, error) {
	if !utf8.Valid(body) {
		return nil, time.Time{}, apierr.New(apierr.InvalidJSON, "body is not valid UTF-8")
	}
	if route != "" {
		if len(body) > event.MaxMessageBytes {
			return nil, time.Time{}, apierr.New(apierr.TooLarge, "message is %d bytes, over the 32 KB limit", len(body))
		}
		if !json.Valid(body) {
			return nil, time.Time{}, apierr.New(apierr.InvalidJSON, "body is not valid JSON")
		}
		var sentAt time.Time
		var head struct {
			SentAt string `json:"sentAt"`
		}
		if json.Unmarshal(body, &head) == nil && head.SentAt != "" {
			sentAt, _ = event.ParseTime(head.SentAt)
		}
		return []json.RawMessage{body}, sentAt, nil
	}
	if len(body) > event.MaxBatchBytes {
		return nil, time.Time{}, apierr.New(apierr.TooLarge, "batch is %d bytes, over the 500 KB limit", len(body))
	}
	if !json.Valid(body) {
		return nil, time.Time{}, apierr.New(apierr.InvalidJSON, "body is not valid JSON")
	}
	// The body is valid JSON: walk it rather than decode it again. Its
	// members match as encoding/json matches struct fields: the exact
	// name, else case-insensitively; the last one wins.
	var batch, sentAtRaw json.RawMessage
	var batchExact, sentAtExact bool
	isObject := event.ObjectMembers(body, func(key string, val json.RawMessage) {
		switch {
		case key == "batch":
			batch, batchExact = val, true
		case key == "sentAt":
			sentAtRaw, sentAtExact = val, true
		case !batchExact && strings.EqualFold(key, "batch"):
			batch = val
		case !sentAtExact && strings.EqualFold(key, "sentAt"):
			sentAtRaw = val
		}
	})
	if !isObject && !bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return nil, time.Time{}, apierr.New(apierr.InvalidRequest, `body must be an object {"batch": [...]}`)
	}
	msgs, ok := event.ArrayElements(batch)
	if !ok {
		return nil, time.Time{}, apierr.New(apierr.InvalidRequest, `body must be an object with a "batch" array of messages`)
	}
	if len(msgs) == 0 {
		return nil, time.Time{}, apierr.New(apierr.InvalidRequest, "batch is empty")
	}
	for i, m := range msgs {
		if len(m) > event.MaxMessageBytes {
			return nil, time.Time{}, apierr.New(apierr.TooLarge, "message %d is %d bytes, over the 32 KB limit", i, len(m))
		}
	}
	var sentAt time.Time
	var s string
	if len(sentAtRaw) > 0 && json.Unmarshal(sentAtRaw, &s) == nil {
		sentAt, _ = event.ParseTime(s)
	}
	return msgs, sentAt, nil
}
