package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
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

// Freshdesk is the adapter of Freshdesk's automation-rule webhooks
// ("Trigger webhook" action, POST, JSON, Advanced content). Freshdesk does
// not sign them: the rule sends the tenant's secret as a custom header
// X-Uptake-Token (or, failing that, as ?token= in the URL), compared in
// constant time. Its body is the admin's: FreshdeskTemplate is the one to
// paste, in a rule that runs on ticket creation and on every update.
type Freshdesk struct{}

// FreshdeskTokenHeader carries the tenant's secret.
const FreshdeskTokenHeader = "X-Uptake-Token"

// FreshdeskTemplate is the JSON body to paste into the automation rule's
// webhook. Every value is quoted, so whatever a placeholder renders the
// body stays JSON (tags or names with a double quote excepted).
//
//   - status, priority and source render as names ("Open", "Medium",
//     "Email"); their numbers (2–7, 1–4, 1–10) are accepted too.
//   - tags renders as a comma list.
//   - created_at and updated_at render in the helpdesk's time zone, as
//     Freshdesk formats dates; time_zone (an IANA name such as
//     "Europe/Paris", written by the admin) says which zone, UTC if absent.
//     RFC 3339 values are read as such.
//   - first_response_at and resolved_at are optional: Freshdesk has no
//     placeholder for them that we could confirm, so the template leaves
//     them out. A resolved or closed ticket is resolved at its updated_at
//     (at resolved_at when given); first response times come from Freshdesk
//     only when the admin adds first_response_at.
//   - account is optional: a placeholder (say a company custom field)
//     that renders the tenant's groupId.
const FreshdeskTemplate = `{
  "id": "{{ticket.id}}",
  "status": "{{ticket.status}}",
  "priority": "{{ticket.priority}}",
  "source": "{{ticket.source}}",
  "tags": "{{ticket.tags}}",
  "requester": "{{ticket.requester.email}}",
  "created_at": "{{ticket.created_on}}",
  "updated_at": "{{ticket.updated_on}}",
  "time_zone": "UTC"
}`

// Verify compares the token of X-Uptake-Token, else of ?token=, with the
// secret in constant time.
func (Freshdesk) Verify(secret tenant.Secret, r Request) error {
	if secret == "" {
		return fmt.Errorf("%w: no Freshdesk token is set", ErrSignature)
	}
	tok := strings.TrimSpace(r.Header.Get(FreshdeskTokenHeader))
	if tok == "" {
		tok = r.Query["token"]
	}
	if tok == "" {
		return fmt.Errorf("%w: %s (or ?token=) is missing", ErrSignature, FreshdeskTokenHeader)
	}
	// Comparing digests keeps the time independent of the lengths too.
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(secret))
	if !EqualMAC(got[:], want[:]) {
		return fmt.Errorf("%w: the token does not match", ErrSignature)
	}
	return nil
}

// DeliveryID is "": Freshdesk gives none.
func (Freshdesk) DeliveryID(Request) string { return "" }

type freshdeskTicket struct {
	ID              intercomID      `json:"id"`
	Status          intercomID      `json:"status"`
	Priority        intercomID      `json:"priority"`
	Source          intercomID      `json:"source"`
	Channel         intercomID      `json:"channel"`
	Tags            json.RawMessage `json:"tags"`
	Requester       intercomID      `json:"requester"`
	RequesterEmail  intercomID      `json:"requester_email"`
	Account         intercomID      `json:"account"`
	CreatedAt       string          `json:"created_at"`
	CreatedOn       string          `json:"created_on"`
	UpdatedAt       string          `json:"updated_at"`
	UpdatedOn       string          `json:"updated_on"`
	FirstResponseAt string          `json:"first_response_at"`
	ResolvedAt      string          `json:"resolved_at"`
	TimeZone        string          `json:"time_zone"`
}

