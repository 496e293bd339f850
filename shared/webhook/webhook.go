// Package webhook receives survey and ticket tools' webhooks at
// /v1/webhooks/{provider}/{tenant}, checks their signatures and turns them
// into the events the KPIs count.
//
// The generic `survey` provider is signed like Stripe and the Standard
// Webhooks family: header X-Uptake-Signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<raw body>" with the tenant's secret>, accepted within
// five minutes of the server's clock.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/ingest"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// Providers of api.md.
var Providers = []string{"typeform", "surveymonkey", "delighted", "zendesk", "freshdesk", "intercom", "helpscout", "survey", "ticket"}

// maxToolPayload bounds a tool's delivery (a conversation with its
// threads can be large).
const maxToolPayload = 1 << 20

// Tolerance is how far a signature's timestamp may be from the clock.
const Tolerance = 5 * time.Minute

// SignatureHeader carries the generic providers' signature.
const SignatureHeader = "X-Uptake-Signature"

// Secrets finds a tenant's signing secret for a provider.
type Secrets interface {
	// WebhookSecrets returns the current secret and, after a rotation, the
	// previous one, both accepted so that rotating loses no delivery.
	WebhookSecrets(ctx context.Context, tenantID, provider string) ([]tenant.Secret, error)
}

// Ingester keeps normalised messages as ingest does.
type Ingester interface {
	Ingest(ctx context.Context, tenantID, route string, body []byte) (ingest.Result, error)
}

// Service is the webhook use case.
type Service struct {
	Secrets Secrets
	Ingest  Ingester
	// Adapters serve the tools' own webhooks, by provider name.
	Adapters map[string]Adapter
	Settings Settings
	Blobs    Blobs
	// Alerts and Configs queue an alert for each low answer (optional).
	Alerts  AlertQueue
	Configs Configs
	Now     func() time.Time
	Log     *slog.Logger
	// Metrics counts the failed deliveries (optional).
	Metrics Metrics
}

// Metrics records the deliveries answered with an error status.
type Metrics interface {
	WebhookFailed(ctx context.Context, provider string, status int)
}

// Handle serves POST /v1/webhooks/{provider}/{tenant}.
func (s *Service) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = tenant.NewContext(ctx)
	provider := req.PathParameters["provider"]
	resp, err := s.handle(ctx, req)
	// Only known providers: the path is the caller's to choose, a
	// dimension value must not be.
	if resp.StatusCode >= 400 && s.Metrics != nil && slices.Contains(Providers, provider) {
		s.Metrics.WebhookFailed(ctx, provider, resp.StatusCode)
	}
	return resp, err
}

func (s *Service) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.Serve(ctx, s.Log, func() (events.APIGatewayV2HTTPResponse, error) {
		provider, tenantID := req.PathParameters["provider"], req.PathParameters["tenant"]
		if !slices.Contains(Providers, provider) {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.NotFound, "unknown webhook provider %q", provider)
		}
		if req.RequestContext.HTTP.Method == http.MethodHead {
			// Tools check that the URL answers before they send to it
			// (SurveyMonkey); nothing is revealed but that it exists.
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK}, nil
		}
		body, err := httpapi.Body(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if !utf8.Valid(body) {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.InvalidJSON, "body is not valid UTF-8")
		}
		if a, ok := s.Adapters[provider]; ok {
			if len(body) > maxToolPayload {
				return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.TooLarge, "payload is %d bytes, over the %d KB limit", len(body), maxToolPayload/1024)
			}
			return s.handleAdapter(ctx, provider, tenantID, a, req, body)
		}
		if provider != "survey" && provider != "ticket" {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.NotImplemented, "the %s webhook is not available yet", provider)
		}
		if len(body) > event.MaxMessageBytes {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.TooLarge, "payload is %d bytes, over the 32 KB limit", len(body))
		}
		if err := s.verify(ctx, tenantID, provider, httpapi.Header(req, SignatureHeader), body); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		normalise := SurveyMessage
		if provider == "ticket" {
			normalise = TicketMessage
		}
		msg, err := normalise(body)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		res, err := s.Ingest.Ingest(ctx, tenantID, event.Track, msg)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if provider == "survey" {
			s.queueAlerts(ctx, tenantID, provider, genericAnswer(body))
		}
		return httpapi.JSON(http.StatusOK, res), nil
	})
}

