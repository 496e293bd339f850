package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/alert"
	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/httpapi"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// DefaultAdapters are the tools' webhooks Uptake serves, by provider;
// client makes the calls back to tools whose webhooks carry ids only.
func DefaultAdapters(client *http.Client) map[string]Adapter {
	return map[string]Adapter{
		"surveymonkey": NewSurveyMonkey(client, ""),
		"typeform":     Typeform{},
		"delighted":    Delighted{},
		"intercom":     Intercom{},
		"helpscout":    HelpScout{},
		"freshdesk":    Freshdesk{},
		"zendesk":      Zendesk{},
	}
}

// Settings stores a tenant's per-provider settings and secrets.
type Settings interface {
	PutWebhookSecret(ctx context.Context, tenantID, provider string, secret tenant.Secret) error
	PutWebhookSettings(ctx context.Context, tenantID, provider string, settings []byte) error
	WebhookSettings(ctx context.Context, tenantID, provider string) ([]byte, bool, error)
}

// Blobs keeps deliveries that could not be processed.
type Blobs interface {
	PutBlob(ctx context.Context, key string, body []byte) error
	Blob(ctx context.Context, key string) ([]byte, error)
	List(ctx context.Context, prefix string) ([]string, error)
	Delete(ctx context.Context, key string) error
}

// Kept is a delivery kept for later: authentic, but not usable yet.
type Kept struct {
	Key        string            `json:"key"`
	Provider   string            `json:"provider"`
	ReceivedAt time.Time         `json:"received_at"`
	Reason     string            `json:"reason"`
	Header     map[string]string `json:"header,omitempty"`
	Query      map[string]string `json:"query,omitempty"`
	Body       []byte            `json:"body,omitempty"`
}

func keptPrefix(tenantID, provider string) string {
	return "webhooks/tenant=" + tenantID + "/provider=" + provider + "/"
}

// handleAdapter serves a provider with an adapter: verify, normalise,
// keep what cannot be used yet, ingest the rest.
func (s *Service) handleAdapter(ctx context.Context, provider, tenantID string, a Adapter, req events.APIGatewayV2HTTPRequest, body []byte) (events.APIGatewayV2HTTPResponse, error) {
	r := Request{Body: body, Header: http.Header{}, Query: req.QueryStringParameters, Now: s.Now()}
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	if !tenant.ValidID(tenantID) {
		return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.Unauthorized, "signature check failed")
	}
	secrets, err := s.Secrets.WebhookSecrets(ctx, tenantID, provider)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("webhook secret: %w", err)
	}
	if len(secrets) == 0 {
		return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.Unauthorized, "signature check failed: no %s secret is set for this tenant", provider)
	}
	verr := ErrSignature
	for _, secret := range secrets {
		if verr = a.Verify(secret, r); verr == nil {
			break
		}
	}
	if verr != nil {
		return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.Unauthorized, "%v", verr)
	}
	tenant.Known(ctx, tenantID)
	m, err := s.mapping(ctx, tenantID, provider)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	res, err := a.Normalise(ctx, r, m)
	if _, bad := apierr.As(err); bad {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err != nil {
		// Authentic but not usable now (unknown event, unmapped question,
		// a tool's API down): keep it, answer 202, never lose it.
		k, kerr := s.keep(ctx, tenantID, provider, r, err.Error())
		if kerr != nil {
			return events.APIGatewayV2HTTPResponse{}, kerr
		}
		s.Log.WarnContext(ctx, "webhook kept", "tenant", tenantID, "provider", provider, "reason", err.Error())
		return httpapi.JSON(http.StatusAccepted, map[string]any{"success": true, "kept": k, "reason": err.Error()}), nil
	}
	out, err := s.ingest(ctx, tenantID, provider, res)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	s.queueAlerts(ctx, tenantID, provider, res.Answers)
	return httpapi.JSON(http.StatusOK, out), nil
}

// AlertQueue takes the alerts of low answers; Configs says whether the
// tenant wants them and on what scales.
type AlertQueue interface {
	PutAlert(ctx context.Context, tenantID string, a alert.Alert) error
}

// Configs reads a tenant's KPI configuration.
type Configs interface {
	Config(ctx context.Context, tenantID string) (kpi.Config, error)
}

