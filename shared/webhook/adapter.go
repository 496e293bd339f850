package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// Request is what an adapter sees of a delivery: the raw body, the
// headers (names case-insensitive) and the query string.
type Request struct {
	Body   []byte
	Header http.Header
	Query  map[string]string
	// Now is the server's clock, for signatures with timestamps.
	Now time.Time
}

// Mapping is a tenant's settings for one provider: which question is
// which survey KPI, and how the tool's people map to the tenant's users.
type Mapping struct {
	// Questions maps a tool's question (field) id to the survey KPI it
	// measures.
	Questions map[string]Question `json:"questions,omitempty"`
	// RespondentField names the hidden field (or custom attribute) that
	// carries the tenant's user id; AccountField the account's.
	RespondentField string `json:"respondent_field,omitempty"`
	AccountField    string `json:"account_field,omitempty"`
	// Users maps the tool's own person ids (emails, customer ids) to the
	// tenant's user ids.
	Users map[string]string `json:"users,omitempty"`
	// Channel and Touchpoint label the answers of this provider.
	Channel    string `json:"channel,omitempty"`
	Touchpoint string `json:"touchpoint,omitempty"`
	// APIToken is the tool's API token, for tools whose webhooks carry ids
	// only (SurveyMonkey). Stored encrypted, like the signing secret.
	APIToken tenant.Secret `json:"api_token,omitempty"`
}

// Question says what a tool's question measures and on what scale.
type Question struct {
	Type     string  `json:"type"` // nps, csat or ces
	ScaleMin float64 `json:"scale_min,omitempty"`
	ScaleMax float64 `json:"scale_max,omitempty"`
}

// Person maps a tool's person id to the tenant's user id (identity when
// not mapped).
func (m Mapping) Person(id string) string {
	if u, ok := m.Users[id]; ok && u != "" {
		return u
	}
	return id
}

// Answer is a survey answer in Uptake's terms.
type Answer struct {
	// ResponseID is the tool's response id; UpdatedAt, when the tool
	// changed the response last (a re-scored answer replaces the earlier).
	ResponseID string
	SurveyID   string
	Type       string // nps, csat, ces
	Score      float64
	Respondent string // the tenant's user id
	Account    string // the tenant's groupId, if known
	At         time.Time
	Channel    string
	Touchpoint string
	Comment    string
}

// Result is what a delivery becomes: survey answers and ticket states.
type Result struct {
	Answers []Answer
	Tickets []kpi.Ticket
}

// Unprocessable is a delivery that is authentic but cannot be turned into
// answers or tickets (unknown event type, missing score, unmapped
// question): it is kept with its reason and answered 202, to be processed
// again once the tenant fixes its mapping.
type Unprocessable struct{ Reason string }

func (e *Unprocessable) Error() string { return e.Reason }

// Unprocessablef returns an *Unprocessable.
func Unprocessablef(format string, args ...any) error {
	return &Unprocessable{Reason: fmt.Sprintf(format, args...)}
}

// IsUnprocessable reports whether err is an *Unprocessable.
func IsUnprocessable(err error) bool {
	var u *Unprocessable
	return errors.As(err, &u)
}

// ErrSignature is a failed signature check: 401.
var ErrSignature = errors.New("signature check failed")

// Adapter is one tool's webhook: its signature scheme and its payloads.
type Adapter interface {
	// Verify checks the delivery's signature over the raw body, in
	// constant time; any failure wraps ErrSignature.
	Verify(secret tenant.Secret, r Request) error
	// Normalise turns an authentic delivery into answers and tickets. A
	// body that is not what the tool sends is an *apierr.Error (400); one
	// that cannot be used yet is an *Unprocessable (202).
	Normalise(ctx context.Context, r Request, m Mapping) (Result, error)
	// DeliveryID identifies the delivery for de-duplication of retries,
	// "" when the tool gives none.
	DeliveryID(r Request) string
}

// EqualMAC compares two signatures in constant time.
func EqualMAC(got, want []byte) bool { return hmac.Equal(got, want) }

// Within reports whether a signature timestamp is within Tolerance of now.
func Within(ts, now time.Time) bool {
	d := now.Sub(ts)
	return d <= Tolerance && d >= -Tolerance
}

// Message turns an answer into the `Survey Responded` track message that
// the KPIs count. Its messageId is the response id and its time, so a
// retried delivery counts once and a later update replaces the earlier.
func (a Answer) Message(provider string) ([]byte, error) {
	at := a.At.UTC().Format(time.RFC3339Nano)
	msg := map[string]any{
		"type": "track", "event": "Survey Responded", "messageId": provider + ":" + a.ResponseID + ":" + a.Type + ":" + at,
		"timestamp": at, "userId": a.Respondent,
		"properties": map[string]any{
			"survey_type": a.Type, "survey_id": a.SurveyID, "score": a.Score, "response_id": a.ResponseID,
			"channel": a.Channel, "touchpoint": a.Touchpoint, "comment": a.Comment, "provider": provider,
		},
	}
	if a.Account != "" {
		msg["context"] = map[string]any{"groupId": a.Account}
	}
	return json.Marshal(msg)
}

// TicketMessageOf turns a ticket state into the `Ticket Updated` track
// message that the ticket KPIs read. Its messageId is the ticket, the
// update time and a digest of the state: a retried delivery counts once,
// while two events of one update that tell different things (Zendesk's
// agent comment, with the first response, and its status change) are
// both kept and merged by kpi.MergeTicket, whichever arrives first.
func TicketMessageOf(provider string, t kpi.Ticket) ([]byte, error) {
	at := t.Updated.UTC().Format(time.RFC3339Nano)
	state, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(state)
	msg := map[string]any{
		"type": "track", "event": kpi.TicketUpdated, "messageId": provider + ":ticket:" + t.ID + ":" + at + ":" + hex.EncodeToString(digest[:8]),
		"timestamp": at, "properties": t,
	}
	if t.Requester != "" {
		msg["userId"] = t.Requester
	} else {
		msg["anonymousId"] = provider + ":ticket:" + t.ID
	}
	if t.Account != "" {
		msg["context"] = map[string]any{"groupId": t.Account}
	}
	return json.Marshal(msg)
}

// unmarshalID reads an id the tools send as a string, a number or null.
func unmarshalID(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return "", nil
	case len(b) > 0 && b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return "", fmt.Errorf("id %s is neither a string nor a number", b)
	}
	return n.String(), nil
}

// bodyID is a delivery's top-level "id" string, "" when it has none.
func bodyID(body []byte) string {
	var d struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &d) != nil {
		return ""
	}
	return d.ID
}

// bodyEventID is a delivery's top-level "event_id" string, "" when it has
// none.
func bodyEventID(body []byte) string {
	var d struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(body, &d) != nil {
		return ""
	}
	return d.EventID
}
