package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// HelpScout is the adapter of Help Scout's webhooks (Manage > Apps >
// Webhooks). Each request names its event in X-HelpScout-Event and is
// signed with the webhook's secret key: X-HelpScout-Signature is the base64
// HMAC-SHA1 of the raw body. Conversation events carry the whole
// conversation object; satisfaction.ratings carries a rating object.
type HelpScout struct{}

// Help Scout's headers.
const (
	HelpScoutSignatureHeader = "X-HelpScout-Signature"
	HelpScoutEventHeader     = "X-HelpScout-Event"
)

// HelpScoutRatingQuestion is the Mapping.Questions key whose scale the
// three-point ratings are put on (the CSAT default 1–5 when absent).
const HelpScoutRatingQuestion = "rating"

// helpScoutConvoEvents carry a conversation object.
var helpScoutConvoEvents = []string{
	"convo.assigned", "convo.created", "convo.ai-answers.created", "convo.merged", "convo.moved",
	"convo.status", "convo.tags", "convo.custom-fields", "convo.customer.reply.created",
	"convo.agent.reply.created", "convo.note.created",
}

// Verify checks X-HelpScout-Signature over the raw body.
func (HelpScout) Verify(secret tenant.Secret, r Request) error {
	if secret == "" {
		return fmt.Errorf("%w: no Help Scout secret key is set", ErrSignature)
	}
	h := strings.TrimSpace(r.Header.Get(HelpScoutSignatureHeader))
	if h == "" {
		return fmt.Errorf("%w: %s is missing", ErrSignature, HelpScoutSignatureHeader)
	}
	got, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64", ErrSignature, HelpScoutSignatureHeader)
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(r.Body)
	if !EqualMAC(got, m.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body", ErrSignature, HelpScoutSignatureHeader)
	}
	return nil
}

// DeliveryID is "": Help Scout documents no delivery id, so retries are
// de-duplicated by the ticket state's update time and the rating's id.
func (HelpScout) DeliveryID(Request) string { return "" }

type helpScoutCustomer struct {
	ID     helpScoutID `json:"id"`
	Email  string      `json:"email"`
	Emails []struct {
		Value string `json:"value"`
	} `json:"emails"`
}

func (c *helpScoutCustomer) email() string {
	if c.Email != "" {
		return c.Email
	}
	for _, e := range c.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	return ""
}

type helpScoutThread struct {
	Type      string `json:"type"`
	CreatedAt string `json:"createdAt"`
	CreatedBy *struct {
		Type string `json:"type"`
	} `json:"createdBy"`
	State string `json:"state"`
}

type helpScoutConversation struct {
	ID            helpScoutID        `json:"id"`
	Number        helpScoutID        `json:"number"`
	Type          string             `json:"type"`
	Status        string             `json:"status"`
	State         string             `json:"state"`
	CreatedAt     string             `json:"createdAt"`
	UserUpdatedAt string             `json:"userUpdatedAt"`
	ModifiedAt    string             `json:"modifiedAt"`
	UpdatedAt     string             `json:"updatedAt"`
	ClosedAt      string             `json:"closedAt"`
	Tags          []json.RawMessage  `json:"tags"`
	Customer      *helpScoutCustomer `json:"customer"`
	Primary       *helpScoutCustomer `json:"primaryCustomer"`
	// Threads is the threads' list (webhooks of API v1) or their count
	// (v2, whose threads are under _embedded).
	Threads  json.RawMessage `json:"threads"`
	Embedded *struct {
		Threads []helpScoutThread `json:"threads"`
	} `json:"_embedded"`
}

type helpScoutRating struct {
	ID             helpScoutID        `json:"id"`
	Customer       *helpScoutCustomer `json:"customer"`
	TicketID       helpScoutID        `json:"ticketId"`
	ConversationID helpScoutID        `json:"conversationId"`
	ThreadID       helpScoutID        `json:"threadId"`
	Rating         string             `json:"rating"`
	Comments       *string            `json:"comments"`
	CreatedAt      string             `json:"createdAt"`
	ModifiedAt     string             `json:"modifiedAt"`
}

