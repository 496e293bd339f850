package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// This file computes what the service must answer, by brute force over the
// messages as they were sent (their JSON), exactly as kpis.md defines the
// KPIs, with these readings:
//
//   - a day is a UTC calendar day; a range from..to includes both days;
//   - dau: a user (userId; a message without one does not count) is active
//     on d if they sent a track, page or screen that day, bots included;
//     the value of a range is the mean of daily DAU (numerator the sum,
//     denominator the days); details.new and details.returning are the
//     means of the daily counts of users whose first active day ever is d,
//     and of the others;
//   - sessions: a visitor (anonymousId, else userId)'s track, page and
//     screen messages that are not from bots, in time order, cut where the
//     gap is more than 30 minutes; a session belongs to the day of its
//     first event, and days and ranges do not cut it;
//   - pages_per_session: page messages of the sessions that started in the
//     range ÷ those sessions;
//   - conversion_rate: of the visitors with a non-bot page in the range, the
//     share (×100) who are the visitor of a non-bot Signed Up in the range;
//     details.conversions counts those Signed Up messages;
//   - nps: Survey Responded tracks with survey_type "nps"; of the answers of
//     a respondent (userId, else anonymousId) to a survey, only the latest
//     counts, on the day of its timestamp; (promoters − detractors) ÷
//     answers × 100;
//   - a series has one entry per day, ISO week or calendar month, each the
//     value of the part of that period inside the range, named by its first
//     day inside the range.
//
// A zero denominator gives a nil value.

// kpiView is the part of a KPI answer that the tests compare.
type kpiView struct {
	Value       *float64
	Numerator   *float64
	Denominator *float64
	Details     map[string]*float64
	Series      []periodView
}

// periodView is one entry of a series.
type periodView struct {
	Period      string
	Value       *float64
	Numerator   *float64 // compared only when the service reports it
	Denominator *float64 // compared only when the service reports it
	Details     map[string]*float64
}

// query is one KPI question.
type query struct {
	kpi, from, to, interval string
}

func (q query) String() string {
	s := fmt.Sprintf("%s/%s..%s", q.kpi, q.from, q.to)
	if q.interval != "" {
		s += "/" + q.interval
	}
	return s
}

// isBot reports whether a user agent is a bot's: it contains bot, crawler,
// spider or headless, in any case.
func isBot(ua string) bool {
	ua = strings.ToLower(ua)
	for _, s := range []string{"bot", "crawler", "spider", "headless"} {
		if strings.Contains(ua, s) {
			return true
		}
	}
	return false
}

// refEvent is the part of a sent message that the reference reads.
type refEvent struct {
	Type        string `json:"type"`
	MessageID   string `json:"messageId"`
	Timestamp   string `json:"timestamp"`
	AnonymousID string `json:"anonymousId"`
	UserID      string `json:"userId"`
	Event       string `json:"event"`
	Properties  struct {
		SurveyType string   `json:"survey_type"`
		SurveyID   string   `json:"survey_id"`
		Score      *float64 `json:"score"`
	} `json:"properties"`
	Context struct {
		UserAgent string `json:"userAgent"`
	} `json:"context"`

	at  time.Time
	day string // YYYY-MM-DD, UTC
}

func (e *refEvent) activity() bool {
	return e.Type == "track" || e.Type == "page" || e.Type == "screen"
}

func (e *refEvent) visitor() string {
	if e.AnonymousID != "" {
		return e.AnonymousID
	}
	return e.UserID
}

// refSession is a session as the reference sees it.
type refSession struct {
	visitor string
	day     string // of its first event
	start   time.Time
	end     time.Time // of its last event
	pages   int
}

// refAnswer is an NPS answer that counts (the latest of its respondent to
// its survey).
type refAnswer struct {
	day   string
	score int
}

