// Package event is Uptake's model of Segment-spec messages: validation of
// what arrives on the ingest routes, and the record the nightly run reads
// back from the raw files.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Types of the Segment spec.
const (
	Track    = "track"
	Identify = "identify"
	Page     = "page"
	Screen   = "screen"
	Group    = "group"
	Alias    = "alias"
)

// Well-known event names.
const (
	SurveyResponded = "Survey Responded"
	SignedUp        = "Signed Up"
	// TicketUpdated carries a support ticket's state from a ticket tool:
	// not product activity.
	TicketUpdated = "Ticket Updated"
)

// IsType reports whether t is a Segment message type.
func IsType(t string) bool {
	switch t {
	case Track, Identify, Page, Screen, Group, Alias:
		return true
	}
	return false
}

// ID is a Segment identifier: a string, or a number that libraries
// sometimes send (kept as its decimal text).
type ID string

// UnmarshalJSON accepts a JSON string, number or null.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*id = ""
	case b[0] == '"':
		// Most ids need no unescaping: a second decode of each was a
		// tenth of the nightly run's decoding (the decoder would replace
		// invalid UTF-8, so only valid text is taken as it is).
		if s, ok := plainString(b); ok && utf8.ValidString(s) {
			*id = ID(s)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*id = ID(n.String())
	default:
		return fmt.Errorf("must be a string")
	}
	return nil
}

// Context is the part of a message's context that KPIs read.
type Context struct {
	UserAgent string `json:"userAgent,omitempty"`
	// GroupID names the account an event belongs to, when the sender says.
	GroupID ID `json:"groupId,omitempty"`
	Device  struct {
		Type string `json:"type,omitempty"`
	} `json:"device"`
	Page struct {
		Path     string `json:"path,omitempty"`
		Referrer string `json:"referrer,omitempty"`
		URL      string `json:"url,omitempty"`
	} `json:"page"`
	Campaign struct {
		Source string `json:"source,omitempty"`
		Medium string `json:"medium,omitempty"`
	} `json:"campaign"`
}

// Record is one stored message as the nightly run reads it. Fields that no
// KPI reads stay in the raw file only.
type Record struct {
	Type        string          `json:"type"`
	MessageID   string          `json:"messageId"`
	UserID      ID              `json:"userId"`
	AnonymousID ID              `json:"anonymousId"`
	Event       string          `json:"event"`
	Name        string          `json:"name"`
	GroupID     ID              `json:"groupId"`
	Timestamp   time.Time       `json:"timestamp"`
	ReceivedAt  time.Time       `json:"receivedAt"`
	Properties  json.RawMessage `json:"properties"`
	Traits      json.RawMessage `json:"traits"`
	Context     Context         `json:"context"`

	// props is Props' answer once LoadProps has run.
	props    Props
	propsSet bool
}

// User is the record's user: its userId, else its anonymousId.
func (r *Record) User() string {
	if r.UserID != "" {
		return string(r.UserID)
	}
	return string(r.AnonymousID)
}

// Visitor is the record's visitor: its anonymousId, else its userId.
func (r *Record) Visitor() string {
	if r.AnonymousID != "" {
		return string(r.AnonymousID)
	}
	return string(r.UserID)
}

// IsActivity reports whether the record is a track, page or screen call
// made by the product (ticket updates from a ticket tool are not).
func (r *Record) IsActivity() bool {
	return r.Type == Page || r.Type == Screen || (r.Type == Track && r.Event != TicketUpdated)
}

// Survey is the survey part of a `Survey Responded` track event.
type Survey struct {
	Type       string  `json:"survey_type"`
	SurveyID   ID      `json:"survey_id"`
	Score      float64 `json:"score"`
	Channel    string  `json:"channel,omitempty"`
	Touchpoint string  `json:"touchpoint,omitempty"`
	Comment    string  `json:"comment,omitempty"`
}

// Survey decodes the survey fields of a `Survey Responded` event. ok is
// false for any other event, or when its properties carry no valid score.
func (r *Record) Survey() (Survey, bool) {
	if r.Type != Track || r.Event != SurveyResponded || len(r.Properties) == 0 {
		return Survey{}, false
	}
	var raw struct {
		Type       string          `json:"survey_type"`
		SurveyID   ID              `json:"survey_id"`
		Score      json.RawMessage `json:"score"`
		Channel    string          `json:"channel"`
		Touchpoint string          `json:"touchpoint"`
		Comment    string          `json:"comment"`
	}
	if err := json.Unmarshal(r.Properties, &raw); err != nil {
		return Survey{}, false
	}
	score, err := parseScore(raw.Score)
	if err != nil {
		return Survey{}, false
	}
	return Survey{
		Type: strings.ToLower(strings.TrimSpace(raw.Type)), SurveyID: raw.SurveyID, Score: score,
		Channel: raw.Channel, Touchpoint: raw.Touchpoint, Comment: raw.Comment,
	}, true
}