// helpScoutID is an id sent as a number or a string.
type helpScoutID string

func (id *helpScoutID) UnmarshalJSON(b []byte) error {
	var v intercomID
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*id = helpScoutID(v)
	return nil
}

// Normalise turns a conversation event into the conversation's ticket
// state and satisfaction.ratings into a CSAT answer.
func (HelpScout) Normalise(_ context.Context, r Request, m Mapping) (Result, error) {
	ev := strings.TrimSpace(r.Header.Get(HelpScoutEventHeader))
	switch {
	case ev == "":
		return Result{}, apierr.New(apierr.InvalidRequest, "help scout: the %s header is missing", HelpScoutEventHeader)
	case ev == "satisfaction.ratings":
		return helpScoutRatingResult(r.Body, m)
	case ev == "convo.deleted":
		return Result{}, Unprocessablef("help scout: %s is not kept: a deleted conversation keeps its last state", ev)
	case !slices.Contains(helpScoutConvoEvents, ev):
		return Result{}, Unprocessablef("help scout: unknown event %q", ev)
	}
	var c helpScoutConversation
	if err := json.Unmarshal(r.Body, &c); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "help scout conversation: %v", err)
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "help scout conversation: "+format, args...)
	}
	if c.ID == "" || len(c.ID) > 200 {
		return Result{}, bad("id is required (at most 200 characters)")
	}
	created, err := helpScoutTime("createdAt", c.CreatedAt)
	if err != nil {
		return Result{}, err
	}
	if created == nil {
		return Result{}, bad("createdAt is required")
	}
	updated := created
	for _, f := range []struct{ name, v string }{{"userUpdatedAt", c.UserUpdatedAt}, {"modifiedAt", c.ModifiedAt},
		{"updatedAt", c.UpdatedAt}, {"closedAt", c.ClosedAt}} {
		t, err := helpScoutTime(f.name, f.v)
		if err != nil {
			return Result{}, err
		}
		if t != nil && t.After(*updated) {
			updated = t
		}
	}
	var status string
	switch strings.ToLower(c.Status) {
	case "active", "open":
		status = "open"
	case "pending":
		status = "pending"
	case "closed":
		status = "solved"
	case "spam":
		status = "closed"
	case "":
		return Result{}, bad("status is required")
	default:
		return Result{}, Unprocessablef("help scout: unknown conversation status %q", c.Status)
	}
	t := kpi.Ticket{ID: string(c.ID), Status: status, Channel: strings.ToLower(c.Type), Created: *created, Updated: *updated}
	cust := c.Primary
	if cust == nil {
		cust = c.Customer
	}
	t.Requester = helpScoutPerson(cust, m)
	for _, raw := range c.Tags {
		name, err := helpScoutTag(raw)
		if err != nil {
			return Result{}, bad("tags: %v", err)
		}
		if name != "" && !slices.Contains(t.Tags, name) {
			t.Tags = append(t.Tags, name)
		}
	}
	threads, err := c.threads()
	if err != nil {
		return Result{}, bad("threads: %v", err)
	}
	for _, th := range threads {
		// An agent's reply: "message" (API v1, and v2's agent-started
		// conversation) or "reply" (v2), by a user (an agent), published.
		if (th.Type != "message" && th.Type != "reply") || th.CreatedBy == nil || th.CreatedBy.Type != "user" ||
			(th.State != "" && th.State != "published") {
			continue
		}
		at, err := helpScoutTime("threads.createdAt", th.CreatedAt)
		if err != nil {
			return Result{}, err
		}
		if at != nil && (t.FirstResponse == nil || at.Before(*t.FirstResponse)) {
			t.FirstResponse = at
		}
	}
	if status == "solved" || status == "closed" {
		t.Resolved = updated
		if closed, _ := helpScoutTime("closedAt", c.ClosedAt); closed != nil && status == "solved" {
			t.Resolved = closed
		}
	}
	return Result{Tickets: []kpi.Ticket{t}}, nil
}

