package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/tenant"
)

// SurveyMonkeySignatureHeader carries SurveyMonkey's signature: the base64
// HMAC-SHA1 of the raw body.
//
// Per SurveyMonkey's API v3 docs (Webhooks > Webhook Callbacks), the HMAC key
// is "<api key or client id>&<api secret>": the app's Client ID (or the API
// key of apps on the old authentication), an ampersand, and the app's
// secret. The tenant's stored signing secret for "surveymonkey" is that whole
// key string, e.g. "AbC123clientid&s3cr3t". SurveyMonkey also sends
// Sm-Apikey (the client id); it is not needed to check the signature.
const SurveyMonkeySignatureHeader = "Sm-Signature"

// SurveyMonkeyBaseURL is SurveyMonkey's API v3.
const SurveyMonkeyBaseURL = "https://api.surveymonkey.com/v3"

// surveyMonkeyTimeout bounds the follow-up call for the response details.
const surveyMonkeyTimeout = 8 * time.Second

// surveyMonkeyMaxDetails bounds the response-details body read.
const surveyMonkeyMaxDetails = 8 << 20

// ErrSurveyMonkeyAPI wraps a failed follow-up call to SurveyMonkey's API
// (network failure, timeout, non-2xx, unreadable body). It is neither an
// *apierr.Error nor an *Unprocessable, so the handler keeps the delivery
// (202) and it can be reprocessed once the API answers again.
var ErrSurveyMonkeyAPI = errors.New("surveymonkey api")

// SurveyMonkey is the surveymonkey provider: the response_completed and
// response_updated webhooks of the API v3 (POST /v3/webhooks with
// object_type survey). The callbacks carry ids only, so Normalise fetches
// the response details with the tenant's API token (Mapping.APIToken).
//
// SurveyMonkey signs the raw body only (no timestamp), so replays are caught
// by de-duplication on event_id, not by the signature.
type SurveyMonkey struct {
	// Client makes the follow-up calls; nil is http.DefaultClient.
	Client *http.Client
	// BaseURL is the API's root, without a trailing slash.
	BaseURL string
}

var _ Adapter = SurveyMonkey{}

// NewSurveyMonkey returns the adapter calling baseURL (SurveyMonkeyBaseURL
// when empty) with client (http.DefaultClient when nil).
func NewSurveyMonkey(client *http.Client, baseURL string) SurveyMonkey {
	if baseURL == "" {
		baseURL = SurveyMonkeyBaseURL
	}
	return SurveyMonkey{Client: client, BaseURL: strings.TrimRight(baseURL, "/")}
}

// Verify checks the Sm-Signature header against the secret
// "<client id>&<client secret>".
func (SurveyMonkey) Verify(secret tenant.Secret, r Request) error {
	header := strings.TrimSpace(r.Header.Get(SurveyMonkeySignatureHeader))
	if header == "" {
		return fmt.Errorf("%w: no %s header", ErrSignature, SurveyMonkeySignatureHeader)
	}
	if secret == "" {
		return fmt.Errorf("%w: no surveymonkey secret", ErrSignature)
	}
	if !strings.Contains(string(secret), "&") {
		return fmt.Errorf("%w: the surveymonkey secret must be \"<client id>&<client secret>\"", ErrSignature)
	}
	got, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64", ErrSignature, SurveyMonkeySignatureHeader)
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(r.Body)
	if !EqualMAC(got, m.Sum(nil)) {
		return ErrSignature
	}
	return nil
}

type surveyMonkeyEvent struct {
	Name          string `json:"name"`
	EventType     string `json:"event_type"`
	EventID       string `json:"event_id"`
	ObjectType    string `json:"object_type"`
	ObjectID      string `json:"object_id"`
	EventDatetime string `json:"event_datetime"`
	Resources     struct {
		SurveyID    string `json:"survey_id"`
		CollectorID string `json:"collector_id"`
	} `json:"resources"`
}

// DeliveryID is the event_id; for a callback without one, the event type,
// object id and event time.
func (SurveyMonkey) DeliveryID(r Request) string {
	var e surveyMonkeyEvent
	if json.Unmarshal(r.Body, &e) != nil {
		return ""
	}
	if e.EventID != "" {
		return e.EventID
	}
	if e.ObjectID == "" || e.EventDatetime == "" {
		return ""
	}
	return e.EventType + ":" + e.ObjectID + ":" + e.EventDatetime
}

