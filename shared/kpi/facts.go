package kpi

import (
	"encoding/json"
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
	Firsts map[string]map[Milestone]time.Time
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
// reach across midnight) in arrival order. A repeated messageId counts
// once: the first arrival wins.
//
// Sessions are cut by inactivity only. A session is followed back and
// forward within the window, so one that runs without a 30-minute break for
// more than a day is the only kind counted from part of its events.
func ComputeDay(cfg Config, day Day, recs []event.Record) Facts {
	loc := cfg.Location()
	start, end := day.Start(loc), day.End(loc)
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }

	seen := make(map[string]struct{}, len(recs))
	active := map[string]struct{}{}
	pageVisitors := map[string]struct{}{}
	converted := map[string]struct{}{}
	responses := map[string]Response{}
	byVisitor := map[string][]*event.Record{}
	activeNames := make(map[string]bool, len(cfg.ActiveEvents))
	for _, n := range cfg.ActiveEvents {
		activeNames[n] = true
	}
	f := Facts{Day: day, Firsts: map[string]map[Milestone]time.Time{}, NextAfter: map[string]map[int]Next{}, Links: map[string]string{}, TraitChanges: map[string]Traits{}, Features: map[string][]string{}, SessionsBy: map[string]map[string]SessionStats{}, FirstSession: map[string]map[string][]string{}}
	known := map[string]struct{}{}
	features := map[string]map[string]struct{}{}
	featureEvents := make(map[string]bool, len(cfg.FeatureEvents))
	for _, n := range cfg.FeatureEvents {
		featureEvents[n] = true
	}
	tickets := map[string]Ticket{}
	reach := func(user string, m Milestone, t time.Time) {
		if f.Firsts[user] == nil {
			f.Firsts[user] = map[Milestone]time.Time{}
		}
		if old, ok := f.Firsts[user][m]; !ok || t.Before(old) {
			f.Firsts[user][m] = t
		}
	}
	valueEvents := make(map[string]bool, len(cfg.ValueEvents))
	for _, n := range cfg.ValueEvents {
		valueEvents[n] = true
	}

	bots := map[string]bool{} // user agents repeat: match each once
	for i := range recs {
		r := &recs[i]
		if _, dup := seen[r.MessageID]; dup {
			continue
		}
		seen[r.MessageID] = struct{}{}
		bot, matched := bots[r.Context.UserAgent]
		if !matched {
			bot = IsBot(r.Context.UserAgent)
			bots[r.Context.UserAgent] = bot
		}
		if r.IsActivity() && !bot && r.Visitor() != "" {
			byVisitor[r.Visitor()] = append(byVisitor[r.Visitor()], r)
		}
		if r.Type == event.Identify && r.UserID != "" {
			// created_at may name any day; it is read by the run of the
			// day the identify call falls on.
			if ts, ok := r.CreatedAt(); ok && in(r.Timestamp) {
				reach(string(r.UserID), SignedUp, ts)
			}
		}
		if !in(r.Timestamp) {
			continue
		}
		if r.AnonymousID != "" && r.UserID != "" && string(r.AnonymousID) != string(r.UserID) {
			if old, ok := f.Links[string(r.AnonymousID)]; !ok || string(r.UserID) > old {
				f.Links[string(r.AnonymousID)] = string(r.UserID) // one choice, whatever the order
			}
		}
		subscriptionFacts(r, &f)
		if r.Type == event.Track && r.Event == EventGuidePlayed {
			f.GuidePlays++
		}
		if r.Type == event.Track && r.Event == TicketUpdated && len(r.Properties) > 0 {
			var t Ticket
			if json.Unmarshal(r.Properties, &t) == nil && t.ID != "" && !t.Created.IsZero() {
				if old, ok := tickets[t.ID]; ok {
					tickets[t.ID] = MergeTicket(&old, t)
				} else {
					tickets[t.ID] = t
				}
			}
		}
		traitChanges(r, func(id, name string, c TraitChange) {
			if f.TraitChanges[id] == nil {
				f.TraitChanges[id] = Traits{}
			}
			f.TraitChanges[id][name] = append(f.TraitChanges[id][name], c)
		})
		if r.UserID != "" {
			known[string(r.UserID)] = struct{}{}
			reach(string(r.UserID), FirstSeen, r.Timestamp)
		}
		if r.Type == event.Track && r.User() != "" {
			switch {
			case r.Event == event.SignedUp:
				reach(r.User(), SignedUp, r.Timestamp)
			case r.Event == "Onboarding Completed":
				reach(r.User(), Onboarded, r.Timestamp)
			case r.Event == "Onboarding Step Completed":
				if k := stepIndex(cfg, r.Props()); k > 0 {
					reach(r.User(), StepMilestone(k), r.Timestamp)
				}
			case r.Event == "Training Started" || r.Event == "Training Completed":
				if c := r.Props().Course; c != "" {
					m := TrainingStarted(c)
					if r.Event == "Training Completed" {
						m = TrainingCompleted(c)
					}
					reach(r.User(), m, r.Timestamp)
				}
			}
			if valueEvents[r.Event] {
				reach(r.User(), FirstValue, r.Timestamp)
			}
		}
		if r.Type == event.Track && r.User() != "" {
			name := ""
			if r.Event == "Feature Used" {
				name = r.Props().Feature
			} else if featureEvents[r.Event] {
				name = r.Event
			}
			if name != "" {
				if features[name] == nil {
					features[name] = map[string]struct{}{}
				}
				features[name][r.User()] = struct{}{}
			}
		}
		if r.IsActivity() && r.UserID != "" && (len(activeNames) == 0 || activeNames[activityName(r)]) {
			active[string(r.UserID)] = struct{}{}
			reach(string(r.UserID), FirstActive, r.Timestamp)
		}
		if bot {
			// Bots are out of web metrics. Their survey answers are
			// kept: a survey tool does not send a user agent.
		} else if r.Type == event.Page {
			pageVisitors[r.Visitor()] = struct{}{}
		} else if r.Type == event.Track && r.Event == cfg.ConversionEvent {
			converted[r.Visitor()] = struct{}{}
			f.ConversionEvents++
		}
		if s, ok := r.Survey(); ok && r.User() != "" {
			resp := Response{
				Type: s.Type, SurveyID: string(s.SurveyID), Respondent: r.User(), MessageID: r.MessageID,
				Time: r.Timestamp.UTC(), Score: s.Score, Channel: s.Channel, Touchpoint: s.Touchpoint, Comment: truncate(s.Comment, maxComment),
			}
			if old, ok := responses[resp.Key()]; !ok || resp.Newer(old) {
				responses[resp.Key()] = resp
			}
		}
	}

	f.NextAfter = nextAfter(cfg, recs, in)
	timeout := cfg.SessionTimeout()
	for _, visitor := range slices.Sorted(maps.Keys(byVisitor)) {
		evs := byVisitor[visitor]
		slices.SortFunc(evs, func(a, b *event.Record) int {
			if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
				return c
			}
			return strings.Compare(a.MessageID, b.MessageID)
		})
		first := true
		for i := 0; i < len(evs); {
			j, pages := i, 0
			var firstPage *event.Record
			for {
				if evs[j].Type == event.Page {
					pages++
					if firstPage == nil {
						firstPage = evs[j]
					}
				}
				if j+1 == len(evs) || evs[j+1].Timestamp.Sub(evs[j].Timestamp) > timeout {
					break
				}
				j++
			}
			if in(evs[i].Timestamp) {
				secs := evs[j].Timestamp.Sub(evs[i].Timestamp).Seconds()
				f.Sessions++
				f.SessionPages += pages
				f.SessionSeconds += secs
				dims := sessionDims(evs[i], firstPage)
				for dim, v := range dims {
					byValue := f.SessionsBy[dim]
					if byValue == nil {
						byValue = map[string]SessionStats{}
						f.SessionsBy[dim] = byValue
					}
					st := byValue[v]
					st.Sessions++
					st.Pages += pages
					st.Seconds += secs
					byValue[v] = st
				}
				if first {
					first = false
					for _, dim := range []string{DimSource, DimLandingPage} {
						if f.FirstSession[dim] == nil {
							f.FirstSession[dim] = map[string][]string{}
						}
						f.FirstSession[dim][dims[dim]] = append(f.FirstSession[dim][dims[dim]], visitor)
					}
				}
			}
			i = j + 1
		}
	}
	for _, byValue := range f.FirstSession {
		for _, vs := range byValue {
			slices.Sort(vs)
		}
	}
	for name, users := range features {
		f.Features[name] = sortedKeys(users)
	}
	f.KnownUsers = sortedKeys(known)
	for _, id := range slices.Sorted(maps.Keys(tickets)) {
		f.Tickets = append(f.Tickets, tickets[id])
	}

	f.ActiveUsers = sortedKeys(active)
	f.PageVisitors = sortedKeys(pageVisitors)
	f.ConvertedVisitors = sortedKeys(converted)
	for _, r := range responses {
		f.Responses = append(f.Responses, r)
	}
	slices.SortFunc(f.Responses, func(a, b Response) int { return strings.Compare(a.Key(), b.Key()) })
	return f
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

