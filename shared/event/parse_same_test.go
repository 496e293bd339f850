package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var sameNow = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

// sameCases are messages whose parse must not change: the shapes senders
// use, and the odd ones (escapes, spaces, repeated keys, HTML characters,
// numbers as ids, wrong types).
var sameCases = []string{
	`{"type":"track","event":"E","userId":"u","messageId":"m"}`,
	` { "type" : "track" , "event" : "E <&> \u2028" , "userId" : 42 , "messageId" : "m", "properties": { "a" : [1, 2, {"b": "c d"}], "html": "<b>&amp;</b>" } } `,
	`{"type":"page","anonymousId":"a","messageId":"m","context":{"page":{"path":"/x","url":"https://e.example/x?a=1&b=2"},"userAgent":"UA","campaign":{"source":7}},"timestamp":"2026-09-30T08:00:00.123+02:00"}`,
	`{"type":"identify","userId":"u","messageId":"m","traits":{"created_at":"2025-01-01T00:00:00Z","name":"Zoë \"Z\" \\ ✓"},"originalTimestamp":"2026-10-01T10:00:00Z","sentAt":"2026-10-01T10:00:05Z"}`,
	`{"type":"track","type":"page","userId":"u","messageId":"m","messageId":"n"}`,
	`{"t\u0079pe":"track","event":"E","userId":"u","messageId":"m","\u00e9":"x","a\"b":1}`,
	`{"type":"alias","userId":"u","previousId":"p","messageId":"m"}`,
	`{"type":"group","userId":"u","groupId":12.5,"messageId":"m","traits":{}}`,
	`{"type":"track","event":"Survey Responded","userId":"u","messageId":"m","properties":{"survey_type":"nps","score":"9"}}`,
	`{"type":"track","event":"Survey Responded","userId":"u","messageId":"m","properties":{"survey_type":"nps","score":11}}`,
	`{"type":"track","event":"E","userId":null,"anonymousId":"a","messageId":"m","groupId":null}`,
	`{"type":"track","event":"E","userId":"u","messageId":"m","properties":[1]}`,
	`{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":"yesterday"}`,
	`{"type":"track","event":["E"],"userId":"u","messageId":"m"}`,
	`{"type":"track","event":"E","userId":{},"messageId":"m"}`,
	`{"type":"track","event":"E","userId":"u","messageId":"m","timestamp":null,"originalTimestamp":null}`,
	"{\"type\":\"track\",\"event\":\"E\\t\\n\",\"userId\":\"u\",\"messageId\":\"m\",\n\"x\":\t\"\\u003c\"}",
	`{"type":"track","event":"E","userId":"u","messageId":"m","context":{"UserAgent":"x","userAgent":"y","useragent":"z","device":null,"Page":{"PATH":"/p","path":3,"url":null},"campaign":"no","groupId":7}}`,
	`{"type":"track","event":"E","userId":"u","messageId":"m","context":{"page":{"path":"/a"},"page":{"url":"u"},"groupId":true,"userAgent":"after"}}`,
	`{"type":"track","event":"E","userId":"u","messageId":"m","context":{"groupId":{"a":1},"device":{"type":"ios"}}}`,
	`{"type":"track","event":"E","userId":"u","messageId":"m","context":{"groupId":null,"device":{"type":["x"],"Type":"android"},"campaign":{"source":"s\u00e9","medium":"m","name":1}}}`,
	`{"type":"track","event":"E","userId":"u","messageId":"m","context":{"groupId":"g","groupId":-1.5e3,"ſerAgent":1,"userAgent":"K"}}`,
	`{}`, `[]`, `null`, `"x"`, `{"a":}`, "{\"type\":\"track\",\"event\":\"\xff\"}",
}

// TestParseSameAsReference checks that Parse accepts and rejects what the
// reference implementation did, with the same reasons, records and stored
// lines, byte for byte.
func TestParseSameAsReference(t *testing.T) {
	cases := append([]string(nil), sameCases...)
	files, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		for _, route := range []string{"", "track"} {
			checkSame(t, []byte(c), Arrival{RouteType: route, ReceivedAt: sameNow, SentAt: sameNow.Add(time.Second)})
		}
	}
}

func FuzzParseSameAsReference(f *testing.F) {
	for _, c := range sameCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkSame(t, raw, Arrival{ReceivedAt: sameNow})
		if utf8.Valid(raw) && json.Valid(raw) {
			checkSame(t, raw, Arrival{ReceivedAt: sameNow, Checked: true})
		}
	})
}

func checkSame(t *testing.T, raw []byte, a Arrival) {
	t.Helper()
	want, werr := refParse(raw, a)
	got, gerr := Parse(raw, a)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("%s\nerror %v, reference %v", raw, gerr, werr)
	}
	if !bytes.Equal(got.Line, want.Line) {
		t.Fatalf("%s\nline      %s\nreference %s", raw, got.Line, want.Line)
	}
	if diff := cmp.Diff(want.Record, got.Record, cmpopts.IgnoreUnexported(Record{})); diff != "" {
		t.Fatalf("%s\nrecord (-reference +got):\n%s", raw, diff)
	}
}
