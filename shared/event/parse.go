package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of Segment's HTTP API, which Uptake keeps.
const (
	MaxMessageBytes = 32 * 1024
	MaxBatchBytes   = 500 * 1024
	// MaxFuture is how far ahead of the receiving clock a timestamp may be.
	MaxFuture = 24 * time.Hour
	maxIDLen  = 1024
)

// Earliest is the earliest timestamp accepted: anything before it is a
// broken clock, not history.
var Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Arrival says how a message arrived.
type Arrival struct {
	// RouteType is the type implied by a single-message route (/v1/track
	// → "track"), empty for /v1/batch.
	RouteType string
	// ReceivedAt is the server's clock when the request arrived.
	ReceivedAt time.Time
	// SentAt is the batch's or message's sentAt, zero when absent.
	SentAt time.Time
	// Checked says the message is known to be valid UTF-8 and valid JSON
	// (the body that holds it was checked whole), so Parse does not check
	// it again.
	Checked bool
}

// Parsed is a valid message: the line to store and what KPIs read of it.
type Parsed struct {
	Line   []byte
	Record Record
}

// Invalid is why a message was rejected.
type Invalid struct{ Reason string }

func (e *Invalid) Error() string { return e.Reason }

func invalid(format string, args ...any) error {
	return &Invalid{Reason: fmt.Sprintf(format, args...)}
}

// IsInvalid reports whether err rejects a message (as opposed to failing).
func IsInvalid(err error) bool {
	var iv *Invalid
	return errors.As(err, &iv)
}

// Parse validates one message and returns the normalised line to store: the
// message as sent, with `type` set, `timestamp` resolved to UTC RFC 3339 and
// `receivedAt` added, its members sorted by key. Every rejection is an
// *Invalid with a reason a sender can act on.
func Parse(raw []byte, a Arrival) (Parsed, error) {
	if !a.Checked && !utf8.Valid(raw) {
		return Parsed{}, invalid("message is not valid UTF-8")
	}
	if !a.Checked && !json.Valid(raw) {
		return Parsed{}, invalid("message must be a JSON object")
	}
	fields, ok := objectFields(raw)
	if !ok {
		return Parsed{}, invalid("message must be a JSON object")
	}
	var rec Record
	if err := decodeFields(fields, &rec); err != nil {
		return Parsed{}, err
	}
	switch {
	case rec.Type == "" && a.RouteType != "":
		rec.Type = a.RouteType
	case rec.Type == "":
		return Parsed{}, invalid("type is required (track, identify, page, screen, group or alias)")
	case !IsType(rec.Type):
		return Parsed{}, invalid("type %q is not one of track, identify, page, screen, group, alias", rec.Type)
	case a.RouteType != "" && rec.Type != a.RouteType:
		return Parsed{}, invalid("type %q does not match the /v1/%s route", rec.Type, a.RouteType)
	}
	if err := checkIDs(&rec, fields); err != nil {
		return Parsed{}, err
	}
	ts, err := resolveTimestamp(fields, a)
	if err != nil {
		return Parsed{}, err
	}
	if ts.Before(Earliest) {
		return Parsed{}, invalid("timestamp %s is before %s", ts.Format(time.RFC3339), Earliest.Format("2006-01-02"))
	}
	if ts.After(a.ReceivedAt.Add(MaxFuture)) {
		return Parsed{}, invalid("timestamp %s is more than 24 hours in the future", ts.Format(time.RFC3339))
	}
	rec.Timestamp = ts
	rec.ReceivedAt = a.ReceivedAt.UTC()
	if err := checkSurvey(&rec); err != nil {
		return Parsed{}, err
	}
	// The new values share one buffer; the line is written after.
	vals := make([]byte, 0, 128)
	add := func(name string, appendValue func([]byte) []byte) {
		n := len(vals)
		vals = appendValue(vals)
		fields = fields.set(name, vals[n:len(vals):len(vals)])
	}
	add("type", func(b []byte) []byte { return appendString(b, rec.Type) })
	add("timestamp", func(b []byte) []byte { return appendTime(b, ts) })
	add("receivedAt", func(b []byte) []byte { return appendTime(b, rec.ReceivedAt) })
	for _, k := range []string{"userId", "anonymousId", "groupId"} {
		if _, ok := fields.get(k); ok {
			add(k, func(b []byte) []byte { return appendString(b, idField(&rec, k)) })
		}
	}
	line := appendObject(make([]byte, 0, len(raw)+96), fields)
	return Parsed{Line: line, Record: rec}, nil
}

// appendTime appends t as a JSON string in RFC 3339 with nanoseconds.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func idField(r *Record, k string) string {
	switch k {
	case "userId":
		return string(r.UserID)
	case "anonymousId":
		return string(r.AnonymousID)
	}
	return string(r.GroupID)
}

