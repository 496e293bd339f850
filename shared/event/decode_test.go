package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeCases are stored lines as ingest writes them, and the odd shapes
// json.Unmarshal accepts that a decoder could get wrong.
var decodeCases = []string{
	`{"anonymousId":"a-1","context":{"campaign":{"medium":"cpc","source":"google"},"device":{"type":"ios"},"groupId":"acme","page":{"path":"/p","referrer":"https://r.example/","url":"https://x.example/p"},"userAgent":"Mozilla/5.0"},"event":"Signed Up","messageId":"m-1","properties":{"plan":"pro"},"receivedAt":"2026-10-01T18:12:50.317Z","timestamp":"2026-10-01T18:12:19.929Z","type":"track","userId":"u-1"}`,
	`{"type":"identify","userId":42,"anonymousId":null,"traits":{"created_at":"2026-01-01"},"timestamp":"2026-10-01T00:00:00+02:00"}`,
	`{"TYPE":"page","MessageID":"m","name":"Home","properties":null,"context":null,"groupId":1.5e3}`,
	`{"type":"track","type":"page","event":"a\u00e9\"b","messageId":"\u2028x","userId":"caf\u00e9"}`,
	`{"type":"track","event":5}`,
	`{"type":"track","userId":true}`,
	`{"type":"track","timestamp":"yesterday"}`,
	`{"type":"track","timestamp":null,"receivedAt":12}`,
	`{"type":"track","context":[1,2]}`,
	`{"type":"track","context":{"groupId":{}}}`,
	`{"type":"track","context":{"userAgent":5,"page":"x","device":{"type":["a"]}}}`,
	`{"type":"track","context":{"Page":{"Path":"/A","PATH":"/b"}},"ſtype":"x"}`,
	"{\"type\":\"tr\xffack\",\"userId\":\"\xfe\"}",
	`{ "type" : "screen" , "name" : "S" , "properties" : { "a" : [ 1 , 2 ] } }`,
	`[]`, `"x"`, `{}`, ``,
}

func FuzzDecodeLine(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	d := NewLineDecoder()
	f.Fuzz(func(t *testing.T, line []byte) {
		var got Record
		errGot := d.Decode(line, &got)
		if !json.Valid(line) {
			return // stored lines are valid JSON: only a panic would matter
		}
		var want Record
		errWant := json.Unmarshal(line, &want)
		switch {
		case errWant == nil && errGot != nil && !isNull(bytes.TrimSpace(line)):
			// (A line of null decodes to nothing; Decode calls it broken.)
			t.Fatalf("Decode(%q): %v; json.Unmarshal accepts it", line, errGot)
		case errWant != nil && errGot == nil:
			// Decode reads the context's string fields leniently, as
			// ingest does: a line json.Unmarshal refused for them is kept.
			var te *json.UnmarshalTypeError
			if !errors.As(errWant, &te) || !strings.HasPrefix(te.Field, "context.") {
				t.Fatalf("Decode(%q) accepted it; json.Unmarshal: %v", line, errWant)
			}
		case errWant == nil && errGot == nil:
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Decode(%q)\n got %+v\nwant %+v", line, got, want)
			}
		}
	})
}

func TestDecodeLineAliases(t *testing.T) {
	d := NewLineDecoder()
	line := []byte(decodeCases[0])
	var r Record
	if err := d.Decode(line, &r); err != nil {
		t.Fatal(err)
	}
	if r.User() != "u-1" || r.Visitor() != "a-1" || r.Context.Page.Path != "/p" || string(r.Properties) != `{"plan":"pro"}` {
		t.Fatalf("decoded %+v", r)
	}
	// A second line reuses the interned values, and the record is reset.
	var r2 Record
	if err := d.Decode([]byte(`{"type":"track","userId":"u-1"}`), &r2); err != nil {
		t.Fatal(err)
	}
	if r2.Context.Page.Path != "" || r2.Properties != nil || r2.User() != "u-1" {
		t.Fatalf("second line decoded %+v", r2)
	}
}

// FuzzProps holds Props's walk to encoding/json's decoding (propsSlow) on
// every valid JSON object.
func FuzzProps(f *testing.F) {
	for _, c := range []string{
		`{"path":"/a","url":"https://x/a","referrer":"","content_type":"blog","feature":"f","step":"s","course":"c","plan":"pro","amount":12.5,"revenue":3,"total":null,"step_index":2}`,
		`{"PATH":"/A","path":"/b","Amount":"12","ſtep":"x","revenue":null}`,
		`{"amount":1e400,"plan":"p","Plan":5}`,
		`{"content_type":["x"],"content_type":"y","CONTENT_TYPE":"z"}`,
		`{"total":1,"total":null,"step_index":-0.5,"url":"caf\u00e9","feature":"\ud800"}`,
		`{"revenue":true,"course":{"a":1},"step":null}`,
		`{}`,
	} {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
			return
		}
		got, want := decodeProps(bytes.TrimSpace(b)), propsSlow(b)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeProps(%s)\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// FuzzPeek holds Peek to Decode: on a line Decode reads, Peek reads the
// same ids and time; a line Peek refuses, Decode refuses too.
func FuzzPeek(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Add([]byte(`{"USERID":"u","AnonymousId":"a","timeStamp":"2026-10-02T00:00:00Z","userId":"v"}`))
	f.Add([]byte(`{"userId":12,"anonymousId":null,"timestamp":"2026-10-02T00:00:00Z"}`))
	d := NewLineDecoder()
	f.Fuzz(func(t *testing.T, line []byte) {
		var peek, full Record
		errPeek := d.Peek(line, &peek)
		errFull := d.Decode(line, &full)
		if errPeek != nil && errFull == nil {
			t.Fatalf("Peek(%q): %v; Decode reads it", line, errPeek)
		}
		if errFull != nil {
			return // Peek may read a line whose other members are wrong
		}
		if peek.UserID != full.UserID || peek.AnonymousID != full.AnonymousID || !peek.Timestamp.Equal(full.Timestamp) ||
			peek.Timestamp.Location() != full.Timestamp.Location() {
			t.Fatalf("Peek(%q) = %q %q %v; Decode: %q %q %v", line, peek.UserID, peek.AnonymousID, peek.Timestamp,
				full.UserID, full.AnonymousID, full.Timestamp)
		}
	})
}