// Normalise turns the template's body into the ticket's state.
func (Freshdesk) Normalise(_ context.Context, r Request, m Mapping) (Result, error) {
	tk, err := freshdeskDecode(r.Body)
	if err != nil {
		return Result{}, err
	}
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, "freshdesk ticket: "+format, args...)
	}
	id := freshdeskValue(string(tk.ID))
	if id == "" || len(id) > 200 {
		return Result{}, bad("id is required (at most 200 characters)")
	}
	loc := time.UTC
	if tz := freshdeskValue(tk.TimeZone); tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return Result{}, bad("time_zone %q is not an IANA time zone", tz)
		}
	}
	at := func(name string, vs ...string) (*time.Time, error) {
		for _, v := range vs {
			if v = freshdeskValue(v); v == "" {
				continue
			}
			t, err := freshdeskTime(v, loc)
			if err != nil {
				return nil, bad("%s %q is neither RFC 3339 nor a Freshdesk date", name, v)
			}
			return &t, nil
		}
		return nil, nil
	}
	created, err := at("created_at", tk.CreatedAt, tk.CreatedOn)
	if err != nil {
		return Result{}, err
	}
	if created == nil {
		return Result{}, bad("created_at is required")
	}
	updated, err := at("updated_at", tk.UpdatedAt, tk.UpdatedOn)
	if err != nil {
		return Result{}, err
	}
	if updated == nil {
		// The rule runs on the update: its time is the delivery's.
		if r.Now.IsZero() {
			return Result{}, bad("updated_at is required")
		}
		now := r.Now.UTC().Truncate(time.Second)
		updated = &now
	}
	if updated.Before(*created) {
		updated = created
	}
	first, err := at("first_response_at", tk.FirstResponseAt)
	if err != nil {
		return Result{}, err
	}
	resolved, err := at("resolved_at", tk.ResolvedAt)
	if err != nil {
		return Result{}, err
	}
	status, ok := freshdeskStatus(freshdeskValue(string(tk.Status)))
	if !ok {
		if freshdeskValue(string(tk.Status)) == "" {
			return Result{}, bad("status is required")
		}
		return Result{}, Unprocessablef("freshdesk: unknown (custom?) status %q", string(tk.Status))
	}
	tags, err := freshdeskTags(tk.Tags)
	if err != nil {
		return Result{}, bad("tags: %v", err)
	}
	channel := freshdeskSource(freshdeskValue(string(tk.Source)))
	if channel == "" {
		channel = freshdeskSource(freshdeskValue(string(tk.Channel)))
	}
	requester := freshdeskValue(string(tk.Requester))
	if requester == "" {
		requester = freshdeskValue(string(tk.RequesterEmail))
	}
	if requester != "" {
		requester = m.Person(requester)
	}
	t := kpi.Ticket{ID: id, Status: status, Channel: channel, Priority: freshdeskPriority(freshdeskValue(string(tk.Priority))),
		Tags: tags, Requester: requester, Account: freshdeskValue(string(tk.Account)), Created: *created, Updated: *updated,
		FirstResponse: first}
	if status == "solved" || status == "closed" {
		t.Resolved = updated
		if resolved != nil {
			t.Resolved = resolved
		}
	}
	return Result{Tickets: []kpi.Ticket{t}}, nil
}

// freshdeskDecode reads the template's body, also within Freshdesk's
// "freshdesk_webhook" wrapper (Simple content) and with keys prefixed
// ticket_ (ticket_id, ticket_status…).
func freshdeskDecode(body []byte) (freshdeskTicket, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return freshdeskTicket{}, apierr.New(apierr.InvalidJSON, "freshdesk ticket: %v", err)
	}
	if top == nil {
		return freshdeskTicket{}, apierr.New(apierr.InvalidRequest, "freshdesk ticket: the body must be a JSON object")
	}
	if inner, ok := top["freshdesk_webhook"]; ok {
		top = nil
		if err := json.Unmarshal(inner, &top); err != nil || top == nil {
			return freshdeskTicket{}, apierr.New(apierr.InvalidJSON, "freshdesk ticket: freshdesk_webhook must be an object")
		}
	}
	// Prefixed keys first, so that a plain key wins over its prefixed twin
	// whatever the map's order.
	fields := make(map[string]json.RawMessage, len(top))
	for _, prefixed := range []bool{true, false} {
		for k, v := range top {
			k = strings.ToLower(strings.TrimSpace(k))
			s, ok := strings.CutPrefix(k, "ticket_")
			if !ok {
				s, ok = strings.CutPrefix(k, "ticket.")
			}
			if ok == prefixed {
				fields[s] = v
			}
		}
	}
	norm, err := json.Marshal(fields)
	if err != nil {
		return freshdeskTicket{}, apierr.New(apierr.InvalidJSON, "freshdesk ticket: %v", err)
	}
	var tk freshdeskTicket
	if err := json.Unmarshal(norm, &tk); err != nil {
		return freshdeskTicket{}, apierr.New(apierr.InvalidJSON, "freshdesk ticket: %v", err)
	}
	return tk, nil
}

