package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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

// Zendesk is the adapter of Zendesk's event webhooks (Admin Center → Apps
// and integrations → Webhooks, subscribed to zen:event-type:ticket.*
// events). Every request is signed with the webhook's signing secret:
// X-Zendesk-Webhook-Signature is the base64 HMAC-SHA256 of the
// X-Zendesk-Webhook-Signature-Timestamp header's text followed by the raw
// body. The body is an event envelope whose detail is the ticket as of the
// event and whose event is the change, so each delivery becomes the
// ticket's state as of its updated_at.
//
// Only event webhooks are accepted: a webhook connected to a trigger or an
// automation sends a body of the tenant's own making, which is a 400 here.
type Zendesk struct{}

var _ Adapter = Zendesk{}

// Zendesk's signature headers.
const (
	ZendeskSignatureHeader = "X-Zendesk-Webhook-Signature"
	ZendeskTimestampHeader = "X-Zendesk-Webhook-Signature-Timestamp"
)

// zendeskEventPrefix starts the type of every event webhook request.
const zendeskEventPrefix = "zen:event-type:"

// zendeskDropped are the ticket events that do not describe a live
// ticket's state.
var zendeskDropped = []string{
	"ticket.soft_deleted", "ticket.permanently_deleted", "ticket.marked_as_spam", "ticket.merged",
}

// Verify checks the signature over the timestamp and the raw body, and
// that the timestamp is within Tolerance of r.Now.
func (Zendesk) Verify(secret tenant.Secret, r Request) error {
	if secret == "" {
		return fmt.Errorf("%w: no Zendesk webhook signing secret is set", ErrSignature)
	}
	sig := strings.TrimSpace(r.Header.Get(ZendeskSignatureHeader))
	if sig == "" {
		return fmt.Errorf("%w: %s is missing", ErrSignature, ZendeskSignatureHeader)
	}
	// The timestamp is signed as sent, so it is not trimmed.
	tsText := r.Header.Get(ZendeskTimestampHeader)
	if strings.TrimSpace(tsText) == "" {
		return fmt.Errorf("%w: %s is missing", ErrSignature, ZendeskTimestampHeader)
	}
	ts, ok := zendeskSignatureTime(strings.TrimSpace(tsText))
	if !ok {
		return fmt.Errorf("%w: %s is not an RFC 3339 time", ErrSignature, ZendeskTimestampHeader)
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64", ErrSignature, ZendeskSignatureHeader)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(tsText))
	m.Write(r.Body)
	if !EqualMAC(got, m.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the timestamp and body", ErrSignature, ZendeskSignatureHeader)
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !Within(ts, now) {
		return fmt.Errorf("%w: %s is more than %v from now", ErrSignature, ZendeskTimestampHeader, Tolerance)
	}
	return nil
}

// zendeskSignatureTime reads the signature timestamp: RFC 3339 (what
// Zendesk sends) or, leniently, Unix seconds.
func zendeskSignatureTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1e11 {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

// DeliveryID is the event's id (a UUID), the same on every retry.
func (Zendesk) DeliveryID(r Request) string { return bodyID(r.Body) }

type zendeskEnvelope struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Time    string          `json:"time"`
	Subject string          `json:"subject"`
	Detail  json.RawMessage `json:"detail"`
	Event   json.RawMessage `json:"event"`
}

type zendeskTicket struct {
	ID             zendeskID `json:"id"`
	Status         *string   `json:"status"`
	Priority       *string   `json:"priority"`
	Tags           []*string `json:"tags"`
	RequesterID    zendeskID `json:"requester_id"`
	OrganizationID zendeskID `json:"organization_id"`
	CreatedAt      *string   `json:"created_at"`
	UpdatedAt      *string   `json:"updated_at"`
	Via            *struct {
		Channel *string `json:"channel"`
	} `json:"via"`
}

type zendeskChange struct {
	// Current is the new value of a *_changed event (a status for
	// ticket.status_changed).
	Current json.RawMessage `json:"current"`
	Comment *struct {
		ID        zendeskID `json:"id"`
		IsPublic  *bool     `json:"is_public"`
		CreatedAt *string   `json:"created_at"`
		Author    *struct {
			ID      zendeskID `json:"id"`
			IsStaff *bool     `json:"is_staff"`
			Role    *string   `json:"role"`
		} `json:"author"`
	} `json:"comment"`
}

// zendeskID is an id sent as a string (event webhooks) or a number.
type zendeskID string

func (id *zendeskID) UnmarshalJSON(b []byte) error {
	s, err := unmarshalID(b)
	*id = zendeskID(strings.TrimSpace(s))
	return err
}

// set reports whether the id names something: Zendesk sends "0" or null
// for no organization.
func (id zendeskID) set() bool { return id != "" && id != "0" }

// Normalise turns a ticket event into the ticket's state as of the event.
func (Zendesk) Normalise(_ context.Context, r Request, m Mapping) (Result, error) {
	var e zendeskEnvelope
	if err := json.Unmarshal(r.Body, &e); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "zendesk event: %v", err)
	}
	kind, ok := strings.CutPrefix(e.Type, zendeskEventPrefix)
	if !ok || kind == "" {
		return Result{}, apierr.New(apierr.InvalidRequest,
			"zendesk event: type must be a %s… event type (connect an event webhook, not a trigger or automation)", zendeskEventPrefix)
	}
	if !strings.HasPrefix(kind, "ticket.") {
		return Result{}, Unprocessablef("zendesk: event type %q is not a ticket event", e.Type)
	}
	if slices.Contains(zendeskDropped, kind) {
		return Result{}, Unprocessablef("zendesk: %s does not update a ticket's state", e.Type)
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "zendesk "+kind+": "+format, args...)
	}
	if len(bytes.TrimSpace(e.Detail)) == 0 || string(bytes.TrimSpace(e.Detail)) == "null" {
		return Result{}, bad("detail is required")
	}
	var d zendeskTicket
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return Result{}, apierr.New(apierr.InvalidJSON, "zendesk %s: detail: %v", kind, err)
	}
	var ev zendeskChange
	if b := bytes.TrimSpace(e.Event); len(b) > 0 && string(b) != "null" {
		if err := json.Unmarshal(b, &ev); err != nil {
			return Result{}, apierr.New(apierr.InvalidJSON, "zendesk %s: event: %v", kind, err)
		}
	}
	if d.ID == "" || len(d.ID) > 200 {
		return Result{}, bad("detail.id is required (at most 200 characters)")
	}
	created, err := zendeskTime("detail.created_at", d.CreatedAt)
	if err != nil {
		return Result{}, bad("%v", err)
	}
	if created == nil {
		return Result{}, bad("detail.created_at is required")
	}
	updated, err := zendeskTime("detail.updated_at", d.UpdatedAt)
	if err != nil {
		return Result{}, bad("%v", err)
	}
	evTime, err := zendeskTime("time", zendeskOptional(e.Time))
	if err != nil {
		return Result{}, bad("%v", err)
	}
	if updated == nil {
		updated = evTime
	}
	if updated == nil {
		return Result{}, bad("detail.updated_at or time is required")
	}
	if updated.Before(*created) {
		updated = created
	}

	statusText := ""
	if d.Status != nil {
		statusText = *d.Status
	}
	if strings.TrimSpace(statusText) == "" && kind == "ticket.status_changed" {
		_ = json.Unmarshal(ev.Current, &statusText)
	}
	if strings.TrimSpace(statusText) == "" {
		return Result{}, bad("detail.status is required")
	}
	status, ok := zendeskStatus(statusText)
	if !ok {
		return Result{}, Unprocessablef("zendesk: ticket status %q is not tracked", statusText)
	}

	t := kpi.Ticket{ID: string(d.ID), Status: status, Created: *created, Updated: *updated}
	if d.Priority != nil {
		t.Priority = zendeskWord(*d.Priority)
	}
	if d.Via != nil && d.Via.Channel != nil {
		t.Channel = zendeskWord(*d.Via.Channel)
	}
	for _, tg := range d.Tags {
		if tg == nil {
			continue
		}
		if name := strings.TrimSpace(*tg); name != "" && !slices.Contains(t.Tags, name) {
			t.Tags = append(t.Tags, name)
		}
	}
	if d.RequesterID.set() {
		t.Requester = m.Person(string(d.RequesterID))
	}
	if d.OrganizationID.set() {
		t.Account = string(d.OrganizationID)
	}
	if status == "solved" || status == "closed" {
		t.Resolved = updated
	}
	if kind == "ticket.comment_added" {
		fr, err := zendeskFirstResponse(ev, d, *created, *updated, evTime)
		if err != nil {
			return Result{}, bad("%v", err)
		}
		t.FirstResponse = fr
	}
	return Result{Tickets: []kpi.Ticket{t}}, nil
}

