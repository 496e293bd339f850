// Package alert tells a tenant, at the URL it configures (a Slack incoming
// webhook works), about each detractor or bottom-two survey answer. The
// webhook path only writes the alert to an outbox, so a slow or failing
// URL never delays or fails the tool's delivery; a scheduled sender posts
// the outbox with retries and backoff.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

// Alert is a low answer to tell the tenant about.
type Alert struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	SurveyID   string    `json:"survey_id,omitempty"`
	Score      float64   `json:"score"`
	Respondent string    `json:"respondent"`
	Comment    string    `json:"comment,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	Provider   string    `json:"provider,omitempty"`
	At         time.Time `json:"at"`
}

// Pending is an alert in the outbox.
type Pending struct {
	Alert    Alert
	Attempts int
	Next     time.Time
}

// Outbox keeps alerts until they are delivered.
type Outbox interface {
	PutAlert(ctx context.Context, tenantID string, a Alert) error
	DueAlerts(ctx context.Context, tenantID string, now time.Time) ([]Pending, error)
	RetryAlert(ctx context.Context, tenantID string, p Pending) error
	DeleteAlert(ctx context.Context, tenantID, id string) error
}

// Configs reads the tenants and their alert URL.
type Configs interface {
	Tenants(ctx context.Context) ([]string, error)
	Config(ctx context.Context, tenantID string) (kpi.Config, error)
}

// MaxAttempts is how many times an alert is tried before it is dropped
// (and logged): about a day with the backoff below.
const MaxAttempts = 12

// Sender posts due alerts.
type Sender struct {
	Outbox  Outbox
	Configs Configs
	Client  *http.Client
	Now     func() time.Time
	Log     *slog.Logger
}

// Message is what the tenant's URL receives: Slack's `text`, and the
// alert's fields for other receivers.
type Message struct {
	Text  string `json:"text"`
	Alert Alert  `json:"alert"`
}

// Text is the alert's one-line summary.
func (a Alert) Text() string {
	what := map[string]string{"nps": "NPS detractor", "csat": "Low CSAT", "ces": "High-effort CES"}[a.Type]
	t := fmt.Sprintf("%s: %s scored %g", what, a.Respondent, a.Score)
	if a.SurveyID != "" {
		t += " on " + a.SurveyID
	}
	if a.Comment != "" {
		t += fmt.Sprintf(": %q", a.Comment)
	}
	return t
}

// backoff is the wait after a failed attempt: 1, 2, 4 … minutes, at most
// 6 hours.
func backoff(attempts int) time.Duration {
	d := time.Minute << min(attempts-1, 9)
	return min(d, 6*time.Hour)
}

// Send posts every tenant's due alerts once.
func (s *Sender) Send(ctx context.Context) (sent, failed int, err error) {
	tenants, err := s.Configs.Tenants(ctx)
	if err != nil {
		return 0, 0, err
	}
	now := s.Now()
	for _, t := range tenants {
		cfg, err := s.Configs.Config(ctx, t)
		if err != nil {
			return sent, failed, err
		}
		due, err := s.Outbox.DueAlerts(ctx, t, now)
		if err != nil {
			return sent, failed, err
		}
		for _, p := range due {
			if cfg.AlertURL == "" {
				if err := s.Outbox.DeleteAlert(ctx, t, p.Alert.ID); err != nil {
					return sent, failed, err
				}
				continue
			}
			if perr := s.post(ctx, cfg.AlertURL, p.Alert); perr == nil {
				sent++
				if err := s.Outbox.DeleteAlert(ctx, t, p.Alert.ID); err != nil {
					return sent, failed, err
				}
				continue
			} else {
				failed++
				p.Attempts++
				if p.Attempts >= MaxAttempts {
					s.Log.ErrorContext(ctx, "alert dropped after retries", "tenant", t, "alert", p.Alert.ID, "err", perr)
					if err := s.Outbox.DeleteAlert(ctx, t, p.Alert.ID); err != nil {
						return sent, failed, err
					}
					continue
				}
				p.Next = now.Add(backoff(p.Attempts))
				s.Log.WarnContext(ctx, "alert not delivered, will retry", "tenant", t, "alert", p.Alert.ID, "attempts", p.Attempts, "err", perr)
				if err := s.Outbox.RetryAlert(ctx, t, p); err != nil {
					return sent, failed, err
				}
			}
		}
	}
	return sent, failed, nil
}

func (s *Sender) post(ctx context.Context, url string, a Alert) error {
	b, err := json.Marshal(Message{Text: a.Text(), Alert: a})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alert URL answered %s", resp.Status)
	}
	return nil
}