// queueAlerts writes an alert for each low answer to the outbox. It never
// fails the delivery: a failure is logged, the answer is already kept.
func (s *Service) queueAlerts(ctx context.Context, tenantID, provider string, answers []Answer) {
	if s.Alerts == nil || s.Configs == nil || len(answers) == 0 {
		return
	}
	cfg, err := s.Configs.Config(ctx, tenantID)
	if err != nil {
		s.Log.ErrorContext(ctx, "alerts skipped", "tenant", tenantID, "err", err)
		return
	}
	if cfg.AlertURL == "" {
		return
	}
	for _, a := range answers {
		if !kpi.NeedsFollowUp(cfg, a.Type, a.Score) {
			continue
		}
		al := alert.Alert{ID: provider + ":" + a.ResponseID + ":" + a.Type + ":" + a.At.UTC().Format(time.RFC3339Nano), Type: a.Type,
			SurveyID: a.SurveyID, Score: a.Score, Respondent: a.Respondent, Comment: a.Comment, Channel: a.Channel, Provider: provider, At: a.At}
		if err := s.Alerts.PutAlert(ctx, tenantID, al); err != nil {
			s.Log.ErrorContext(ctx, "alert not queued", "tenant", tenantID, "alert", al.ID, "err", err)
		}
	}
}

// ingest keeps a delivery's answers and tickets as events.
func (s *Service) ingest(ctx context.Context, tenantID, provider string, res Result) (any, error) {
	var msgs []json.RawMessage
	for _, a := range res.Answers {
		b, err := a.Message(provider)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, b)
	}
	for _, t := range res.Tickets {
		b, err := TicketMessageOf(provider, t)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, b)
	}
	if len(msgs) == 0 {
		return map[string]any{"success": true, "accepted": 0, "duplicates": 0, "rejected": []any{}}, nil
	}
	batch, err := json.Marshal(map[string]any{"batch": msgs})
	if err != nil {
		return nil, err
	}
	return s.Ingest.Ingest(ctx, tenantID, "", batch)
}

func (s *Service) keep(ctx context.Context, tenantID, provider string, r Request, reason string) (string, error) {
	rnd := make([]byte, 6)
	rand.Read(rnd)
	k := Kept{Provider: provider, ReceivedAt: r.Now.UTC(), Reason: reason, Header: map[string]string{}, Query: r.Query, Body: r.Body}
	for name := range r.Header {
		k.Header[name] = r.Header.Get(name)
	}
	k.Key = fmt.Sprintf("%s%019d-%s.json", keptPrefix(tenantID, provider), r.Now.UnixNano(), hex.EncodeToString(rnd))
	b, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	if err := s.Blobs.PutBlob(ctx, k.Key, b); err != nil {
		return "", fmt.Errorf("keep delivery: %w", err)
	}
	return k.Key, nil
}

// Configuration is what the admin API shows and sets for a provider.
type Configuration struct {
	// Secret, when given, replaces the signing secret; it is never shown.
	Secret  *string `json:"secret,omitempty"`
	Mapping Mapping `json:"mapping"`
}

func (s *Service) mapping(ctx context.Context, tenantID, provider string) (Mapping, error) {
	b, found, err := s.Settings.WebhookSettings(ctx, tenantID, provider)
	if err != nil || !found {
		return Mapping{}, err
	}
	var m Mapping
	if err := json.Unmarshal(b, &m); err != nil {
		return Mapping{}, fmt.Errorf("stored %s settings: %w", provider, err)
	}
	return m, nil
}

// KnownProvider reports whether provider is one of api.md's.
func KnownProvider(p string) bool {
	for _, x := range Providers {
		if x == p {
			return true
		}
	}
	return false
}

// Overview is a provider's settings as the admin API shows them.
type Overview struct {
	Provider string  `json:"provider"`
	Mapping  Mapping `json:"mapping"`
	// Kept lists the deliveries waiting for the mapping to be fixed.
	Kept []Kept `json:"kept"`
}