// freshdeskValue trims a rendered value; a placeholder Freshdesk left
// unrendered ("{{ticket.x}}") is empty.
func freshdeskValue(v string) string {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "{{") {
		return ""
	}
	return v
}

// freshdeskStatus maps Freshdesk's statuses, by name or number (2 Open, 3
// Pending, 4 Resolved, 5 Closed, and the usual custom 6 Waiting on
// Customer, 7 Waiting on Third Party), onto Uptake's.
func freshdeskStatus(s string) (string, bool) {
	switch strings.Join(strings.Fields(strings.ToLower(s)), " ") {
	case "2", "open":
		return "open", true
	case "new":
		return "new", true
	case "3", "pending", "6", "waiting on customer":
		return "pending", true
	case "7", "waiting on third party", "on hold", "hold":
		return "hold", true
	case "4", "resolved", "solved":
		return "solved", true
	case "5", "closed":
		return "closed", true
	}
	return "", false
}

// freshdeskPriority maps 1 Low, 2 Medium, 3 High, 4 Urgent.
func freshdeskPriority(p string) string {
	switch strings.ToLower(p) {
	case "1", "low":
		return "low"
	case "2", "medium", "normal":
		return "normal"
	case "3", "high":
		return "high"
	case "4", "urgent":
		return "urgent"
	}
	return strings.ToLower(p)
}

// freshdeskSources are Freshdesk's source numbers.
var freshdeskSources = map[string]string{"1": "email", "2": "portal", "3": "phone", "4": "forum", "5": "twitter",
	"6": "facebook", "7": "chat", "8": "mobihelp", "9": "feedback_widget", "10": "outbound_email"}

func freshdeskSource(s string) string {
	if v, ok := freshdeskSources[s]; ok {
		return v
	}
	return strings.Join(strings.Fields(strings.ToLower(s)), "_")
}

// freshdeskTags reads tags as a comma list ("a, b") or a JSON array.
func freshdeskTags(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("must be a comma list or an array of strings")
		}
	} else {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("must be a comma list or an array of strings")
		}
		list = strings.Split(s, ",")
	}
	var tags []string
	for _, t := range list {
		if t = freshdeskValue(t); t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// freshdeskLayouts are the ways Freshdesk renders a date placeholder.
var freshdeskLayouts = []string{
	"Mon, 2 Jan 2006 3:04 PM", "Mon, 2 Jan, 2006 3:04 PM", "Mon, 2 Jan 2006 at 3:04 PM", "Mon, 2 Jan, 2006 at 3:04 PM",
	"Mon, Jan 2, 2006 3:04 PM", "Mon, Jan 2, 2006 at 3:04 PM", "2 Jan 2006 3:04 PM", "Jan 2, 2006 3:04 PM",
	"Mon, 2 Jan 2006 15:04", "2006-01-02 15:04:05", "2006-01-02 15:04",
}

// freshdeskTime parses RFC 3339 (and ISO 8601 without zone, in loc) or a
// Freshdesk date in loc, optionally followed by a numeric offset.
func freshdeskTime(v string, loc *time.Location) (time.Time, error) {
	var t time.Time
	var err error
	if t, err = event.ParseTime(v); err == nil {
		if !strings.ContainsAny(v[min(len(v), 19):], "Zz+-") {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
		}
	} else {
		err = fmt.Errorf("not a date: %q", v)
		for _, l := range freshdeskLayouts {
			for _, suffix := range []string{"", " -0700", " Z07:00"} {
				if p, perr := time.ParseInLocation(l+suffix, v, loc); perr == nil {
					t, err = p, nil
					break
				}
			}
			if err == nil {
				break
			}
		}
	}
	if err != nil {
		return time.Time{}, err
	}
	if t = t.UTC(); t.Before(event.Earliest) {
		return time.Time{}, fmt.Errorf("%q is before 2000", v)
	}
	return t, nil
}
