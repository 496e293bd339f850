package load

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
)

// entry is what the ledger keeps of an acknowledged message: what the
// checked KPIs read of it, as the stored message says it.
type entry struct {
	typ, event, name    string // Segment type; track event; page or screen name
	userID, anonymousID string
	at                  time.Time
	survey              *answer // a `Survey Responded` from the survey webhook
	ticket              *ticketRef
}

// answer is a survey answer.
type answer struct {
	typ, surveyID string
	score         int
}

// ticketRef is the ticket a `Ticket Updated` message is about.
type ticketRef struct {
	id      string
	created time.Time
}

// Ledger is the set of messages the API acknowledged, by messageId. It is
// safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	entries map[string]entry
	acks    int // acknowledged deliveries, resends included
}

func newLedger() *Ledger { return &Ledger{entries: map[string]entry{}} }

// add records an acknowledged delivery of the message id.
func (l *Ledger) add(id string, e entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[id] = e
	l.acks++
}

// Messages is the number of distinct messages acknowledged.
func (l *Ledger) Messages() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Deliveries is the number of acknowledged deliveries, resends included.
func (l *Ledger) Deliveries() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks
}

// ids returns the set of acknowledged messageIds.
func (l *Ledger) ids() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.entries))
	for id := range l.entries {
		out[id] = true
	}
	return out
}

// rules are the tenant's settings that the checked KPIs depend on.
type rules struct {
	loc            *time.Location
	sessionTimeout time.Duration
	activeEvents   map[string]bool // empty: every track, page and screen call
	csatMin        int             // CSAT scale; the top two values are positive
	csatMax        int
}

func rulesOf(cfg kpi.Config) (rules, error) {
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return rules{}, err
	}
	r := rules{loc: loc, sessionTimeout: time.Duration(cfg.SessionTimeoutMinutes) * time.Minute, activeEvents: map[string]bool{},
		csatMin: cfg.CSATScaleMin, csatMax: cfg.CSATScaleMax}
	for _, n := range cfg.ActiveEvents {
		r.activeEvents[n] = true
	}
	return r, nil
}

// Counts are the checked KPI figures of one day.
type Counts struct {
	DAU, Sessions                   float64
	Promoters, Passives, Detractors float64 // NPS answers
	CSATResponses, CSATPositive     float64
	Tickets                         float64 // ticket_volume: tickets created
}

func (c Counts) minus(o Counts) Counts {
	return Counts{c.DAU - o.DAU, c.Sessions - o.Sessions, c.Promoters - o.Promoters, c.Passives - o.Passives, c.Detractors - o.Detractors,
		c.CSATResponses - o.CSATResponses, c.CSATPositive - o.CSATPositive, c.Tickets - o.Tickets}
}

// fields names the figures, in the report's order.
func (c Counts) fields() []field {
	return []field{
		{"dau", c.DAU}, {"sessions", c.Sessions},
		{"nps promoters", c.Promoters}, {"nps passives", c.Passives}, {"nps detractors", c.Detractors},
		{"csat responses", c.CSATResponses}, {"csat positive", c.CSATPositive},
		{"ticket_volume", c.Tickets},
	}
}

type field struct {
	name  string
	value float64
}

// isActivity is event.Record.IsActivity: track, page and screen calls,
// ticket updates excepted.
func (e entry) isActivity() bool {
	return e.typ == event.Page || e.typ == event.Screen || (e.typ == event.Track && e.event != event.TicketUpdated)
}

func (e entry) activityName() string {
	if e.typ == event.Track {
		return e.event
	}
	return e.name
}

// visitor is the entry's visitor: its anonymousId, else its userId.
func (e entry) visitor() string { return cmp.Or(e.anonymousID, e.userID) }

// expect computes, from the ledger alone, the checked figures of each day
// as kpis.md defines them: DAU, the distinct userIds with an activity
// event on the day; sessions, the runs of a visitor's activity events
// with no gap over the timeout, on the day of their first event; survey
// answers, the latest of each respondent for each survey, on its day;
// tickets, on the day they were created.
func (l *Ledger) expect(r rules) map[kpi.Day]Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[kpi.Day]Counts{}
	day := func(t time.Time) kpi.Day { return kpi.DayOf(t, r.loc) }
	type at struct {
		t  time.Time
		id string
	}
	active := map[kpi.Day]map[string]bool{}
	byVisitor := map[string][]at{}
	type surveyKey struct{ typ, surveyID, respondent string }
	latest := map[surveyKey]at{}
	tickets := map[string]time.Time{}
	for id, e := range l.entries {
		if e.isActivity() {
			if e.userID != "" && (len(r.activeEvents) == 0 || r.activeEvents[e.activityName()]) {
				d := day(e.at)
				if active[d] == nil {
					active[d] = map[string]bool{}
				}
				active[d][e.userID] = true
			}
			if v := e.visitor(); v != "" {
				byVisitor[v] = append(byVisitor[v], at{e.at, id})
			}
		}
		if e.survey != nil {
			k := surveyKey{e.survey.typ, e.survey.surveyID, e.userID}
			if old, ok := latest[k]; !ok || e.at.After(old.t) || (e.at.Equal(old.t) && id > old.id) {
				latest[k] = at{e.at, id}
			}
		}
		if e.ticket != nil {
			tickets[e.ticket.id] = e.ticket.created
		}
	}
	for d, users := range active {
		c := out[d]
		c.DAU = float64(len(users))
		out[d] = c
	}
	for _, evs := range byVisitor {
		slices.SortFunc(evs, func(a, b at) int {
			return cmp.Or(a.t.Compare(b.t), strings.Compare(a.id, b.id))
		})
		for i, ev := range evs {
			if i == 0 || ev.t.Sub(evs[i-1].t) > r.sessionTimeout {
				d := day(ev.t)
				c := out[d]
				c.Sessions++
				out[d] = c
			}
		}
	}
	for _, a := range latest {
		e := l.entries[a.id]
		d := day(e.at)
		c := out[d]
		switch e.survey.typ {
		case "nps":
			switch {
			case e.survey.score >= 9:
				c.Promoters++
			case e.survey.score >= 7:
				c.Passives++
			default:
				c.Detractors++
			}
		case "csat":
			c.CSATResponses++
			if e.survey.score >= r.csatMax-1 {
				c.CSATPositive++
			}
		}
		out[d] = c
	}
	for _, created := range tickets {
		d := day(created)
		c := out[d]
		c.Tickets++
		out[d] = c
	}
	return out
}

// sortedDays returns the days of a map, in order.
func sortedDays[V any](m map[kpi.Day]V) []kpi.Day {
	return slices.SortedFunc(maps.Keys(m), func(a, b kpi.Day) int { return strings.Compare(a.String(), b.String()) })
}
