package kpi

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/uptakehq/uptake/shared/event"
)

// botPattern matches user agents of bots, crawlers and headless browsers.
// It is compiled on first use: only the aggregation needs it, and compiling
// it at package init cost every function's cold start ~0.5 ms (benchmark
// P4).
var botPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)bot|crawl|spider|slurp|headless|lighthouse|pingdom|phantomjs|python-requests|curl/|wget/|facebookexternalhit`)
})

// IsBot reports whether a user agent is a bot's. Bots are left out of web
// metrics (sessions, pages, conversion), not of product usage.
func IsBot(userAgent string) bool { return userAgent != "" && botPattern().MatchString(userAgent) }

// Response is one survey answer.
type Response struct {
	Type       string    `json:"type"`
	SurveyID   string    `json:"survey_id"`
	Respondent string    `json:"respondent"`
	MessageID  string    `json:"message_id"`
	Time       time.Time `json:"time"`
	Score      float64   `json:"score"`
	Channel    string    `json:"channel,omitempty"`
	Touchpoint string    `json:"touchpoint,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	// Ordinal is the respondent's ordinal, set when the day's part is
	// built.
	Ordinal uint32 `json:"ord"`
	// Account is the ordinal of the respondent's account then.
	Account *uint32 `json:"acct,omitempty"`
}

// Key identifies what a later answer replaces: the same respondent
// answering the same survey of the same type.
func (r Response) Key() string { return r.Type + "\x00" + r.SurveyID + "\x00" + r.Respondent }

// Newer reports whether r replaces o: a later time, or at the same time the
// greater message id, so the choice never depends on arrival order.
func (r Response) Newer(o Response) bool {
	if !r.Time.Equal(o.Time) {
		return r.Time.After(o.Time)
	}
	return r.MessageID > o.MessageID
}

// Facts is what one day's events say, before identities become ordinals.
type Facts struct {
	Day               Day
	ActiveUsers       []string // distinct users active on the day
	PageVisitors      []string // distinct non-bot visitors with a page event
	ConvertedVisitors []string // distinct non-bot visitors of a conversion event
	ConversionEvents  int
	Sessions          int     // sessions whose first event is on the day
	SessionPages      int     // page events in those sessions, wherever they fall
	SessionSeconds    float64 // sum of those sessions' durations
	// Responses are the day's survey answers, the latest of each key within
	// the day; answers on other days that replace them are the caller's
	// to apply (they need state across days).
	Responses []Response

	// KnownUsers are the userIds in any message of the day.
	KnownUsers []string
	// Firsts holds, per user, the earliest time of each milestone the
	// day's events show: first activity and first message of the day,
	// signup (a `Signed Up` event, or an identify's created_at trait,
	// which may name any day), onboarding steps and completion, first
	// value.
	Firsts map[string]Reached
	// Tickets are the ticket updates of the day, merged per ticket within
	// the day (MergeTicket).
	Tickets []Ticket
	// GuidePlays counts the day's Guide Played events.
	GuidePlays int
	// SubEvents and Orders are the day's subscription events and orders.
	SubEvents []SubEvent
	Orders    []Order
	// Links maps the day's visitors (anonymousIds) to the userId their
	// events carried, so a visitor takes the user's traits.
	Links map[string]string
	// TraitChanges are the trait values the day's identify and group calls
	// set, per user and account (AccountID).
	TraitChanges map[string]Traits
	// NextAfter holds, per user and step (0: signup), the earliest such
	// event of the day and what the user did next.
	NextAfter map[string]map[int]Next
	// Features maps each feature used on the day to its users.
	Features map[string][]string
	// SessionsBy breaks the day's sessions down by dimension and value:
	// SessionsBy["source"]["organic"].
	SessionsBy map[string]map[string]SessionStats
	// FirstSession maps a dimension (source, landing_page) and value to the
	// visitors whose first session of the day had that value.
	FirstSession map[string]map[string][]string
}

// Next is what a user did after a step: After is the step's time, Label
// the next event ("page:/path", "screen:Name" or the track event's name).
type Next struct {
	After time.Time
	Label string
}

// SessionStats are the sums over some sessions.
type SessionStats struct {
	Sessions int
	Pages    int
	Seconds  float64
}

// Session dimensions.
const (
	DimSource      = "source"
	DimDevice      = "device"
	DimContentType = "content_type"
	DimLandingPage = "landing_page"
)

// SessionDims are the dimensions sessions are broken down by.
var SessionDims = []string{DimSource, DimDevice, DimContentType, DimLandingPage}

// none is the value of a dimension a session does not have.
const none = "(none)"