// reference holds what the KPIs are made of, per UTC day.
type reference struct {
	active      map[string]map[string]bool // day → users active that day
	firstActive map[string]string          // user → first day active
	sessions    []refSession
	pageVisitor map[string]map[string]bool // day → visitors with a non-bot page
	signedUp    map[string]map[string]bool // day → visitors of a non-bot Signed Up
	signups     map[string]int             // day → non-bot Signed Up messages
	answers     []refAnswer
}

// newReference computes the reference over msgs, which may repeat a
// messageId (the first one counts: repeats are identical).
func newReference(msgs []message) (*reference, error) {
	ref := &reference{
		active:      map[string]map[string]bool{},
		firstActive: map[string]string{},
		pageVisitor: map[string]map[string]bool{},
		signedUp:    map[string]map[string]bool{},
		signups:     map[string]int{},
	}
	seen := map[string]bool{}
	var events []*refEvent
	for _, m := range msgs {
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		e := new(refEvent)
		if err := json.Unmarshal(raw, e); err != nil {
			return nil, err
		}
		if e.MessageID == "" || seen[e.MessageID] {
			continue
		}
		seen[e.MessageID] = true
		e.at, err = time.Parse(time.RFC3339Nano, e.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", e.MessageID, err)
		}
		e.at = e.at.UTC()
		e.day = e.at.Format(time.DateOnly)
		events = append(events, e)
	}
	slices.SortStableFunc(events, func(a, b *refEvent) int { return a.at.Compare(b.at) })

	add := func(sets map[string]map[string]bool, day, key string) {
		if sets[day] == nil {
			sets[day] = map[string]bool{}
		}
		sets[day][key] = true
	}
	type answerKey struct{ survey, respondent string }
	latest := map[answerKey]*refEvent{}
	byVisitor := map[string][]*refEvent{}
	for _, e := range events {
		bot := isBot(e.Context.UserAgent)
		if e.activity() && e.UserID != "" {
			add(ref.active, e.day, e.UserID)
			if first, ok := ref.firstActive[e.UserID]; !ok || e.day < first {
				ref.firstActive[e.UserID] = e.day
			}
		}
		if e.activity() && !bot {
			byVisitor[e.visitor()] = append(byVisitor[e.visitor()], e)
		}
		if e.Type == "page" && !bot {
			add(ref.pageVisitor, e.day, e.visitor())
		}
		if e.Type == "track" && e.Event == "Signed Up" && !bot {
			add(ref.signedUp, e.day, e.visitor())
			ref.signups[e.day]++
		}
		if e.Type == "track" && e.Event == "Survey Responded" && e.Properties.SurveyType == "nps" {
			if e.Properties.Score == nil {
				return nil, fmt.Errorf("NPS answer %s has no score", e.MessageID)
			}
			respondent := e.UserID
			if respondent == "" {
				respondent = e.AnonymousID
			}
			k := answerKey{e.Properties.SurveyID, respondent}
			if prev := latest[k]; prev == nil || e.at.After(prev.at) {
				latest[k] = e
			} else if e.at.Equal(prev.at) {
				return nil, fmt.Errorf("NPS answers %s and %s have the same time", prev.MessageID, e.MessageID)
			}
		}
	}
	for _, e := range latest {
		ref.answers = append(ref.answers, refAnswer{day: e.day, score: int(*e.Properties.Score)})
	}
	for v, es := range byVisitor {
		var cur *refSession
		for i, e := range es {
			if i == 0 || e.at.Sub(es[i-1].at) > 30*time.Minute {
				if cur != nil {
					ref.sessions = append(ref.sessions, *cur)
				}
				cur = &refSession{visitor: v, day: e.day, start: e.at}
			}
			cur.end = e.at
			if e.Type == "page" {
				cur.pages++
			}
		}
		ref.sessions = append(ref.sessions, *cur)
	}
	slices.SortFunc(ref.sessions, func(a, b refSession) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.visitor, b.visitor)
	})
	return ref, nil
}