// Describe returns a provider's settings (the API token redacted) and its
// kept deliveries.
func (s *Service) Describe(ctx context.Context, tenantID, provider string) (Overview, error) {
	if !KnownProvider(provider) {
		return Overview{}, apierr.New(apierr.NotFound, "unknown webhook provider %q", provider)
	}
	m, err := s.mapping(ctx, tenantID, provider)
	if err != nil {
		return Overview{}, err
	}
	if m.APIToken != "" {
		m.APIToken = "[set]"
	}
	kept, err := s.kept(ctx, tenantID, provider)
	if err != nil {
		return Overview{}, err
	}
	for i := range kept {
		kept[i].Body = nil // listed, not shown (a query may carry a token)
		kept[i].Header = nil
		kept[i].Query = nil
	}
	return Overview{Provider: provider, Mapping: m, Kept: kept}, nil
}

func (s *Service) kept(ctx context.Context, tenantID, provider string) ([]Kept, error) {
	keys, err := s.Blobs.List(ctx, keptPrefix(tenantID, provider))
	if err != nil {
		return nil, err
	}
	out := []Kept{}
	for _, k := range keys {
		b, err := s.Blobs.Blob(ctx, k)
		if err != nil {
			return nil, err
		}
		var kd Kept
		if err := json.Unmarshal(b, &kd); err != nil {
			return nil, fmt.Errorf("kept delivery %s: %w", k, err)
		}
		out = append(out, kd)
	}
	return out, nil
}

// Configure stores a provider's mapping, and its secret when given.
func (s *Service) Configure(ctx context.Context, tenantID, provider string, body []byte) error {
	if !KnownProvider(provider) {
		return apierr.New(apierr.NotFound, "unknown webhook provider %q", provider)
	}
	var c Configuration
	if err := httpapi.DecodeObject(body, &c); err != nil {
		return err
	}
	for id, q := range c.Mapping.Questions {
		switch q.Type {
		case "nps", "csat", "ces":
		default:
			return apierr.New(apierr.InvalidRequest, "question %q: type must be nps, csat or ces, got %q", id, q.Type)
		}
		if q.ScaleMax != 0 && q.ScaleMax <= q.ScaleMin {
			return apierr.New(apierr.InvalidRequest, "question %q: scale_max must be above scale_min", id)
		}
	}
	if c.Secret != nil {
		if len(*c.Secret) < 8 || len(*c.Secret) > 512 {
			return apierr.New(apierr.InvalidRequest, "secret must be 8 to 512 characters")
		}
		if err := s.Settings.PutWebhookSecret(ctx, tenantID, provider, tenant.Secret(*c.Secret)); err != nil {
			return err
		}
	}
	if c.Mapping.APIToken == "[set]" {
		// The redacted value shown by GET keeps the stored token.
		old, err := s.mapping(ctx, tenantID, provider)
		if err != nil {
			return err
		}
		c.Mapping.APIToken = old.APIToken
	}
	b, err := json.Marshal(c.Mapping)
	if err != nil {
		return err
	}
	return s.Settings.PutWebhookSettings(ctx, tenantID, provider, b)
}

// Reprocessed says what a reprocessing did.
type Reprocessed struct {
	Processed int `json:"processed"`
	StillKept int `json:"still_kept"`
}

// Reprocess runs the kept deliveries of a provider again with the current
// mapping; those that now work are ingested and removed.
func (s *Service) Reprocess(ctx context.Context, tenantID, provider string) (Reprocessed, error) {
	a, ok := s.Adapters[provider]
	if !ok {
		return Reprocessed{}, apierr.New(apierr.NotFound, "no kept deliveries can be processed for %q", provider)
	}
	kept, err := s.kept(ctx, tenantID, provider)
	if err != nil {
		return Reprocessed{}, err
	}
	m, err := s.mapping(ctx, tenantID, provider)
	if err != nil {
		return Reprocessed{}, err
	}
	var out Reprocessed
	for _, k := range kept {
		r := Request{Body: k.Body, Header: http.Header{}, Query: k.Query, Now: k.ReceivedAt}
		for name, v := range k.Header {
			r.Header.Set(name, v)
		}
		res, err := a.Normalise(ctx, r, m)
		if err != nil {
			out.StillKept++
			continue
		}
		if _, err := s.ingest(ctx, tenantID, provider, res); err != nil {
			return out, err
		}
		s.queueAlerts(ctx, tenantID, provider, res.Answers)
		if err := s.Blobs.Delete(ctx, k.Key); err != nil {
			return out, err
		}
		out.Processed++
	}
	return out, nil
}