// surveyMonkeyID reports whether id looks like a SurveyMonkey id (numeric
// strings; `^[0-9A-Za-z_-]{1,64}$` is allowed); the check keeps a body's
// ids from steering the follow-up call elsewhere. Written out rather than
// a regular expression compiled at package init, which cost every Lambda
// cold start ~0.7 ms (benchmark P4).
func surveyMonkeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

type surveyMonkeyAnswer struct {
	ChoiceID       string `json:"choice_id"`
	RowID          string `json:"row_id"`
	OtherID        string `json:"other_id"`
	Text           string `json:"text"`
	SimpleText     string `json:"simple_text"`
	ChoiceMetadata *struct {
		Weight json.RawMessage `json:"weight"`
	} `json:"choice_metadata"`
}

type surveyMonkeyDetails struct {
	ID              string                     `json:"id"`
	SurveyID        string                     `json:"survey_id"`
	DateCreated     string                     `json:"date_created"`
	DateModified    string                     `json:"date_modified"`
	EmailAddress    string                     `json:"email_address"`
	CustomVariables map[string]json.RawMessage `json:"custom_variables"`
	Metadata        struct {
		Contact struct {
			Email struct {
				Value string `json:"value"`
			} `json:"email"`
		} `json:"contact"`
	} `json:"metadata"`
	Pages []struct {
		Questions []struct {
			ID      string               `json:"id"`
			Answers []surveyMonkeyAnswer `json:"answers"`
		} `json:"questions"`
	} `json:"pages"`
}

// Normalise fetches the response details of a response_completed or
// response_updated callback and turns them into one answer per mapped
// question.
//
// SurveyMonkey's answers carry no NPS flag, so Mapping.Questions decides
// which question is which KPI. A chosen answer's score is, in order:
//  1. choice_metadata.weight, which the details carry for NPS and weighted
//     (scored) choices: SurveyMonkey's NPS choices weigh 0–10;
//  2. simple_text, the choice's text when the details are read "simple";
//  3. text, for a numeric open-ended (text box) answer;
//
// each parsed as a number. The first open-ended answer of an unmapped
// question is the comment.
func (s SurveyMonkey) Normalise(ctx context.Context, r Request, m Mapping) (Result, error) {
	var e surveyMonkeyEvent
	if err := json.Unmarshal(r.Body, &e); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "surveymonkey payload: %v", err)
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "surveymonkey payload: "+format, args...)
	}
	switch e.EventType {
	case "response_completed", "response_updated":
	default:
		return Result{}, Unprocessablef("unknown event type %q: only response_completed and response_updated carry answers", e.EventType)
	}
	switch {
	case e.ObjectType != "" && e.ObjectType != "response":
		return Result{}, bad("object_type %q must be response", e.ObjectType)
	case !surveyMonkeyID(e.ObjectID):
		return Result{}, bad("object_id %q is not a response id", e.ObjectID)
	case !surveyMonkeyID(e.Resources.SurveyID):
		return Result{}, bad("resources.survey_id %q is not a survey id", e.Resources.SurveyID)
	}
	if m.APIToken == "" {
		return Result{}, Unprocessablef("set the SurveyMonkey API token in the mapping: the callback carries ids only")
	}
	if len(m.Questions) == 0 {
		return Result{}, Unprocessablef("no question is mapped: map the NPS, CSAT or CES question ids with questions")
	}
	d, err := s.details(ctx, m.APIToken, e.Resources.SurveyID, e.ObjectID)
	if err != nil {
		return Result{}, err
	}
	responseID := typeformOr(d.ID, e.ObjectID)
	surveyID := typeformOr(d.SurveyID, e.Resources.SurveyID)

	stamp := typeformOr(d.DateModified, d.DateCreated)
	at, err := event.ParseTime(stamp)
	if err != nil || at.Before(event.Earliest) {
		return Result{}, Unprocessablef("response %s: date_modified %q is not an ISO 8601 date-time after 2000", responseID, stamp)
	}
	at = at.UTC()

	var comment string
	type scored struct {
		typ   string
		score float64
	}
	var scores []scored
	for _, p := range d.Pages {
		for _, q := range p.Questions {
			mq, mapped := m.Questions[q.ID]
			if !mapped {
				for _, a := range q.Answers {
					if comment == "" && a.ChoiceID == "" && a.RowID == "" && a.OtherID == "" && strings.TrimSpace(a.Text) != "" {
						comment = strings.TrimSpace(a.Text)
					}
				}
				continue
			}
			if !typeformKPI(mq.Type) {
				return Result{}, Unprocessablef("question %s is mapped to %q: the type must be nps, csat or ces", q.ID, mq.Type)
			}
			score, ok := 0.0, false
			for _, a := range q.Answers {
				if score, ok = surveyMonkeyScore(a); ok {
					break
				}
			}
			if !ok {
				if len(q.Answers) == 0 {
					continue // skipped
				}
				return Result{}, Unprocessablef("question %s: the answer has no numeric weight or text; give its choices scoring weights", q.ID)
			}
			lo, hi := mq.ScaleMin, mq.ScaleMax
			if hi <= lo && mq.Type == "nps" {
				lo, hi = 0, 10
			}
			if hi > lo && (score < lo || score > hi) {
				return Result{}, Unprocessablef("question %s scored %v, outside its scale %v–%v", q.ID, score, lo, hi)
			}
			scores = append(scores, scored{mq.Type, score})
		}
	}
	if len(scores) == 0 {
		return Result{}, Unprocessablef("response %s answers no mapped question: map the NPS, CSAT or CES question ids with questions", responseID)
	}
	field := typeformOr(m.RespondentField, "user_id")
	respondent := typeformProp(d.CustomVariables, field)
	if respondent == "" {
		respondent = strings.TrimSpace(typeformOr(d.Metadata.Contact.Email.Value, d.EmailAddress))
	}
	if respondent == "" {
		return Result{}, Unprocessablef("no respondent: the custom variable %q is empty and the response has no contact email; pass the user's id in it", field)
	}
	account := typeformProp(d.CustomVariables, typeformOr(m.AccountField, "account_id"))
	var res Result
	for _, sc := range scores {
		res.Answers = append(res.Answers, Answer{
			ResponseID: responseID, SurveyID: surveyID, Type: sc.typ, Score: sc.score,
			Respondent: m.Person(respondent), Account: account, At: at,
			Channel: typeformOr(m.Channel, "surveymonkey"), Touchpoint: m.Touchpoint, Comment: comment,
		})
	}
	return res, nil
}