// days returns the days from..to as YYYY-MM-DD.
func days(from, to string) []string {
	f, err1 := time.Parse(time.DateOnly, from)
	t, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		panic(fmt.Sprintf("bad range %s..%s", from, to))
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// periods splits from..to into the periods of interval (day, week: ISO,
// from Monday; month), each cut to the range.
func periods(from, to, interval string) [][2]string {
	var out [][2]string
	ds := days(from, to)
	for i := 0; i < len(ds); {
		j := i
		for j+1 < len(ds) && samePeriod(ds[i], ds[j+1], interval) {
			j++
		}
		out = append(out, [2]string{ds[i], ds[j]})
		i = j + 1
	}
	return out
}

func samePeriod(a, b, interval string) bool {
	ta, _ := time.Parse(time.DateOnly, a)
	tb, _ := time.Parse(time.DateOnly, b)
	switch interval {
	case "week":
		ya, wa := ta.ISOWeek()
		yb, wb := tb.ISOWeek()
		return ya == yb && wa == wb
	case "month":
		return ta.Year() == tb.Year() && ta.Month() == tb.Month()
	case "day":
		return a == b
	}
	panic("unknown interval " + interval)
}

func num(x float64) *float64 { return &x }

// ratio returns n/d×scale, or nil if d is 0.
func ratio(n, d, scale float64) *float64 {
	if d == 0 {
		return nil
	}
	return num(n / d * scale)
}

// answer returns what the service must answer to q.
func (ref *reference) answer(q query) kpiView {
	v := ref.rangeView(q.kpi, q.from, q.to)
	if q.interval != "" {
		for _, p := range periods(q.from, q.to, q.interval) {
			pv := ref.rangeView(q.kpi, p[0], p[1])
			v.Series = append(v.Series, periodView{
				Period:      p[0],
				Value:       pv.Value,
				Numerator:   pv.Numerator,
				Denominator: pv.Denominator,
				Details:     pv.Details,
			})
		}
	}
	return v
}

// rangeView returns the value, numerator, denominator and details of a KPI
// over from..to.
func (ref *reference) rangeView(kpi, from, to string) kpiView {
	ds := days(from, to)
	in := map[string]bool{}
	for _, d := range ds {
		in[d] = true
	}
	switch kpi {
	case "dau":
		var sum, newUsers, returning float64
		for _, d := range ds {
			for u := range ref.active[d] {
				sum++
				if ref.firstActive[u] == d {
					newUsers++
				} else {
					returning++
				}
			}
		}
		n := float64(len(ds))
		return kpiView{
			Value: num(sum / n), Numerator: num(sum), Denominator: num(n),
			Details: map[string]*float64{"new": num(newUsers / n), "returning": num(returning / n)},
		}
	case "pages_per_session":
		var pages, sessions float64
		for _, s := range ref.sessions {
			if in[s.day] {
				sessions++
				pages += float64(s.pages)
			}
		}
		return kpiView{Value: ratio(pages, sessions, 1), Numerator: num(pages), Denominator: num(sessions), Details: map[string]*float64{}}
	case "conversion_rate":
		visitors, signedUp := map[string]bool{}, map[string]bool{}
		var conversions float64
		for _, d := range ds {
			for v := range ref.pageVisitor[d] {
				visitors[v] = true
			}
			for v := range ref.signedUp[d] {
				signedUp[v] = true
			}
			conversions += float64(ref.signups[d])
		}
		var converted float64
		for v := range visitors {
			if signedUp[v] {
				converted++
			}
		}
		n := float64(len(visitors))
		return kpiView{
			Value: ratio(converted, n, 100), Numerator: num(converted), Denominator: num(n),
			Details: map[string]*float64{"conversions": num(conversions)},
		}
	case "nps":
		var promoters, passives, detractors float64
		for _, a := range ref.answers {
			if !in[a.day] {
				continue
			}
			switch {
			case a.score >= 9:
				promoters++
			case a.score >= 7:
				passives++
			default:
				detractors++
			}
		}
		n := promoters + passives + detractors
		return kpiView{
			Value: ratio(promoters-detractors, n, 100), Numerator: num(promoters - detractors), Denominator: num(n),
			Details: map[string]*float64{"promoters": num(promoters), "passives": num(passives), "detractors": num(detractors)},
		}
	}
	panic("the reference does not compute " + kpi)
}

// sessionsOn returns the sessions that start on day d.
func (ref *reference) sessionsOn(d string) []refSession {
	var out []refSession
	for _, s := range ref.sessions {
		if s.day == d {
			out = append(out, s)
		}
	}
	return out
}

// TestReference checks the reference on a few messages computed by hand.
func TestReference(t *testing.T) {
	const (
		chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36"
		d1     = "2026-03-02" // a Monday
		d2     = "2026-03-03"
		d3     = "2026-03-04"
	)
	n := 0
	msg := func(typ, ts, anon, user, ua string, props map[string]any) message {
		n++
		m := message{Type: typ, MessageID: fmt.Sprint("m", n), Timestamp: ts, AnonymousID: anon, UserID: user, Properties: props}
		if ua != "" {
			m.Context = map[string]any{"userAgent": ua}
		}
		return m
	}
	track := func(event, ts, anon, user, ua string, props map[string]any) message {
		m := msg("track", ts, anon, user, ua, props)
		m.Event = event
		return m
	}
	nps := func(survey string, score int) map[string]any {
		return map[string]any{"survey_type": "nps", "survey_id": survey, "score": score}
	}
	first := msg("page", d1+"T10:00:00Z", "a1", "", chrome, nil)
	msgs := []message{
		first,
		msg("page", d1+"T10:30:00Z", "a1", "", chrome, nil),            // exactly 30 min: same session
		msg("page", d1+"T11:00:01Z", "a1", "", chrome, nil),            // 30 min + 1 s: new session
		track("Signed Up", d1+"T11:05:00Z", "a1", "u1", chrome, nil),   // converts a1; u1 active
		msg("page", d2+"T09:00:00Z", "a1", "u1", chrome, nil),          //
		msg("page", d1+"T23:50:00Z", "b1", "", chrome, nil),            // a session across midnight
		msg("page", d2+"T01:10:00+01:00", "b1", "", chrome, nil),       // 00:10Z
		msg("page", d1+"T12:00:00Z", "c1", "", googlebot, nil),         // a bot: no session, no visitor
		track("Signed Up", d1+"T12:01:00Z", "c1", "u9", headless, nil), // a bot: active, no conversion
		msg("identify", d1+"T08:00:00Z", "", "u2", "", nil),            // not activity
		track("Invoice Paid", d3+"T10:00:00Z", "", "u2", "", nil),      // visitor u2
		track("Survey Responded", d2+"T15:00:00Z", "a1", "u1", chrome, nps("s1", 9)),
		track("Survey Responded", d2+"T10:00:00Z", "a1", "u1", chrome, nps("s1", 2)), // replaced by the 9
		track("Survey Responded", d1+"T20:00:00Z", "a5", "", chrome, nps("s1", 7)),
		track("Survey Responded", d3+"T11:00:00Z", "a1", "u1", chrome, nps("s2", 0)),
		track("Survey Responded", d3+"T10:05:00Z", "", "u2", "", map[string]any{"survey_type": "csat", "survey_id": "c", "score": 5}),
		first, // a duplicate
	}
	ref, err := newReference(msgs)
	if err != nil {
		t.Fatal(err)
	}
	type details = map[string]*float64
	for _, tc := range []struct {
		q    query
		want kpiView
	}{
		{query{"dau", d1, d3, ""}, kpiView{Value: num(5.0 / 3), Numerator: num(5), Denominator: num(3),
			Details: details{"new": num(1), "returning": num(2.0 / 3)}}},
		{query{"dau", d1, d3, "day"}, kpiView{Value: num(5.0 / 3), Numerator: num(5), Denominator: num(3),
			Details: details{"new": num(1), "returning": num(2.0 / 3)},
			Series: []periodView{
				{Period: d1, Value: num(2), Numerator: num(2), Denominator: num(1), Details: details{"new": num(2), "returning": num(0)}},
				{Period: d2, Value: num(1), Numerator: num(1), Denominator: num(1), Details: details{"new": num(0), "returning": num(1)}},
				{Period: d3, Value: num(2), Numerator: num(2), Denominator: num(1), Details: details{"new": num(1), "returning": num(1)}},
			}}},
		{query{"pages_per_session", d1, d1, ""}, kpiView{Value: num(1.25), Numerator: num(5), Denominator: num(4), Details: details{}}},
		{query{"pages_per_session", d2, d3, "day"}, kpiView{Value: num(0.2), Numerator: num(1), Denominator: num(5), Details: details{},
			Series: []periodView{
				{Period: d2, Value: num(1.0 / 3), Numerator: num(1), Denominator: num(3), Details: details{}},
				{Period: d3, Value: num(0), Numerator: num(0), Denominator: num(2), Details: details{}},
			}}},
		{query{"conversion_rate", d1, d3, "week"}, kpiView{Value: num(50), Numerator: num(1), Denominator: num(2),
			Details: details{"conversions": num(1)},
			Series:  []periodView{{Period: d1, Value: num(50), Numerator: num(1), Denominator: num(2), Details: details{"conversions": num(1)}}}}},
		{query{"conversion_rate", d2, d3, "day"}, kpiView{Value: num(0), Numerator: num(0), Denominator: num(2),
			Details: details{"conversions": num(0)},
			Series: []periodView{
				{Period: d2, Value: num(0), Numerator: num(0), Denominator: num(2), Details: details{"conversions": num(0)}},
				{Period: d3, Value: nil, Numerator: num(0), Denominator: num(0), Details: details{"conversions": num(0)}},
			}}},
		{query{"nps", d1, d3, "day"}, kpiView{Value: num(0), Numerator: num(0), Denominator: num(3),
			Details: details{"promoters": num(1), "passives": num(1), "detractors": num(1)},
			Series: []periodView{
				{Period: d1, Value: num(0), Numerator: num(0), Denominator: num(1), Details: details{"promoters": num(0), "passives": num(1), "detractors": num(0)}},
				{Period: d2, Value: num(100), Numerator: num(1), Denominator: num(1), Details: details{"promoters": num(1), "passives": num(0), "detractors": num(0)}},
				{Period: d3, Value: num(-100), Numerator: num(-1), Denominator: num(1), Details: details{"promoters": num(0), "passives": num(0), "detractors": num(1)}},
			}}},
		{query{"nps", "2026-03-05", "2026-03-05", ""}, kpiView{Value: nil, Numerator: num(0), Denominator: num(0),
			Details: details{"promoters": num(0), "passives": num(0), "detractors": num(0)}}},
	} {
		if diff := cmp.Diff(ref.answer(tc.q), tc.want, approx); diff != "" {
			t.Errorf("%v: (-reference +by hand):\n%s", tc.q, diff)
		}
	}
}

func TestPeriods(t *testing.T) {
	for _, tc := range []struct {
		from, to, interval string
		want               [][2]string
	}{
		{"2026-09-09", "2026-10-03", "week", [][2]string{
			{"2026-09-09", "2026-09-13"}, {"2026-09-14", "2026-09-20"}, {"2026-09-21", "2026-09-27"}, {"2026-09-28", "2026-10-03"}}},
		{"2026-09-09", "2026-10-03", "month", [][2]string{{"2026-09-09", "2026-09-30"}, {"2026-10-01", "2026-10-03"}}},
		{"2026-12-28", "2027-01-04", "week", [][2]string{{"2026-12-28", "2027-01-03"}, {"2027-01-04", "2027-01-04"}}},
		{"2026-09-30", "2026-10-01", "day", [][2]string{{"2026-09-30", "2026-09-30"}, {"2026-10-01", "2026-10-01"}}},
	} {
		if diff := cmp.Diff(periods(tc.from, tc.to, tc.interval), tc.want); diff != "" {
			t.Errorf("periods(%s, %s, %s) (-got +want):\n%s", tc.from, tc.to, tc.interval, diff)
		}
	}
}