// parseScore accepts a JSON number, or a string holding one (some tools
// send "9").
func parseScore(b json.RawMessage) (float64, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return 0, fmt.Errorf("score is required")
	}
	var s string
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, err
		}
	} else {
		s = string(b)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("score must be a finite number")
	}
	return f, nil
}

// Props are the event properties that KPIs read.
type Props struct {
	Path        string   `json:"path"`
	URL         string   `json:"url"`
	Referrer    string   `json:"referrer"`
	ContentType string   `json:"content_type"`
	Feature     string   `json:"feature"`
	Step        string   `json:"step"`
	Course      string   `json:"course"`
	Plan        string   `json:"plan"`
	Amount      float64  `json:"amount"`
	Revenue     *float64 `json:"revenue"`
	Total       *float64 `json:"total"`
	StepIndex   float64  `json:"step_index"`
}

// Props decodes the properties KPIs read; fields of the wrong type are
// left empty.
func (r *Record) Props() Props {
	if r.propsSet {
		return r.props
	}
	if b := bytes.TrimSpace(r.Properties); len(b) > 0 && b[0] == '{' {
		return decodeProps(b)
	}
	return propsSlow(r.Properties)
}

// LoadProps decodes the properties once, for Props to answer from then
// on: the nightly run's decoders do it on every core, off the goroutine
// that builds the day. The properties must not change after.
func (r *Record) LoadProps() {
	r.props, r.propsSet = r.Props(), true
}

// propsSlow is Props by encoding/json: what decodeProps does in one walk.
func propsSlow(props json.RawMessage) Props {
	var p Props
	if len(props) > 0 {
		if json.Unmarshal(props, &p) != nil {
			// One field of the wrong type: read them one by one.
			var m map[string]json.RawMessage
			json.Unmarshal(props, &m)
			for k, dst := range map[string]*string{"path": &p.Path, "url": &p.URL, "referrer": &p.Referrer, "content_type": &p.ContentType, "feature": &p.Feature, "step": &p.Step, "course": &p.Course, "plan": &p.Plan} {
				json.Unmarshal(m[k], dst)
			}
			json.Unmarshal(m["step_index"], &p.StepIndex)
			json.Unmarshal(m["amount"], &p.Amount)
			json.Unmarshal(m["revenue"], &p.Revenue)
			json.Unmarshal(m["total"], &p.Total)
		}
	}
	return p
}

// PagePath is the path of a page event: context.page.path, else the
// `path` property, else the path of the URL.
func (r *Record) PagePath() string {
	if r.Context.Page.Path != "" {
		return r.Context.Page.Path
	}
	p := r.Props()
	if p.Path != "" {
		return p.Path
	}
	u := r.Context.Page.URL
	if u == "" {
		u = p.URL
	}
	if pu, err := url.Parse(u); err == nil && pu.Host != "" {
		if pu.Path == "" {
			return "/"
		}
		return pu.Path
	}
	return ""
}

// Referrer is the page's referrer: context.page.referrer, else the
// `referrer` property.
func (r *Record) Referrer() string {
	if r.Context.Page.Referrer != "" {
		return r.Context.Page.Referrer
	}
	if r.Type == Page {
		return r.Props().Referrer
	}
	return ""
}

// PageURL is the page's URL, to tell internal referrers apart.
func (r *Record) PageURL() string {
	if r.Context.Page.URL != "" {
		return r.Context.Page.URL
	}
	if r.Type == Page {
		return r.Props().URL
	}
	return ""
}

// CreatedAt is the `created_at` (or `createdAt`) trait of an identify
// call: an ISO 8601 date-time or date, or unix seconds.
func (r *Record) CreatedAt() (time.Time, bool) {
	if r.Type != Identify || len(r.Traits) == 0 {
		return time.Time{}, false
	}
	var t struct {
		Snake json.RawMessage `json:"created_at"`
		Camel json.RawMessage `json:"createdAt"`
	}
	if json.Unmarshal(r.Traits, &t) != nil {
		return time.Time{}, false
	}
	v := t.Snake
	if len(v) == 0 || isNull(v) {
		v = t.Camel
	}
	if len(v) == 0 || isNull(v) {
		return time.Time{}, false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if ts, err := ParseTime(s); err == nil {
			return ts.UTC(), true
		}
		if d, err := time.Parse("2006-01-02", s); err == nil {
			return d, true
		}
		if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
			return time.Unix(int64(n), 0).UTC(), true
		}
		return time.Time{}, false
	}
	var n float64
	if json.Unmarshal(v, &n) == nil && n > 0 {
		if n > 1e11 { // milliseconds
			n /= 1000
		}
		return time.Unix(int64(n), 0).UTC(), true
	}
	return time.Time{}, false
}
