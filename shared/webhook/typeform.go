package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/tenant"
)

// TypeformSignatureHeader carries Typeform's signature:
// "sha256=<base64 HMAC-SHA256 of the raw body with the webhook's secret>".
const TypeformSignatureHeader = "Typeform-Signature"

// Typeform is the typeform provider: the form_response webhook of a form's
// Connect > Webhooks, signed with the secret set on that webhook. The zero
// value is ready to use.
//
// Typeform signs the raw body only (no timestamp), so replays are caught by
// de-duplication on event_id, not by the signature.
type Typeform struct{}

var _ Adapter = Typeform{}

// Verify checks the Typeform-Signature header.
func (Typeform) Verify(secret tenant.Secret, r Request) error {
	header := strings.TrimSpace(r.Header.Get(TypeformSignatureHeader))
	if header == "" {
		return fmt.Errorf("%w: no %s header", ErrSignature, TypeformSignatureHeader)
	}
	if secret == "" {
		return fmt.Errorf("%w: no typeform secret", ErrSignature)
	}
	algo, sig, ok := strings.Cut(header, "=")
	if !ok || algo != "sha256" {
		return fmt.Errorf("%w: %s must be sha256=<base64 HMAC-SHA256>", ErrSignature, TypeformSignatureHeader)
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64", ErrSignature, TypeformSignatureHeader)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(r.Body)
	if !EqualMAC(got, m.Sum(nil)) {
		return ErrSignature
	}
	return nil
}

// DeliveryID is the event_id, which Typeform keeps across retries.
func (Typeform) DeliveryID(r Request) string { return bodyEventID(r.Body) }

type typeformField struct {
	ID   string `json:"id"`
	Ref  string `json:"ref"`
	Type string `json:"type"`
}

type typeformPayload struct {
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	FormResponse *struct {
		FormID      string                     `json:"form_id"`
		Token       string                     `json:"token"`
		SubmittedAt string                     `json:"submitted_at"`
		Hidden      map[string]json.RawMessage `json:"hidden"`
		Definition  *struct {
			Fields []typeformField `json:"fields"`
		} `json:"definition"`
		Answers []struct {
			Type   string        `json:"type"`
			Number *float64      `json:"number"`
			Text   *string       `json:"text"`
			Field  typeformField `json:"field"`
		} `json:"answers"`
	} `json:"form_response"`
}

// typeformScored are the field types whose number answers may be mapped to a
// survey KPI with Mapping.Questions.
var typeformScored = map[string]bool{"nps": true, "number": true, "rating": true, "opinion_scale": true}

// Normalise turns a form_response into one answer per scored question.
func (Typeform) Normalise(_ context.Context, r Request, m Mapping) (Result, error) {
	var p typeformPayload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "typeform payload: %v", err)
	}
	if p.EventType != "form_response" {
		return Result{}, Unprocessablef("unknown event type %q: only form_response carries answers", p.EventType)
	}
	fr := p.FormResponse
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "typeform payload: "+format, args...)
	}
	switch {
	case fr == nil:
		return Result{}, bad("form_response is required")
	case fr.FormID == "":
		return Result{}, bad("form_response.form_id is required")
	case fr.Token == "":
		return Result{}, bad("form_response.token is required")
	}
	at, err := event.ParseTime(fr.SubmittedAt)
	if err != nil || at.Before(event.Earliest) {
		return Result{}, bad("form_response.submitted_at %q is not an ISO 8601 date-time after 2000", fr.SubmittedAt)
	}
	at = at.UTC()

	// Field types from the definition, for answers whose field lacks one.
	types := map[string]string{}
	if fr.Definition != nil {
		for _, f := range fr.Definition.Fields {
			types[f.ID] = f.Type
		}
	}
	var comment string
	type scored struct {
		typ   string
		score float64
	}
	var scores []scored
	for _, a := range fr.Answers {
		ft := a.Field.Type
		if ft == "" {
			ft = types[a.Field.ID]
		}
		if (ft == "long_text" || ft == "short_text") && a.Text != nil && comment == "" {
			comment = *a.Text
			continue
		}
		if a.Number == nil || !typeformScored[ft] {
			continue
		}
		q, mapped := m.Questions[a.Field.ID]
		if !mapped && a.Field.Ref != "" {
			q, mapped = m.Questions[a.Field.Ref]
		}
		switch {
		case mapped:
			if !typeformKPI(q.Type) {
				return Result{}, Unprocessablef("question %s is mapped to %q: the type must be nps, csat or ces", a.Field.ID, q.Type)
			}
			if q.ScaleMax > q.ScaleMin && (*a.Number < q.ScaleMin || *a.Number > q.ScaleMax) {
				return Result{}, Unprocessablef("question %s scored %v, outside its mapped scale %v–%v", a.Field.ID, *a.Number, q.ScaleMin, q.ScaleMax)
			}
			scores = append(scores, scored{q.Type, *a.Number})
		case ft == "nps":
			if *a.Number < 0 || *a.Number > 10 {
				return Result{}, bad("nps question %s scored %v, outside 0–10", a.Field.ID, *a.Number)
			}
			scores = append(scores, scored{"nps", *a.Number})
		}
	}
	if len(scores) == 0 {
		return Result{}, Unprocessablef("no NPS, CSAT or CES question: map one with questions")
	}
	respondent := typeformProp(fr.Hidden, typeformOr(m.RespondentField, "user_id"))
	if respondent == "" {
		return Result{}, Unprocessablef("no respondent: the hidden field %q is empty; pass the user's id in it", typeformOr(m.RespondentField, "user_id"))
	}
	account := typeformProp(fr.Hidden, typeformOr(m.AccountField, "account_id"))
	var res Result
	for _, s := range scores {
		res.Answers = append(res.Answers, Answer{
			ResponseID: fr.Token, SurveyID: fr.FormID, Type: s.typ, Score: s.score,
			Respondent: m.Person(respondent), Account: account, At: at,
			Channel: typeformOr(m.Channel, "typeform"), Touchpoint: m.Touchpoint, Comment: comment,
		})
	}
	return res, nil
}

func typeformKPI(t string) bool { return t == "nps" || t == "csat" || t == "ces" }

func typeformOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// typeformProp reads a string or number from a JSON object of properties
// (Typeform's hidden fields, Delighted's person properties); null, absent
// and other kinds are "".
func typeformProp(props map[string]json.RawMessage, key string) string {
	return typeformScalar(props[key])
}

// typeformScalar is a JSON string or number as a trimmed string, else "".
func typeformScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if _, err := strconv.ParseFloat(n.String(), 64); err == nil {
			return n.String()
		}
	}
	return ""
}