func (s *Service) verify(ctx context.Context, tenantID, provider, header string, body []byte) error {
	if !tenant.ValidID(tenantID) {
		return apierr.New(apierr.Unauthorized, "signature check failed")
	}
	secrets, err := s.Secrets.WebhookSecrets(ctx, tenantID, provider)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	if len(secrets) == 0 {
		return apierr.New(apierr.Unauthorized, "signature check failed: no %s secret is set for this tenant", provider)
	}
	for _, secret := range secrets {
		if err = Verify(secret, header, body, s.Now()); err == nil {
			tenant.Known(ctx, tenantID)
			return nil
		}
	}
	return err
}

// Sign returns the X-Uptake-Signature value for body at time t.
func Sign(secret tenant.Secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret tenant.Secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header over the raw body, in constant time,
// and rejects timestamps more than Tolerance away from now.
func Verify(secret tenant.Secret, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return apierr.New(apierr.Unauthorized, "signature check failed: %s must be t=<unix seconds>,v1=<hex HMAC-SHA256>", SignatureHeader)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return apierr.New(apierr.Unauthorized, "signature check failed: timestamp is more than 5 minutes from now")
	}
	want := []byte(mac(secret, ts, body))
	for _, sig := range sigs {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return apierr.New(apierr.Unauthorized, "signature check failed")
}

// Survey is the generic survey webhook's JSON shape.
type Survey struct {
	// ID is the response's id in the sending tool.
	ID         string          `json:"id"`
	SurveyID   string          `json:"survey_id"`
	Type       string          `json:"type"` // nps, csat or ces
	Score      json.RawMessage `json:"score"`
	Respondent string          `json:"respondent"` // the tenant's user id
	// SubmittedAt is when the answer was given; UpdatedAt, when set, is
	// when it was last changed (a re-scored answer replaces the earlier).
	SubmittedAt string `json:"submitted_at"`
	UpdatedAt   string `json:"updated_at,omitempty"`
	Channel     string `json:"channel,omitempty"`
	Touchpoint  string `json:"touchpoint,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// SurveyMessage turns a generic survey payload into a `Survey Responded`
// track message. Its messageId is the response id and its time, so a
// retried delivery counts once and a later update of the same response
// replaces it.
func SurveyMessage(body []byte) ([]byte, error) {
	var sv Survey
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sv); err != nil {
		return nil, apierr.New(apierr.InvalidJSON, "survey payload: %v", err)
	}
	switch {
	case sv.ID == "":
		return nil, apierr.New(apierr.InvalidRequest, "survey payload: id is required")
	case sv.Respondent == "":
		return nil, apierr.New(apierr.InvalidRequest, "survey payload: respondent is required")
	case sv.SubmittedAt == "":
		return nil, apierr.New(apierr.InvalidRequest, "survey payload: submitted_at is required")
	}
	at := sv.SubmittedAt
	if sv.UpdatedAt != "" {
		at = sv.UpdatedAt
	}
	msg := map[string]any{
		"type": event.Track, "event": event.SurveyResponded, "userId": sv.Respondent,
		"messageId": "survey:" + sv.ID + ":" + at, "timestamp": at,
		"properties": map[string]any{
			"survey_type": sv.Type, "survey_id": sv.SurveyID, "score": sv.Score, "response_id": sv.ID,
			"channel": sv.Channel, "touchpoint": sv.Touchpoint, "comment": sv.Comment,
		},
	}
	return json.Marshal(msg)
}

// Ticket is the generic ticket webhook's JSON shape: the ticket's whole
// state at updated_at. Updates replace earlier states by updated_at, in
// whatever order they arrive.
type Ticket struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"` // new, open, pending, hold, solved, closed
	Channel         string   `json:"channel,omitempty"`
	Priority        string   `json:"priority,omitempty"` // urgent, high, normal, low
	Tags            []string `json:"tags,omitempty"`
	Requester       string   `json:"requester,omitempty"` // the tenant's user id
	Account         string   `json:"account,omitempty"`   // the tenant's groupId
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
	FirstResponseAt *string  `json:"first_response_at,omitempty"`
	ResolvedAt      *string  `json:"resolved_at,omitempty"`
}

var ticketStatuses = []string{"new", "open", "pending", "hold", "solved", "closed"}

// TicketMessage turns a generic ticket payload into a `Ticket Updated`
// track message whose messageId is the ticket id and update time, so a
// retried delivery counts once.
func TicketMessage(body []byte) ([]byte, error) {
	var tk Ticket
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tk); err != nil {
		return nil, apierr.New(apierr.InvalidJSON, "ticket payload: %v", err)
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "ticket payload: "+format, args...)
	}
	if tk.ID == "" || len(tk.ID) > 200 {
		return nil, bad("id is required (at most 200 characters)")
	}
	if !slices.Contains(ticketStatuses, tk.Status) {
		return nil, bad("status must be one of %s, got %q", strings.Join(ticketStatuses, ", "), tk.Status)
	}
	at := func(name string, v *string) (*time.Time, error) {
		if v == nil || *v == "" {
			return nil, nil
		}
		t, err := event.ParseTime(*v)
		if err != nil || t.Before(event.Earliest) {
			return nil, bad("%s %q is not an ISO 8601 date-time after 2000", name, *v)
		}
		t = t.UTC()
		return &t, nil
	}
	created, err := at("created_at", &tk.CreatedAt)
	if err != nil || created == nil {
		return nil, errors.Join(err, bad("created_at is required"))
	}
	updated, err := at("updated_at", &tk.UpdatedAt)
	if err != nil || updated == nil {
		return nil, errors.Join(err, bad("updated_at is required"))
	}
	if updated.Before(*created) {
		return nil, bad("updated_at is before created_at")
	}
	first, err := at("first_response_at", tk.FirstResponseAt)
	if err != nil {
		return nil, err
	}
	resolvedAt, err := at("resolved_at", tk.ResolvedAt)
	if err != nil {
		return nil, err
	}
	switch tk.Status {
	case "solved", "closed":
		if resolvedAt == nil {
			resolvedAt = updated
		}
	default:
		resolvedAt = nil // open again: not resolved
	}
	state := kpi.Ticket{ID: tk.ID, Status: tk.Status, Channel: strings.ToLower(tk.Channel), Priority: strings.ToLower(tk.Priority),
		Tags: tk.Tags, Requester: tk.Requester, Account: tk.Account, Created: *created, Updated: *updated,
		FirstResponse: first, Resolved: resolvedAt}
	msg := map[string]any{
		"type": event.Track, "event": kpi.TicketUpdated, "messageId": "ticket:" + tk.ID + ":" + updated.Format(time.RFC3339Nano),
		"timestamp": updated.Format(time.RFC3339Nano), "properties": state,
	}
	if tk.Requester != "" {
		msg["userId"] = tk.Requester
	} else {
		msg["anonymousId"] = "ticket:" + tk.ID
	}
	if tk.Account != "" {
		msg["context"] = map[string]any{"groupId": tk.Account}
	}
	return json.Marshal(msg)
}

// genericAnswer reads back the answer of a generic survey payload that
// was just accepted, for alerts.
func genericAnswer(body []byte) []Answer {
	var sv Survey
	if json.Unmarshal(body, &sv) != nil {
		return nil
	}
	at := sv.SubmittedAt
	if sv.UpdatedAt != "" {
		at = sv.UpdatedAt
	}
	t, err := event.ParseTime(at)
	if err != nil {
		return nil
	}
	var score float64
	var str string
	if json.Unmarshal(sv.Score, &score) != nil {
		if json.Unmarshal(sv.Score, &str) != nil {
			return nil
		}
		if score, err = strconv.ParseFloat(str, 64); err != nil {
			return nil
		}
	}
	return []Answer{{ResponseID: sv.ID, SurveyID: sv.SurveyID, Type: strings.ToLower(sv.Type), Score: score, Respondent: sv.Respondent,
		At: t, Channel: sv.Channel, Touchpoint: sv.Touchpoint, Comment: sv.Comment}}
}
