package event

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// The walk of JSON that Parse and the batch split make without decoding:
// they run on bytes already known to be valid JSON (json.Valid), so that
// each body is scanned for validity once, rather than once by every
// json.Unmarshal of its parts.

// field is one member of a JSON object: its key, unquoted, and its value
// as sent.
type field struct {
	key string
	val json.RawMessage
}

// fields are an object's members, each key once.
type fields []field

// get returns the value of key.
func (fs fields) get(key string) (json.RawMessage, bool) {
	for i := range fs {
		if fs[i].key == key {
			return fs[i].val, true
		}
	}
	return nil, false
}

// set replaces the value of key, or adds it.
func (fs fields) set(key string, val json.RawMessage) fields {
	for i := range fs {
		if fs[i].key == key {
			fs[i].val = val
			return fs
		}
	}
	return append(fs, field{key, val})
}

// ObjectMembers calls fn with each member of the JSON object b, in order,
// with its key unquoted and its value as sent. b must be valid JSON
// (json.Valid); ok is false when it is not an object.
func ObjectMembers(b []byte, fn func(key string, val json.RawMessage)) (ok bool) {
	return membersRaw(b, func(key, val []byte) { fn(unquote(key), val) })
}

// membersRaw is ObjectMembers with each key as sent, quotes, escapes and
// all, so that a reader looking for a few names compares bytes (keyName)
// instead of unquoting every key.
func membersRaw(b []byte, fn func(key, val []byte)) (ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		end := skipString(b, i)
		if end-i < 2 {
			return false
		}
		key := b[i:end]
		i = skipSpace(b, skipSpace(b, end)+1) // past the colon
		if i >= len(b) {
			return false // not valid JSON: a broken stored line
		}
		end = skipValue(b, i)
		fn(key, b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) || b[i] == '}' {
			return true
		}
		i = skipSpace(b, i+1) // past the comma
	}
	return true
}

// keyName returns the name among names that a key as sent (membersRaw's,
// quoted) matches as encoding/json matches a struct field: exactly, else
// case-insensitively; "" when none does.
func keyName(quoted []byte, names ...string) string {
	raw := quoted[1 : len(quoted)-1]
	for _, n := range names {
		if string(raw) == n {
			return n
		}
	}
	ascii := true
	for _, c := range raw {
		if c >= 0x80 || c == '\\' {
			ascii = false
			break
		}
	}
	if !ascii { // escapes, or letters that fold into ASCII ones (ſ, K)
		return contextField(unquote(quoted), names...)
	}
	for _, n := range names {
		if len(n) == len(raw) && equalFoldASCII(raw, n) {
			return n
		}
	}
	return ""
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ArrayElements returns the elements of the JSON array b, as sent. b must
// be valid JSON (json.Valid); ok is false when it is not an array.
func ArrayElements(b []byte) (elems []json.RawMessage, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	elems = []json.RawMessage{}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return elems, true
	}
	for i < len(b) {
		end := skipValue(b, i)
		elems = append(elems, b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) || b[i] == ']' {
			return elems, true
		}
		i = skipSpace(b, i+1)
	}
	return elems, true
}

// objectFields returns the members of a valid JSON object, the last one
// winning for a repeated key, as decoding into a map does.
func objectFields(b []byte) (fields, bool) {
	fs := make(fields, 0, 16)
	ok := ObjectMembers(b, func(key string, val json.RawMessage) { fs = fs.set(key, val) })
	return fs, ok
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	start := i + 1
	for i = start; i < len(b); i++ {
		// The next quote, found with IndexByte's vector search, ends the
		// string unless an odd number of backslashes escapes it.
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		n := 0
		for k := i - 1; k >= start && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// commonKeys are the member names of Segment messages, kept once rather
// than allocated for each message.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"type", "messageId", "userId", "anonymousId", "groupId", "previousId", "event", "name",
		"properties", "traits", "context", "integrations", "timestamp", "originalTimestamp", "sentAt", "receivedAt",
		"userAgent", "page", "path", "url", "referrer", "title", "search", "device", "campaign", "source", "medium",
		"library", "version", "ip", "locale", "timezone", "app", "os", "screen", "id", "model", "manufacturer",
		"width", "height", "build", "namespace", "network", "All", "plan", "email", "company", "created_at", "value"} {
		m[k] = k
	}
	return m
}()

// unquote returns the text of a valid JSON string.
func unquote(q []byte) string {
	if len(q) >= 2 {
		if k, ok := commonKeys[string(q[1:len(q)-1])]; ok {
			return k
		}
	}
	if s, ok := plainString(q); ok {
		return s
	}
	var s string
	json.Unmarshal(q, &s) // valid JSON: cannot fail
	return s
}

// plainString returns the text of a JSON string without escapes; ok is
// false for anything else.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}

// decodeString decodes a JSON string into dst, as json.Unmarshal does.
func decodeString(v []byte, dst *string) error {
	if s, ok := plainString(v); ok {
		*dst = s
		return nil
	}
	return json.Unmarshal(v, dst)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as json.Marshal does.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendCompact appends a valid JSON value without insignificant space and
// with <, >, &, U+2028 and U+2029 escaped, as json.Marshal writes a
// json.RawMessage.
func appendCompact(dst, src []byte) []byte {
	start, inString := 0, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
			start = i + 3
			i += 2
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}

// appendObject appends the members sorted by key, as json.Marshal writes a
// map[string]json.RawMessage.
func appendObject(dst []byte, fs fields) []byte {
	slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.key, b.key) })
	dst = append(dst, '{')
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.key)
		dst = append(dst, ':')
		dst = appendCompact(dst, f.val)
	}
	return append(dst, '}')
}

// decodeContext decodes the valid JSON object b into c as json.Unmarshal
// does, without checking b again: members match a field by its exact name,
// else case-insensitively; null leaves a field as it is; a value of the
// wrong type leaves it too, except for groupId, whose error ends the
// decoding there (encoding/json stops at an Unmarshaler's error).
func decodeContext(b []byte, c *Context) {
	stopped := false
	ObjectMembers(b, func(key string, v json.RawMessage) {
		if stopped {
			return
		}
		switch contextField(key, "userAgent", "groupId", "device", "page", "campaign") {
		case "userAgent":
			setString(v, &c.UserAgent)
		case "groupId":
			if c.GroupID.UnmarshalJSON(v) != nil {
				stopped = true
			}
		case "device":
			decodeStrings(v, []string{"type"}, []*string{&c.Device.Type})
		case "page":
			decodeStrings(v, []string{"path", "referrer", "url"}, []*string{&c.Page.Path, &c.Page.Referrer, &c.Page.URL})
		case "campaign":
			decodeStrings(v, []string{"source", "medium"}, []*string{&c.Campaign.Source, &c.Campaign.Medium})
		}
	})
}

// contextField returns the name among names that key matches: exactly,
// else case-insensitively; "" when none does.
func contextField(key string, names ...string) string {
	for _, n := range names {
		if key == n {
			return n
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return n
		}
	}
	return ""
}

// decodeStrings decodes an object of string fields (names[i] into
// dsts[i]), as json.Unmarshal into a struct of them does; anything but an
// object leaves them as they are.
func decodeStrings(v []byte, names []string, dsts []*string) {
	ObjectMembers(v, func(key string, val json.RawMessage) {
		if n := contextField(key, names...); n != "" {
			setString(val, dsts[slices.Index(names, n)])
		}
	})
}

// setString sets *dst to the JSON string v; null and other types leave it.
func setString(v []byte, dst *string) {
	if len(v) > 0 && v[0] == '"' {
		*dst = unquote(v)
	}
}