// surveyMonkeyScore is an answer's number: its choice weight, else its
// choice text, else its open-ended text.
func surveyMonkeyScore(a surveyMonkeyAnswer) (float64, bool) {
	if a.ChoiceMetadata != nil {
		if w := typeformScalar(a.ChoiceMetadata.Weight); w != "" {
			if f, err := strconv.ParseFloat(w, 64); err == nil && surveyMonkeyFinite(f) {
				return f, true
			}
		}
	}
	for _, t := range []string{a.SimpleText, a.Text} {
		if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil && surveyMonkeyFinite(f) {
			return f, true
		}
	}
	return 0, false
}

func surveyMonkeyFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// details fetches GET /surveys/{survey}/responses/{response}/details. Any
// failure wraps ErrSurveyMonkeyAPI: a plain error, so the delivery is kept.
func (s SurveyMonkey) details(ctx context.Context, token tenant.Secret, surveyID, responseID string) (surveyMonkeyDetails, error) {
	base := typeformOr(strings.TrimRight(s.BaseURL, "/"), SurveyMonkeyBaseURL)
	u := base + "/surveys/" + url.PathEscape(surveyID) + "/responses/" + url.PathEscape(responseID) + "/details"
	ctx, cancel := context.WithTimeout(ctx, surveyMonkeyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return surveyMonkeyDetails{}, fmt.Errorf("%w: %v", ErrSurveyMonkeyAPI, err)
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	req.Header.Set("Accept", "application/json")
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL, never the token.
		return surveyMonkeyDetails{}, fmt.Errorf("%w: response %s details: %v", ErrSurveyMonkeyAPI, responseID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, surveyMonkeyMaxDetails))
	if err != nil {
		return surveyMonkeyDetails{}, fmt.Errorf("%w: response %s details: %v", ErrSurveyMonkeyAPI, responseID, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return surveyMonkeyDetails{}, fmt.Errorf("%w: response %s details: %s: %s", ErrSurveyMonkeyAPI, responseID, resp.Status, surveyMonkeySnippet(body))
	}
	var d surveyMonkeyDetails
	if err := json.Unmarshal(body, &d); err != nil {
		return surveyMonkeyDetails{}, fmt.Errorf("%w: response %s details: %v", ErrSurveyMonkeyAPI, responseID, err)
	}
	return d, nil
}

// surveyMonkeySnippet is the start of an error body, for the kept reason.
func surveyMonkeySnippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.ToValidUTF8(string(b), "?")
}
