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
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/ingest"
	"github.com/uptakehq/uptake/shared/tenant"
)

// Providers of api.md.
var Providers = []string{"typeform", "surveymonkey", "delighted", "zendesk", "freshdesk", "intercom", "helpscout", "survey", "ticket"}

// Tolerance is how far a signature's timestamp may be from the clock.
const Tolerance = 5 * time.Minute

// SignatureHeader carries the generic providers' signature.
const SignatureHeader = "X-Uptake-Signature"

// Secrets finds a tenant's signing secret for a provider.
type Secrets interface {
	WebhookSecret(ctx context.Context, tenantID, provider string) (tenant.Secret, bool, error)
}

// Ingester keeps normalised messages as ingest does.
type Ingester interface {
	Ingest(ctx context.Context, tenantID, route string, body []byte) (ingest.Result, error)
}

// Service is the webhook use case.
type Service struct {
	Secrets Secrets
	Ingest  Ingester
	Now     func() time.Time
	Log     *slog.Logger
}

// Handle serves POST /v1/webhooks/{provider}/{tenant}.
func (s *Service) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.Serve(ctx, s.Log, func() (events.APIGatewayV2HTTPResponse, error) {
		provider, tenantID := req.PathParameters["provider"], req.PathParameters["tenant"]
		if !slices.Contains(Providers, provider) {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.NotFound, "unknown webhook provider %q", provider)
		}
		if provider != "survey" {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.NotImplemented, "the %s webhook is not available yet", provider)
		}
		body, err := httpapi.Body(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if len(body) > event.MaxMessageBytes {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.TooLarge, "payload is %d bytes, over the 32 KB limit", len(body))
		}
		if err := s.verify(ctx, tenantID, provider, httpapi.Header(req, SignatureHeader), body); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		msg, err := SurveyMessage(body)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		res, err := s.Ingest.Ingest(ctx, tenantID, event.Track, msg)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return httpapi.JSON(http.StatusOK, res), nil
	})
}

func (s *Service) verify(ctx context.Context, tenantID, provider, header string, body []byte) error {
	if !tenant.ValidID(tenantID) {
		return apierr.New(apierr.Unauthorized, "signature check failed")
	}
	secret, found, err := s.Secrets.WebhookSecret(ctx, tenantID, provider)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	if !found {
		return apierr.New(apierr.Unauthorized, "signature check failed: no %s secret is set for this tenant", provider)
	}
	return Verify(secret, header, body, s.Now())
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
