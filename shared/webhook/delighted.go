package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/tenant"
)

// DelightedSignatureHeader carries Delighted's signature: the hex
// HMAC-SHA256 of the raw body, keyed with the project's private API key
// (Delighted's docs). Delighted's own clients read it as "sha256=<hex>";
// a bare "<hex>" is accepted too. Delighted documents no timestamp, so
// replays are caught by de-duplication on event_id.
const DelightedSignatureHeader = "X-Delighted-Webhook-Signature"

// Delighted is the delighted provider: survey_response.created and
// survey_response.updated webhooks of a Delighted project. The zero value
// is ready to use.
type Delighted struct{}

var _ Adapter = Delighted{}

// Verify checks the X-Delighted-Webhook-Signature header.
func (Delighted) Verify(secret tenant.Secret, r Request) error {
	header := strings.TrimSpace(r.Header.Get(DelightedSignatureHeader))
	if header == "" {
		return fmt.Errorf("%w: no %s header", ErrSignature, DelightedSignatureHeader)
	}
	if secret == "" {
		return fmt.Errorf("%w: no delighted secret", ErrSignature)
	}
	sig := header
	if algo, rest, ok := strings.Cut(header, "="); ok {
		if algo != "sha256" {
			return fmt.Errorf("%w: %s must be sha256=<hex HMAC-SHA256>", ErrSignature, DelightedSignatureHeader)
		}
		sig = rest
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrSignature, DelightedSignatureHeader)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(r.Body)
	if !EqualMAC(got, m.Sum(nil)) {
		return ErrSignature
	}
	return nil
}

// DeliveryID is the event_id of Delighted's documented payload, "" when
// absent.
func (Delighted) DeliveryID(r Request) string { return bodyEventID(r.Body) }

type delightedPayload struct {
	EventType string `json:"event_type"`
	EventID   string `json:"event_id"`
	EventData *struct {
		ID         json.RawMessage `json:"id"`
		Person     json.RawMessage `json:"person"` // an object; a bare id in the REST API
		SurveyType *string         `json:"survey_type"`
		Score      *float64        `json:"score"`
		Comment    *string         `json:"comment"`
		CreatedAt  *int64          `json:"created_at"`
		UpdatedAt  *int64          `json:"updated_at"`
		// PersonProperties is an object or null.
		PersonProperties map[string]json.RawMessage `json:"person_properties"`
	} `json:"event_data"`
}

type delightedPerson struct {
	ID         json.RawMessage `json:"id"`
	Email      *string         `json:"email"`
	CustomerID json.RawMessage `json:"customer_id"`
}

// delightedTypes maps Delighted's survey types to Uptake's, with the
// scale each is answered on. Thumbs (up/down) and PMF (product/market fit)
// are not on a numeric scale and need a mapping under questions.
var delightedTypes = map[string]Question{
	"nps":       {Type: "nps", ScaleMin: 0, ScaleMax: 10},
	"enps":      {Type: "nps", ScaleMin: 0, ScaleMax: 10},
	"csat":      {Type: "csat", ScaleMin: 1, ScaleMax: 5},
	"ces":       {Type: "ces", ScaleMin: 1, ScaleMax: 7},
	"five_star": {Type: "csat", ScaleMin: 1, ScaleMax: 5},
	"star":      {Type: "csat", ScaleMin: 1, ScaleMax: 5},
	"stars":     {Type: "csat", ScaleMin: 1, ScaleMax: 5},
	"smileys":   {Type: "csat", ScaleMin: 1, ScaleMax: 5},
	"smiley":    {Type: "csat", ScaleMin: 1, ScaleMax: 5},
}