// zendeskFirstResponse is the time of a comment that counts as a response:
// public, and written by staff — the author's is_staff (or role) when
// given, else an author other than the requester. The ticket's opening
// comment (added by the action that created the ticket, when updated_at is
// still created_at) is the request itself, never a response, even when an
// agent opened the ticket on the requester's behalf.
func zendeskFirstResponse(ev zendeskChange, d zendeskTicket, created, updated time.Time, evTime *time.Time) (*time.Time, error) {
	c := ev.Comment
	if c == nil || c.IsPublic == nil || !*c.IsPublic || c.Author == nil {
		return nil, nil
	}
	var staff bool
	switch {
	case c.Author.IsStaff != nil:
		staff = *c.Author.IsStaff
	case c.Author.Role != nil && strings.TrimSpace(*c.Author.Role) != "":
		role := zendeskWord(*c.Author.Role)
		staff = role == "agent" || role == "admin"
	default:
		staff = c.Author.ID.set() && d.RequesterID.set() && c.Author.ID != d.RequesterID
	}
	if !staff {
		return nil, nil
	}
	if updated.Sub(created) < time.Second {
		return nil, nil
	}
	at, err := zendeskTime("event.comment.created_at", c.CreatedAt)
	if err != nil {
		return nil, err
	}
	if at == nil {
		at = evTime
	}
	if at == nil {
		at = &updated
	}
	if at.Before(created) {
		return nil, nil
	}
	return at, nil
}

// zendeskStatus maps Zendesk's statuses (upper case in event webhooks).
func zendeskStatus(s string) (string, bool) {
	switch st := zendeskWord(s); st {
	case "new", "open", "pending", "hold", "solved", "closed":
		return st, true
	case "on_hold":
		return "hold", true
	}
	return "", false
}

// zendeskWord lower-cases a value and joins its words with "_": "HIGH" is
// high, "web_service" stays, "Web Form" is web_form.
func zendeskWord(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), "_")
}

func zendeskOptional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// zendeskTime reads an RFC 3339 time; null or "" is unset.
func zendeskTime(name string, v *string) (*time.Time, error) {
	if v == nil || strings.TrimSpace(*v) == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*v))
	if err != nil {
		return nil, fmt.Errorf("%s %q is not an RFC 3339 time", name, *v)
	}
	t = t.UTC()
	return &t, nil
}
