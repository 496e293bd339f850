package erase

import (
	"encoding/json"
	"testing"

	"github.com/uptakehq/uptake/shared/event"
)

// FuzzWhose checks that the erasure's cheap reading of a raw line (its
// userId and anonymousId only) agrees with the aggregation's full reading
// of the same line: a line the aggregation counts for a user is a line the
// erasure finds, whatever its escapes, number ids, nulls or duplicated
// keys.
func FuzzWhose(f *testing.F) {
	for _, s := range []string{
		`{"type":"track","userId":"u1","anonymousId":"a1","event":"E"}`,
		`{"userId":"\u0075\u0031","anonymousId":null}`,
		`{"userId":42,"anonymousId":"x"}`,
		`{"userId":"u1","userId":"u2"}`,
		`{"anonymousId":"a1","traits":{"userId":"not-me"},"properties":{"anonymousId":"no"}}`,
		`{"USERID":"u1"}`,
		`[]`, `{"userId":{}}`, `{"userId":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var r event.Record
		full := json.Unmarshal(line, &r) == nil
		w, ok := whose(line)
		if full && !ok {
			t.Fatalf("the aggregation reads %q, the erasure cannot", line)
		}
		if full && (w.UserID != r.UserID || w.AnonymousID != r.AnonymousID) {
			t.Fatalf("line %q: erasure reads user %q visitor %q, aggregation %q %q", line, w.UserID, w.AnonymousID, r.UserID, r.AnonymousID)
		}
		p := person{user: string(r.UserID), visitors: map[string]bool{string(r.AnonymousID): true}}
		if full && r.UserID != "" && !p.owns(w) {
			t.Fatalf("line %q of user %q is not found as theirs", line, r.UserID)
		}
	})
}