// decodeFields reads the typed fields one by one, so that a wrong type gets
// a reason naming the field.
func decodeFields(fields fields, rec *Record) error {
	str := func(name string, dst *string) error {
		v, ok := fields.get(name)
		if !ok || isNull(v) {
			return nil
		}
		if err := decodeString(v, dst); err != nil {
			return invalid("%s must be a string", name)
		}
		return nil
	}
	id := func(name string, dst *ID) error {
		v, ok := fields.get(name)
		if !ok {
			return nil
		}
		if s, ok := plainString(v); ok {
			*dst = ID(s)
		} else if err := json.Unmarshal(v, dst); err != nil {
			return invalid("%s must be a string", name)
		}
		if len(*dst) > maxIDLen {
			return invalid("%s is longer than %d characters", name, maxIDLen)
		}
		return nil
	}
	obj := func(name string, dst *json.RawMessage) error {
		v, ok := fields.get(name)
		if !ok || isNull(v) {
			return nil
		}
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
			return invalid("%s must be an object", name)
		}
		*dst = v
		return nil
	}
	var ctx json.RawMessage
	for _, err := range []error{
		str("type", &rec.Type), str("messageId", &rec.MessageID), str("event", &rec.Event), str("name", &rec.Name),
		id("userId", &rec.UserID), id("anonymousId", &rec.AnonymousID), id("groupId", &rec.GroupID),
		obj("properties", &rec.Properties), obj("traits", &rec.Traits), obj("context", &ctx),
	} {
		if err != nil {
			return err
		}
	}
	if len(ctx) > 0 {
		// Context sub-fields of the wrong type are ignored, as Segment does.
		decodeContext(ctx, &rec.Context)
	}
	return nil
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func checkIDs(rec *Record, fields fields) error {
	if strings.TrimSpace(rec.MessageID) == "" {
		return invalid("messageId is required")
	}
	if len(rec.MessageID) > maxIDLen {
		return invalid("messageId is longer than %d characters", maxIDLen)
	}
	if rec.UserID == "" && rec.AnonymousID == "" {
		return invalid("userId or anonymousId is required")
	}
	switch rec.Type {
	case Track:
		if strings.TrimSpace(rec.Event) == "" {
			return invalid("event is required for track calls")
		}
	case Group:
		if rec.GroupID == "" {
			return invalid("groupId is required for group calls")
		}
	case Alias:
		var prev ID
		if v, ok := fields.get("previousId"); !ok || json.Unmarshal(v, &prev) != nil || prev == "" {
			return invalid("previousId is required for alias calls")
		}
	}
	return nil
}

// resolveTimestamp follows Segment: `timestamp` when given; else
// `originalTimestamp` corrected for the sender's clock skew with `sentAt`;
// else the time the request was received.
func resolveTimestamp(fields fields, a Arrival) (time.Time, error) {
	if ts, ok, err := timeField(fields, "timestamp"); err != nil || ok {
		return ts.UTC(), err
	}
	orig, ok, err := timeField(fields, "originalTimestamp")
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return a.ReceivedAt.UTC(), nil
	}
	sentAt := a.SentAt
	if s, ok, err := timeField(fields, "sentAt"); err != nil {
		return time.Time{}, err
	} else if ok {
		sentAt = s
	}
	if sentAt.IsZero() {
		return orig.UTC(), nil
	}
	return a.ReceivedAt.Add(-sentAt.Sub(orig)).UTC(), nil
}

func timeField(fields fields, name string) (time.Time, bool, error) {
	v, ok := fields.get(name)
	if !ok || isNull(v) {
		return time.Time{}, false, nil
	}
	var s string
	if err := decodeString(v, &s); err != nil {
		return time.Time{}, false, invalid("%s must be an ISO 8601 date-time string", name)
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, false, invalid("%s %q is not an ISO 8601 date-time", name, s)
	}
	return t, true, nil
}

// ParseTime parses the ISO 8601 date-times senders use: RFC 3339 with or
// without fractional seconds, and without a zone meaning UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 date-time: %q", s)
}

// checkSurvey rejects a `Survey Responded` event that no survey KPI could
// count, so the sender learns at once rather than the KPI silently
// ignoring it.
func checkSurvey(rec *Record) error {
	if rec.Type != Track || rec.Event != SurveyResponded {
		return nil
	}
	var props struct {
		Type  string          `json:"survey_type"`
		Score json.RawMessage `json:"score"`
	}
	if len(rec.Properties) == 0 || json.Unmarshal(rec.Properties, &props) != nil {
		return invalid("Survey Responded needs properties survey_type and score")
	}
	score, err := parseScore(props.Score)
	if err != nil {
		return invalid("Survey Responded: %v", err)
	}
	switch strings.ToLower(strings.TrimSpace(props.Type)) {
	case "nps":
		if score < 0 || score > 10 || score != math.Trunc(score) {
			return invalid("Survey Responded: an NPS score must be a whole number from 0 to 10, got %v", score)
		}
	case "csat", "ces":
		// Their scales are the tenant's configuration; the nightly run
		// checks them.
	default:
		return invalid("Survey Responded: survey_type must be nps, csat or ces, got %q", props.Type)
	}
	return nil
}
