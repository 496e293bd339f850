// Package event is Uptake's model of Segment-spec messages: validation of
// what arrives on the ingest routes, and the record the nightly run reads
// back from the raw files.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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
	Page      struct {
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

// IsActivity reports whether the record is a track, page or screen call.
func (r *Record) IsActivity() bool {
	return r.Type == Track || r.Type == Page || r.Type == Screen
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