// ComputeDay computes the facts of day from recs, which must hold every
// event from a day before the day's start to a day after its end (sessions
// reach across midnight) in arrival order: a DayBuilder fed recs.
//
// Sessions are cut by inactivity only. A session is followed back and
// forward within the window, so one that runs without a 30-minute break for
// more than a day is the only kind counted from part of its events.
func ComputeDay(cfg Config, day Day, recs []event.Record) Facts {
	b := NewDayBuilder(cfg, day)
	for i := range recs {
		b.Add(&recs[i])
	}
	return b.Facts()
}

func activityName(r *event.Record) string {
	if r.Type == event.Track {
		return r.Event
	}
	return r.Name
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Identities are every user and visitor id the day's facts name, sorted
// and distinct: those that need an ordinal. The builder's lists come
// sorted, so they are merged rather than sorted again together (a day of
// 10 M events names about 2 M ids over its lists).
func (f Facts) Identities() []string {
	lists := [][]string{f.ActiveUsers, f.PageVisitors, f.ConvertedVisitors, f.KnownUsers,
		slices.Collect(maps.Keys(f.Firsts)), slices.Collect(maps.Keys(f.TraitChanges))}
	for _, users := range f.Features {
		lists = append(lists, users)
	}
	for _, byValue := range f.FirstSession {
		for _, vs := range byValue {
			lists = append(lists, vs)
		}
	}
	respondents := make([]string, len(f.Responses))
	for i, r := range f.Responses {
		respondents[i] = r.Respondent
	}
	lists = append(lists, respondents)
	for i, l := range lists {
		if !slices.IsSorted(l) {
			l = slices.Clone(l)
			slices.Sort(l)
			lists[i] = l
		}
	}
	return mergeDistinct(lists)
}

// mergeDistinct merges sorted lists into one without repeats, through a
// heap of the lists' heads: no list but the answer is made, which at 10 M
// events a day is the merge's whole memory (a pairwise merge held about
// 75 MB of lists between its rounds).
func mergeDistinct(lists [][]string) []string {
	var h [][]string // the lists not done with, a min-heap by head
	for _, l := range lists {
		if len(l) > 0 {
			h = append(h, l)
		}
	}
	less := func(i, j int) bool { return h[i][0] < h[j][0] }
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && less(c+1, c) {
				c++
			}
			if !less(c, i) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	var out []string
	for len(h) > 0 {
		if s := h[0][0]; len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
		if h[0] = h[0][1:]; len(h[0]) == 0 {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	return out
}

// Reached is a user's milestones of a day, each with the earliest time it
// was reached, in milestone order: a short list rather than a map, as a
// day of 10 M events has hundreds of thousands of users, most with two
// (FirstSeen, FirstActive), and a map of two takes four times the memory.
type Reached []MilestoneAt

// MilestoneAt is a milestone and when it was reached.
type MilestoneAt struct {
	M  Milestone
	At time.Time
}

// At returns when m was reached; false if it was not.
func (r Reached) At(m Milestone) (time.Time, bool) {
	i, ok := slices.BinarySearchFunc(r, m, func(e MilestoneAt, m Milestone) int { return strings.Compare(string(e.M), string(m)) })
	if !ok {
		return time.Time{}, false
	}
	return r[i].At, true
}

// Reach records that m was reached at t, unless it was earlier, and says
// whether r changed.
func (r *Reached) Reach(m Milestone, t time.Time) bool {
	i, ok := slices.BinarySearchFunc(*r, m, func(e MilestoneAt, m Milestone) int { return strings.Compare(string(e.M), string(m)) })
	switch {
	case !ok:
		*r = slices.Insert(*r, i, MilestoneAt{M: m, At: t})
	case t.Before((*r)[i].At):
		(*r)[i].At = t
	default:
		return false
	}
	return true
}

// stepIndex is the 1-based onboarding step of a `Onboarding Step
// Completed` event: the position of its `step` among the configured steps,
// else its `step_index`; 0 if neither says.
func stepIndex(cfg Config, p event.Props) int {
	if p.Step != "" {
		if i := slices.Index(cfg.OnboardingSteps, p.Step); i >= 0 {
			return i + 1
		}
	}
	if p.StepIndex >= 1 && p.StepIndex <= 50 && p.StepIndex == float64(int(p.StepIndex)) {
		return int(p.StepIndex)
	}
	return 0
}

// ReadsProperties reports whether a KPI reads the properties of track
// events named name. Feature and value events configured by name are read
// by name only.
func ReadsProperties(name string) bool {
	switch name {
	case event.SurveyResponded, "Feature Used", "Onboarding Step Completed", "Training Started", "Training Completed", TicketUpdated,
		EventSubStarted, EventSubRenewed, EventTrialStarted, EventSubCancelled, EventOrder:
		return true
	}
	return false
}

// maxComment bounds the survey comment kept in a part.
const maxComment = 1000

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
