package event

// The implementation of Parse before it walked the JSON itself, kept as the
// reference that the fast one must match byte for byte (TestParseSameAsReference,
// FuzzParseSameAsReference).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// refParse is Parse as it was: it validates one message and returns the normalised line to store: the
// message as sent, with `type` set, `timestamp` resolved to UTC RFC 3339 and
// `receivedAt` added. Every rejection is an *Invalid with a reason a sender
// can act on.
func refParse(raw []byte, a Arrival) (Parsed, error) {
	if !utf8.Valid(raw) {
		return Parsed{}, invalid("message is not valid UTF-8")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Parsed{}, invalid("message must be a JSON object")
	}
	var rec Record
	if err := refDecodeFields(fields, &rec); err != nil {
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
	if err := refCheckIDs(&rec, fields); err != nil {
		return Parsed{}, err
	}
	ts, err := refResolveTimestamp(fields, a)
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
	fields["type"] = refMustJSON(rec.Type)
	fields["timestamp"] = refMustJSON(ts.Format(time.RFC3339Nano))
	fields["receivedAt"] = refMustJSON(rec.ReceivedAt.Format(time.RFC3339Nano))
	for _, k := range []string{"userId", "anonymousId", "groupId"} {
		if _, ok := fields[k]; ok {
			fields[k] = refMustJSON(refIDField(&rec, k))
		}
	}
	line, err := json.Marshal(fields)
	if err != nil {
		return Parsed{}, fmt.Errorf("encode message: %w", err)
	}
	return Parsed{Line: line, Record: rec}, nil
}

func refIDField(r *Record, k string) string {
	switch k {
	case "userId":
		return string(r.UserID)
	case "anonymousId":
		return string(r.AnonymousID)
	}
	return string(r.GroupID)
}

func refMustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// decodeFields reads the typed fields one by one, so that a wrong type gets
// a reason naming the field.
func refDecodeFields(fields map[string]json.RawMessage, rec *Record) error {
	str := func(name string, dst *string) error {
		v, ok := fields[name]
		if !ok || isNull(v) {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return invalid("%s must be a string", name)
		}
		return nil
	}
	id := func(name string, dst *ID) error {
		v, ok := fields[name]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return invalid("%s must be a string", name)
		}
		if len(*dst) > maxIDLen {
			return invalid("%s is longer than %d characters", name, maxIDLen)
		}
		return nil
	}
	obj := func(name string, dst *json.RawMessage) error {
		v, ok := fields[name]
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
		_ = json.Unmarshal(ctx, &rec.Context)
	}
	return nil
}

func refCheckIDs(rec *Record, fields map[string]json.RawMessage) error {
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
		if v, ok := fields["previousId"]; !ok || json.Unmarshal(v, &prev) != nil || prev == "" {
			return invalid("previousId is required for alias calls")
		}
	}
	return nil
}

// resolveTimestamp follows Segment: `timestamp` when given; else
// `originalTimestamp` corrected for the sender's clock skew with `sentAt`;
// else the time the request was received.
func refResolveTimestamp(fields map[string]json.RawMessage, a Arrival) (time.Time, error) {
	if ts, ok, err := refTimeField(fields, "timestamp"); err != nil || ok {
		return ts.UTC(), err
	}
	orig, ok, err := refTimeField(fields, "originalTimestamp")
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return a.ReceivedAt.UTC(), nil
	}
	sentAt := a.SentAt
	if s, ok, err := refTimeField(fields, "sentAt"); err != nil {
		return time.Time{}, err
	} else if ok {
		sentAt = s
	}
	if sentAt.IsZero() {
		return orig.UTC(), nil
	}
	return a.ReceivedAt.Add(-sentAt.Sub(orig)).UTC(), nil
}

func refTimeField(fields map[string]json.RawMessage, name string) (time.Time, bool, error) {
	v, ok := fields[name]
	if !ok || isNull(v) {
		return time.Time{}, false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, false, invalid("%s must be an ISO 8601 date-time string", name)
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, false, invalid("%s %q is not an ISO 8601 date-time", name, s)
	}
	return t, true, nil
}
