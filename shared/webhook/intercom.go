package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// Intercom is the adapter of Intercom's webhooks (Developer Hub topic
// subscriptions). Every notification is signed with the app's client
// secret: X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>. Its body
// is a notification_event whose data.item is, for the conversation topics,
// the whole conversation, so each delivery is the conversation's full state
// as of its updated_at.
type Intercom struct{}

// IntercomSignatureHeader carries Intercom's signature.
const IntercomSignatureHeader = "X-Hub-Signature"

// IntercomRatingQuestion is the Mapping.Questions key that may set the
// scale of Intercom's conversation ratings (1–5 when absent).
const IntercomRatingQuestion = "conversation_rating"

// intercomTopics are the topics whose item is a conversation.
var intercomTopics = []string{
	"conversation.user.created", "conversation.user.replied",
	"conversation.admin.replied", "conversation.admin.single.created", "conversation.admin.noted",
	"conversation.admin.assigned", "conversation.admin.closed", "conversation.admin.opened",
	"conversation.admin.snoozed", "conversation.admin.unsnoozed", "conversation.priority.updated",
	"conversation.rating.added", "conversation_rating",
}

// Verify checks X-Hub-Signature over the raw body.
func (Intercom) Verify(secret tenant.Secret, r Request) error {
	if secret == "" {
		return fmt.Errorf("%w: no Intercom client secret is set", ErrSignature)
	}
	h := strings.TrimSpace(r.Header.Get(IntercomSignatureHeader))
	if h == "" {
		return fmt.Errorf("%w: %s is missing", ErrSignature, IntercomSignatureHeader)
	}
	algo, hexsig, ok := strings.Cut(h, "=")
	if !ok || !strings.EqualFold(algo, "sha1") {
		return fmt.Errorf("%w: %s must be sha1=<hex HMAC-SHA1>", ErrSignature, IntercomSignatureHeader)
	}
	got, err := hex.DecodeString(hexsig)
	if err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrSignature, IntercomSignatureHeader)
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(r.Body)
	if !EqualMAC(got, m.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body", ErrSignature, IntercomSignatureHeader)
	}
	return nil
}

// DeliveryID is the notification's id (notif_…), the same on every retry.
func (Intercom) DeliveryID(r Request) string { return bodyID(r.Body) }

type intercomNotification struct {
	Type      string       `json:"type"`
	ID        string       `json:"id"`
	Topic     string       `json:"topic"`
	CreatedAt intercomUnix `json:"created_at"`
	Data      *struct {
		Item json.RawMessage `json:"item"`
	} `json:"data"`
}

type intercomConversation struct {
	Type      string       `json:"type"`
	ID        intercomID   `json:"id"`
	CreatedAt intercomUnix `json:"created_at"`
	UpdatedAt intercomUnix `json:"updated_at"`
	State     string       `json:"state"`
	Open      *bool        `json:"open"`
	Priority  string       `json:"priority"`
	Tags      *struct {
		Tags []struct {
			Name string `json:"name"`
		} `json:"tags"`
	} `json:"tags"`
	Source *struct {
		Type        string `json:"type"`
		DeliveredAs string `json:"delivered_as"`
	} `json:"source"`
	Contacts *struct {
		Contacts []intercomPerson `json:"contacts"`
	} `json:"contacts"`
	// User is the contact of API versions before 2.0.
	User       *intercomPerson `json:"user"`
	Statistics *struct {
		FirstAdminReplyAt intercomUnix `json:"first_admin_reply_at"`
		LastCloseAt       intercomUnix `json:"last_close_at"`
	} `json:"statistics"`
	ConversationRating *struct {
		Rating    *float64     `json:"rating"`
		Remark    *string      `json:"remark"`
		CreatedAt intercomUnix `json:"created_at"`
		Customer  *struct {
			ID intercomID `json:"id"`
		} `json:"customer"`
	} `json:"conversation_rating"`
}

type intercomPerson struct {
	ID         intercomID `json:"id"`
	ExternalID intercomID `json:"external_id"`
	// UserID is the external id of API versions before 2.0.
	UserID intercomID `json:"user_id"`
}

// intercomUnix is a Unix time in seconds; null, absent or 0 is unset.
type intercomUnix int64

func (u *intercomUnix) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" || s == `""` {
		*u = 0
		return nil
	}
	s = strings.Trim(s, `"`)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e11 {
		return fmt.Errorf("%s is not a Unix time", s)
	}
	*u = intercomUnix(f)
	return nil
}

func (u intercomUnix) time() *time.Time {
	if u <= 0 {
		return nil
	}
	t := time.Unix(int64(u), 0).UTC()
	return &t
}

// intercomID is an id sent as a string or a number.
type intercomID string

func (id *intercomID) UnmarshalJSON(b []byte) error {
	s, err := unmarshalID(b)
	*id = intercomID(s)
	return err
}