func (c helpScoutConversation) threads() ([]helpScoutThread, error) {
	var ts []helpScoutThread
	if c.Embedded != nil {
		ts = append(ts, c.Embedded.Threads...)
	}
	raw := bytes.TrimSpace(c.Threads)
	if len(raw) > 0 && raw[0] == '[' {
		var list []helpScoutThread
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		ts = append(ts, list...)
	}
	return ts, nil
}

// helpScoutTag is a tag as a string (API v1) or an object {tag} / {name}
// (v2).
func helpScoutTag(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return strings.TrimSpace(s), err
	}
	var o struct {
		Tag  string `json:"tag"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", fmt.Errorf("a tag is neither a string nor an object")
	}
	if o.Tag != "" {
		return strings.TrimSpace(o.Tag), nil
	}
	return strings.TrimSpace(o.Name), nil
}

// helpScoutPerson is the tenant's user id of a customer: the mapping of
// its email, else of its id, else the email, else the id.
func helpScoutPerson(c *helpScoutCustomer, m Mapping) string {
	if c == nil {
		return ""
	}
	email := c.email()
	if u, ok := m.Users[email]; ok && email != "" && u != "" {
		return u
	}
	if u, ok := m.Users[string(c.ID)]; ok && c.ID != "" && u != "" {
		return u
	}
	if email != "" {
		return email
	}
	return string(c.ID)
}

// helpScoutTime parses Help Scout's ISO 8601 UTC times; "" is unset.
func helpScoutTime(name, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := event.ParseTime(v)
	if err != nil || t.Before(event.Earliest) {
		return nil, apierr.New(apierr.InvalidRequest, "help scout: %s %q is not an ISO 8601 date-time after 2000", name, v)
	}
	t = t.UTC()
	return &t, nil
}

// helpScoutScores are the three ratings' places on a 0–1 line: Great is
// the top of the scale, Okay its middle, Bad ("Not Good") its bottom.
var helpScoutScores = map[string]float64{"great": 1, "okay": 0.5, "ok": 0.5, "bad": 0, "not good": 0, "not-good": 0, "notgood": 0}

func helpScoutRatingResult(body []byte, m Mapping) (Result, error) {
	var rt helpScoutRating
	if err := json.Unmarshal(body, &rt); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "help scout rating: %v", err)
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "help scout rating: "+format, args...)
	}
	if rt.ID == "" || len(rt.ID) > 200 {
		return Result{}, bad("id is required (at most 200 characters)")
	}
	if rt.Rating == "" {
		return Result{}, Unprocessablef("help scout: rating %s has no rating", rt.ID)
	}
	pos, ok := helpScoutScores[strings.ToLower(strings.TrimSpace(rt.Rating))]
	if !ok {
		return Result{}, Unprocessablef("help scout: unknown rating %q", rt.Rating)
	}
	at, err := helpScoutTime("createdAt", rt.CreatedAt)
	if err != nil {
		return Result{}, err
	}
	if mod, err := helpScoutTime("modifiedAt", rt.ModifiedAt); err != nil {
		return Result{}, err
	} else if mod != nil && (at == nil || mod.After(*at)) {
		at = mod // a changed rating replaces the earlier
	}
	if at == nil {
		return Result{}, bad("createdAt is required")
	}
	kind, lo, hi := "csat", 1.0, 5.0
	if q, ok := m.Questions[HelpScoutRatingQuestion]; ok {
		if q.Type != "" {
			kind = q.Type
		}
		if q.ScaleMax > q.ScaleMin {
			lo, hi = q.ScaleMin, q.ScaleMax
		}
	}
	a := Answer{ResponseID: string(rt.ID), SurveyID: "helpscout:satisfaction", Type: kind, Score: lo + pos*(hi-lo),
		Respondent: helpScoutPerson(rt.Customer, m), At: *at, Channel: m.Channel, Touchpoint: m.Touchpoint}
	if rt.Comments != nil {
		a.Comment = *rt.Comments
	}
	return Result{Answers: []Answer{a}}, nil
}