// sessionDims are a session's values of each session dimension: source and
// device of its first event, content type and path of its first page.
func sessionDims(first, firstPage *event.Record) map[string]string {
	dims := map[string]string{
		DimSource:      TrafficSource(first.Context.Campaign.Source, first.Context.Campaign.Medium, first.Referrer(), first.PageURL()),
		DimDevice:      Device(first.Context.Device.Type, first.Context.UserAgent, first.Type),
		DimContentType: none,
		DimLandingPage: none,
	}
	if firstPage != nil {
		if ct := firstPage.Props().ContentType; ct != "" {
			dims[DimContentType] = ct
		}
		if p := firstPage.PagePath(); p != "" {
			dims[DimLandingPage] = p
		}
	}
	return dims
}

// Identities are every user and visitor id the day's facts name, sorted
// and distinct: those that need an ordinal.
func (f Facts) Identities() []string {
	all := slices.Concat(f.ActiveUsers, f.PageVisitors, f.ConvertedVisitors, f.KnownUsers, slices.Collect(maps.Keys(f.Firsts)))
	for _, users := range f.Features {
		all = append(all, users...)
	}
	for _, byValue := range f.FirstSession {
		for _, vs := range byValue {
			all = append(all, vs...)
		}
	}
	all = append(all, slices.Collect(maps.Keys(f.TraitChanges))...)
	for _, r := range f.Responses {
		all = append(all, r.Respondent)
	}
	slices.Sort(all)
	return slices.Compact(all)
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

// nextAfter finds, for each user's earliest signup and step completion of
// the day, the user's next event in the window: where they went next.
func nextAfter(cfg Config, recs []event.Record, in func(time.Time) bool) map[string]map[int]Next {
	type mark struct {
		at  time.Time
		mid string
	}
	steps := map[string]map[int]mark{}
	byUser := map[string][]*event.Record{}
	dup := map[string]bool{}
	for i := range recs {
		r := &recs[i]
		if dup[r.MessageID] || r.User() == "" {
			continue
		}
		dup[r.MessageID] = true
		if r.Type == event.Identify || r.Type == event.Group || r.Type == event.Alias {
			continue
		}
		byUser[r.User()] = append(byUser[r.User()], r)
		if r.Type != event.Track || !in(r.Timestamp) {
			continue
		}
		k := -1
		switch r.Event {
		case event.SignedUp:
			k = 0
		case "Onboarding Step Completed":
			if s := stepIndex(cfg, r.Props()); s > 0 {
				k = s
			}
		}
		if k < 0 {
			continue
		}
		if steps[r.User()] == nil {
			steps[r.User()] = map[int]mark{}
		}
		if old, ok := steps[r.User()][k]; !ok || r.Timestamp.Before(old.at) || (r.Timestamp.Equal(old.at) && r.MessageID < old.mid) {
			steps[r.User()][k] = mark{r.Timestamp, r.MessageID}
		}
	}
	out := map[string]map[int]Next{}
	for u, ks := range steps {
		evs := byUser[u]
		slices.SortFunc(evs, func(a, b *event.Record) int {
			if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
				return c
			}
			return strings.Compare(a.MessageID, b.MessageID)
		})
		for k, m := range ks {
			for _, e := range evs {
				if e.Timestamp.Before(m.at) || (e.Timestamp.Equal(m.at) && e.MessageID <= m.mid) {
					continue
				}
				if e.Type == event.Track && e.Event == "Onboarding Step Completed" && stepIndex(cfg, e.Props()) == k {
					continue // the same step again
				}
				if out[u] == nil {
					out[u] = map[int]Next{}
				}
				out[u][k] = Next{After: m.at, Label: label(e)}
				break
			}
		}
	}
	return out
}

// label names an event for drop-off paths.
func label(r *event.Record) string {
	switch r.Type {
	case event.Page:
		if p := r.PagePath(); p != "" {
			return "page:" + p
		}
		return "page"
	case event.Screen:
		return "screen:" + r.Name
	}
	return r.Event
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
