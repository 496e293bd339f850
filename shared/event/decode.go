package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"
)

// LineDecoder decodes stored lines into Records as json.Unmarshal does,
// in one walk of the line and without reflection: the nightly run reads
// every line of a day's window, and encoding/json's decoding was half of
// its time. A record's strings without escapes alias the line, as its
// Properties do, so decoding allocates nothing per line: a window of 30 M
// lines allocated about 9 GB of strings, most of them messageIds and ids
// read once, and the collector's work grew with it. What a caller keeps
// past the line's life it copies (strings.Clone).
type LineDecoder struct{}

// NewLineDecoder returns a decoder.
func NewLineDecoder() *LineDecoder { return &LineDecoder{} }

// errLine is the error of a line that is not a JSON object.
var errLine = errors.New("raw line is not a JSON object")

// Decode decodes line into r, which it resets first. r.Properties,
// r.Traits and the strings without escapes alias line: copy them to keep
// them past line's life.
//
// It follows json.Unmarshal into a Record for valid JSON (members match a
// field exactly, else case-insensitively; null leaves a field as it is;
// the last of a repeated member wins), and returns an error where it
// would: a value of the wrong type, a time that is not RFC 3339. It does
// not check the line's JSON syntax again: lines are stored only after
// ingest validated them (FuzzDecodeLine holds it to json.Unmarshal).
func (d *LineDecoder) Decode(line []byte, r *Record) error {
	*r = Record{}
	var err error
	ok := membersRaw(line, func(key, v []byte) {
		if err != nil {
			return
		}
		switch recordField(key) {
		case "type":
			err = d.str(v, &r.Type, "type")
		case "messageId":
			err = d.plain(v, &r.MessageID, "messageId")
		case "userId":
			err = d.id(v, &r.UserID, "userId")
		case "anonymousId":
			err = d.id(v, &r.AnonymousID, "anonymousId")
		case "event":
			err = d.str(v, &r.Event, "event")
		case "name":
			err = d.str(v, &r.Name, "name")
		case "groupId":
			err = d.id(v, &r.GroupID, "groupId")
		case "timestamp":
			err = decodeTime(v, &r.Timestamp, "timestamp")
		case "receivedAt":
			err = decodeTime(v, &r.ReceivedAt, "receivedAt")
		case "properties":
			r.Properties = raw(v)
		case "traits":
			r.Traits = raw(v)
		case "context":
			err = d.context(v, &r.Context)
		}
	})
	if !ok {
		return errLine
	}
	return err
}

// Peek decodes only a line's userId, anonymousId and timestamp into r,
// which it resets first, as Decode sets them: the window's reader peeks
// at the lines of the days around the one it runs, most of which cannot
// matter to it, and decodes only those that can. It returns Decode's
// error for those members (or for a line that is not an object).
func (d *LineDecoder) Peek(line []byte, r *Record) error {
	*r = Record{}
	var err error
	ok := membersRaw(line, func(key, v []byte) {
		if err != nil {
			return
		}
		switch recordField(key) {
		case "userId":
			err = d.id(v, &r.UserID, "userId")
		case "anonymousId":
			err = d.id(v, &r.AnonymousID, "anonymousId")
		case "timestamp":
			err = decodeTime(v, &r.Timestamp, "timestamp")
		}
	})
	if !ok {
		return errLine
	}
	return err
}

// recordField returns the Record field that key names: exactly, else
// case-insensitively, as encoding/json matches them; "" for none.
func recordField(key []byte) string { return keyName(key, recordNames...) }

// recordNames are the members a Record has.
var recordNames = []string{"type", "messageId", "userId", "anonymousId", "event", "name", "groupId", "timestamp", "receivedAt", "properties", "traits", "context"}

// raw is a json.RawMessage member's value, as json.Unmarshal sets it
// (null included).
func raw(v []byte) json.RawMessage { return json.RawMessage(v) }

// str decodes a string member; null leaves it.
func (d *LineDecoder) str(v []byte, dst *string, name string) error {
	if isNull(v) {
		return nil
	}
	if len(v) == 0 || v[0] != '"' {
		return fmt.Errorf("%s must be a string", name)
	}
	*dst = d.text(v)
	return nil
}

// plain decodes a string member (messageIds): without escapes, a string
// aliasing v.
func (d *LineDecoder) plain(v []byte, dst *string, name string) error {
	if isNull(v) {
		return nil
	}
	if len(v) == 0 || v[0] != '"' {
		return fmt.Errorf("%s must be a string", name)
	}
	if s, ok := aliasString(v); ok && utf8.ValidString(s) {
		*dst = s
		return nil
	}
	return json.Unmarshal(v, dst)
}

// id decodes an ID member as ID.UnmarshalJSON does.
func (d *LineDecoder) id(v []byte, dst *ID, name string) error {
	if len(v) > 0 && v[0] == '"' {
		*dst = ID(d.text(v))
		return nil
	}
	if err := dst.UnmarshalJSON(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// text returns the text of the valid JSON string v: without escapes, a
// string aliasing v.
func (d *LineDecoder) text(v []byte) string {
	if len(v) < 2 {
		return "" // not valid JSON: only a broken line has it
	}
	s, plain := aliasString(v)
	if !plain || !utf8.ValidString(s) {
		var u string
		json.Unmarshal(v, &u) // a valid JSON string: cannot fail
		return u
	}
	return s
}

// aliasString is plainString's string without a copy: it aliases v.
func aliasString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	q := v[1 : len(v)-1]
	for _, c := range q {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	return unsafe.String(unsafe.SliceData(q), len(q)), true
}

// context decodes the context member; anything but an object or null is
// the type error json.Unmarshal reports.
func (d *LineDecoder) context(v []byte, c *Context) error {
	if isNull(v) {
		return nil
	}
	if len(v) == 0 || v[0] != '{' {
		return errors.New("context must be an object")
	}
	stopped := false
	var err error
	membersRaw(v, func(key, val []byte) {
		if stopped {
			return
		}
		switch keyName(key, "userAgent", "groupId", "device", "page", "campaign") {
		case "userAgent":
			d.setText(val, &c.UserAgent)
		case "groupId":
			if e := d.id(val, &c.GroupID, "context.groupId"); e != nil {
				stopped, err = true, e
			}
		case "device":
			d.texts(val, []string{"type"}, []*string{&c.Device.Type})
		case "page":
			d.texts(val, []string{"path", "referrer", "url"}, []*string{&c.Page.Path, &c.Page.Referrer, &c.Page.URL})
		case "campaign":
			d.texts(val, []string{"source", "medium"}, []*string{&c.Campaign.Source, &c.Campaign.Medium})
		}
	})
	return err
}

// setText sets *dst to the JSON string v; other types leave it
// (the context's string fields are decoded leniently, as decodeContext
// does on ingest).
func (d *LineDecoder) setText(v []byte, dst *string) {
	if len(v) > 0 && v[0] == '"' {
		*dst = d.text(v)
	}
}

// texts decodes an object of string fields, as decodeStrings does.
func (d *LineDecoder) texts(v []byte, names []string, dsts []*string) {
	membersRaw(v, func(key, val []byte) {
		if n := keyName(key, names...); n != "" {
			d.setText(val, dsts[slices.Index(names, n)])
		}
	})
}

// decodeTime decodes an RFC 3339 time member as time.Time.UnmarshalJSON
// does.
func decodeTime(v []byte, dst *time.Time, name string) error {
	if err := dst.UnmarshalJSON(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