// Normalise turns a survey_response webhook into one answer. An updated
// response carries its updated_at, so it replaces the earlier answer.
func (Delighted) Normalise(_ context.Context, r Request, m Mapping) (Result, error) {
	var p delightedPayload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "delighted payload: %v", err)
	}
	if p.EventType != "survey_response.created" && p.EventType != "survey_response.updated" {
		return Result{}, Unprocessablef("unknown event type %q: only survey_response.created and survey_response.updated carry answers", p.EventType)
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "delighted payload: "+format, args...)
	}
	d := p.EventData
	if d == nil {
		return Result{}, bad("event_data is required")
	}
	id := typeformScalar(d.ID)
	if id == "" {
		return Result{}, bad("event_data.id is required")
	}
	at := delightedUnix(d.UpdatedAt)
	if at.IsZero() {
		at = delightedUnix(d.CreatedAt)
	}
	if at.Before(event.Earliest) {
		return Result{}, bad("event_data.updated_at or created_at must be unix seconds after 2000")
	}

	surveyType := "nps"
	if d.SurveyType != nil && *d.SurveyType != "" {
		surveyType = strings.ToLower(*d.SurveyType)
	}
	q, mapped := m.Questions[surveyType]
	if !mapped {
		var known bool
		if q, known = delightedTypes[surveyType]; !known {
			return Result{}, Unprocessablef("survey type %q is not NPS, CSAT or CES: map it with questions", surveyType)
		}
	}
	if !typeformKPI(q.Type) {
		return Result{}, Unprocessablef("survey type %q is mapped to %q: the type must be nps, csat or ces", surveyType, q.Type)
	}
	if d.Score == nil {
		return Result{}, Unprocessablef("response %s has no score", id)
	}
	if q.ScaleMax > q.ScaleMin && (*d.Score < q.ScaleMin || *d.Score > q.ScaleMax) {
		if mapped {
			return Result{}, Unprocessablef("response %s scored %v, outside the mapped scale %v–%v", id, *d.Score, q.ScaleMin, q.ScaleMax)
		}
		return Result{}, bad("%s response %s scored %v, outside %v–%v", surveyType, id, *d.Score, q.ScaleMin, q.ScaleMax)
	}

	respondent := ""
	if m.RespondentField != "" {
		respondent = typeformProp(d.PersonProperties, m.RespondentField)
	}
	if respondent == "" {
		respondent = delightedPersonID(d.Person)
		if c := typeformProp(d.PersonProperties, "customer_id"); c != "" && !delightedHasCustomerID(d.Person) {
			// Delighted's docs pass the customer id as a person property.
			respondent = c
		}
		if respondent != "" {
			respondent = m.Person(respondent)
		}
	}
	if respondent == "" {
		return Result{}, Unprocessablef("no respondent: the person has no customer_id, email or id")
	}
	comment := ""
	if d.Comment != nil {
		comment = *d.Comment
	}
	return Result{Answers: []Answer{{
		ResponseID: id, SurveyID: surveyType, Type: q.Type, Score: *d.Score,
		Respondent: respondent, Account: typeformProp(d.PersonProperties, typeformOr(m.AccountField, "account_id")), At: at,
		Channel: typeformOr(m.Channel, "delighted"), Touchpoint: m.Touchpoint, Comment: comment,
	}}}, nil
}

// delightedPersonID is the person's customer_id, else email, else id
// (Normalise prefers a customer_id person property over email and id).
func delightedPersonID(raw json.RawMessage) string {
	var pp delightedPerson
	if json.Unmarshal(raw, &pp) != nil {
		return typeformScalar(raw) // a bare id
	}
	if c := typeformScalar(pp.CustomerID); c != "" {
		return c
	}
	if pp.Email != nil && strings.TrimSpace(*pp.Email) != "" {
		return strings.TrimSpace(*pp.Email)
	}
	return typeformScalar(pp.ID)
}

func delightedHasCustomerID(raw json.RawMessage) bool {
	var pp delightedPerson
	return json.Unmarshal(raw, &pp) == nil && typeformScalar(pp.CustomerID) != ""
}

// delightedUnix is a timestamp in unix seconds; zero when absent.
func delightedUnix(sec *int64) time.Time {
	if sec == nil || *sec <= 0 {
		return time.Time{}
	}
	return time.Unix(*sec, 0).UTC()
}