// Normalise turns a conversation notification into the conversation's
// ticket state and, when it carries a rating, a CSAT answer.
func (Intercom) Normalise(_ context.Context, r Request, m Mapping) (Result, error) {
	var n intercomNotification
	if err := json.Unmarshal(r.Body, &n); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "intercom notification: %v", err)
	}
	if n.Type != "notification_event" || n.Topic == "" {
		return Result{}, apierr.New(apierr.InvalidRequest, "intercom notification: type must be notification_event with a topic")
	}
	if !slices.Contains(intercomTopics, n.Topic) {
		return Result{}, Unprocessablef("intercom: unknown topic %q", n.Topic)
	}
	if n.Data == nil || len(n.Data.Item) == 0 || string(n.Data.Item) == "null" {
		return Result{}, apierr.New(apierr.InvalidRequest, "intercom notification: data.item is required")
	}
	var c intercomConversation
	if err := json.Unmarshal(n.Data.Item, &c); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "intercom conversation: %v", err)
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "intercom conversation: "+format, args...)
	}
	if c.Type != "" && c.Type != "conversation" {
		return Result{}, bad("data.item is a %q, not a conversation", c.Type)
	}
	if c.ID == "" || len(c.ID) > 200 {
		return Result{}, bad("id is required (at most 200 characters)")
	}
	created := c.CreatedAt.time()
	if created == nil {
		return Result{}, bad("created_at is required")
	}
	updated := c.UpdatedAt.time()
	if updated == nil {
		updated = n.CreatedAt.time()
	}
	if updated == nil {
		return Result{}, bad("updated_at is required")
	}
	if updated.Before(*created) {
		updated = created
	}

	var status string
	switch c.State {
	case "open":
		status = "open"
	case "snoozed":
		status = "pending"
	case "closed":
		status = "solved"
	case "":
		if c.Open == nil {
			return Result{}, bad("state is required")
		}
		status = "solved"
		if *c.Open {
			status = "open"
		}
	default:
		return Result{}, Unprocessablef("intercom: unknown conversation state %q", c.State)
	}
	t := kpi.Ticket{ID: string(c.ID), Status: status, Created: *created, Updated: *updated,
		Channel: intercomChannel(c), Priority: intercomPriority(c.Priority), Requester: intercomRequester(c, m)}
	if c.Tags != nil {
		for _, tg := range c.Tags.Tags {
			if name := strings.TrimSpace(tg.Name); name != "" && !slices.Contains(t.Tags, name) {
				t.Tags = append(t.Tags, name)
			}
		}
	}
	if c.Statistics != nil {
		t.FirstResponse = c.Statistics.FirstAdminReplyAt.time()
		if status == "solved" {
			t.Resolved = c.Statistics.LastCloseAt.time()
		}
	}
	if status == "solved" && t.Resolved == nil {
		t.Resolved = updated
	}
	res := Result{Tickets: []kpi.Ticket{t}}

	rating := c.ConversationRating
	if rating == nil || rating.Rating == nil {
		if n.Topic == "conversation.rating.added" || n.Topic == "conversation_rating" {
			return Result{}, Unprocessablef("intercom: %s without a conversation_rating.rating", n.Topic)
		}
		return res, nil
	}
	score := *rating.Rating
	if score < 1 || score > 5 {
		return Result{}, bad("conversation_rating.rating %v is not between 1 and 5", score)
	}
	kind := "csat"
	if q, ok := m.Questions[IntercomRatingQuestion]; ok {
		if q.Type != "" {
			kind = q.Type
		}
		score = intercomRescale(score, 1, 5, q.ScaleMin, q.ScaleMax)
	}
	at := rating.CreatedAt.time()
	if at == nil {
		at = updated
	}
	respondent := t.Requester
	if respondent == "" && rating.Customer != nil {
		respondent = m.Person(string(rating.Customer.ID))
	}
	a := Answer{ResponseID: string(c.ID) + "-rating", SurveyID: "intercom:conversation_rating", Type: kind, Score: score,
		Respondent: respondent, At: *at, Channel: m.Channel, Touchpoint: m.Touchpoint}
	if a.Channel == "" {
		a.Channel = t.Channel
	}
	if rating.Remark != nil {
		a.Comment = *rating.Remark
	}
	res.Answers = []Answer{a}
	return res, nil
}

// intercomRescale maps score from [lo, hi] onto [toLo, toHi] when the
// latter is a proper scale, and returns it unchanged otherwise.
func intercomRescale(score, lo, hi, toLo, toHi float64) float64 {
	if toHi <= toLo || (toLo == lo && toHi == hi) {
		return score
	}
	return toLo + (score-lo)*(toHi-toLo)/(hi-lo)
}

// intercomChannel is the conversation's source type: the Messenger
// ("conversation", "chat") is chat; email, phone_call, sms, whatsapp,
// facebook… stay as named.
func intercomChannel(c intercomConversation) string {
	if c.Source == nil {
		return ""
	}
	switch typ := strings.ToLower(c.Source.Type); typ {
	case "conversation", "chat", "":
		return "chat"
	case "phone_call", "phone_switch":
		return "phone"
	default:
		return typ
	}
}

func intercomPriority(p string) string {
	switch p {
	case "priority":
		return "urgent"
	case "not_priority", "":
		return "normal"
	default:
		return strings.ToLower(p)
	}
}

// intercomRequester is the first contact's external id (the tenant's user
// id when the Messenger is installed with user_id), else its Intercom id,
// through the mapping.
func intercomRequester(c intercomConversation, m Mapping) string {
	var p *intercomPerson
	if c.Contacts != nil && len(c.Contacts.Contacts) > 0 {
		p = &c.Contacts.Contacts[0]
	} else if c.User != nil {
		p = c.User
	}
	if p == nil {
		return ""
	}
	for _, id := range []intercomID{p.ExternalID, p.UserID} {
		if id != "" {
			return m.Person(string(id))
		}
	}
	if p.ID != "" {
		return m.Person(string(p.ID))
	}
	return ""
}
