package kpi

import (
	"cmp"

	"github.com/uptakehq/uptake/shared/event"
	"slices"
	"strings"
	"time"
)

// TicketUpdated is the track event a ticket update becomes.
const TicketUpdated = event.TicketUpdated

// Ticket is a support ticket's state as of its latest update.
type Ticket struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	Channel       string     `json:"channel,omitempty"`
	Priority      string     `json:"priority,omitempty"`
	Tags          []string   `json:"tags,omitempty"`
	Requester     string     `json:"requester,omitempty"`
	Account       string     `json:"account,omitempty"`
	Created       time.Time  `json:"created_at"`
	Updated       time.Time  `json:"updated_at"`
	FirstResponse *time.Time `json:"first_response_at,omitempty"`
	// AccountOrd is the ordinal of the ticket's account, set when a day's
	// part is built.
	AccountOrd *uint32    `json:"acct_ord,omitempty"`
	Resolved   *time.Time `json:"resolved_at,omitempty"`
}

// Newer reports whether t replaces o: a later provider update time, or at
// the same time the greater state, so the choice never depends on arrival
// order.
func (t Ticket) Newer(o Ticket) bool {
	if !t.Updated.Equal(o.Updated) {
		return t.Updated.After(o.Updated)
	}
	return t.Key() > o.Key()
}

// Key is a canonical text of the state, to break ties.
func (t Ticket) Key() string {
	fr, rs := "", ""
	if t.FirstResponse != nil {
		fr = t.FirstResponse.UTC().Format(time.RFC3339Nano)
	}
	if t.Resolved != nil {
		rs = t.Resolved.UTC().Format(time.RFC3339Nano)
	}
	return strings.Join([]string{t.Status, t.Channel, t.Priority, strings.Join(t.Tags, ","), t.Requester, t.Account, fr, rs}, "\x00")
}

// Ticket dimensions.
const (
	DimTag      = "tag"
	DimPriority = "priority"
)

var ticketDims = []string{DimChannel, DimTag, DimPriority}

func ticketValues(t Ticket, dim string) []string {
	var v []string
	switch dim {
	case DimChannel:
		v = []string{t.Channel}
	case DimPriority:
		v = []string{t.Priority}
	case DimTag:
		v = t.Tags
	}
	if len(v) == 0 || (len(v) == 1 && v[0] == "") {
		return []string{none}
	}
	return v
}

// ticketKPI evaluates a ticket KPI over the tickets created in the range,
// honouring filters and a breakdown (a ticket with two tags counts in both
// rows).
func ticketKPI(in Input, f func([]Ticket) Result) Result {
	var ts []Ticket
	for _, p := range in.CoverRange() {
		for _, t := range p.Tickets {
			keep := true
			for _, flt := range in.Filters {
				keep = keep && slices.Contains(ticketValues(t, flt.Dim), flt.Value)
			}
			if keep {
				ts = append(ts, t)
			}
		}
	}
	res := f(ts)
	if in.Breakdown != "" {
		res.Breakdown = breakdownRows(ts, func(t Ticket) []string { return ticketValues(t, in.Breakdown) }, f)
	}
	return res
}

// Ticket counters: CounterTickets is the number of tickets created on a
// day (those of Part.Tickets), so that ticket_volume without a filter or a
// breakdown reads no ticket; CounterTicketCounts is 1 on a day part that
// has it (a month part has it for each of its days when it equals Days).
// A part built before them is counted from its tickets, and a month part
// without them for each of its days is read as its days (Requires), as
// for the score histograms (surveys.go).
const (
	CounterTickets      = "tickets"
	CounterTicketCounts = "ticket_counts"
)

func ticketVolumeFields(in Input) Fields {
	if plain(in) {
		return 0
	}
	return FieldTickets
}

func ticketVolumeRequires(in Input) []string {
	if plain(in) {
		return []string{CounterTicketCounts}
	}
	return nil
}

func evalTicketVolume(in Input) Result {
	count := func(n float64) Result {
		return Result{Value: &n, Numerator: n, Denominator: 1, Details: map[string]any{}}
	}
	if plain(in) {
		// Whole numbers: the sum is the same in any order.
		n := 0.0
		for _, p := range in.CoverRange() {
			if p.Holds([]string{CounterTicketCounts}) {
				n += p.Counters[CounterTickets]
			} else {
				n += float64(len(p.Tickets))
			}
		}
		return count(n)
	}
	return ticketKPI(in, func(ts []Ticket) Result { return count(float64(len(ts))) })
}

// durations summarises times between two moments of each ticket, in unit,
// in calendar time and, with business hours, in business time.
func durations(in Input, ts []Ticket, end func(Ticket) *time.Time, unit time.Duration, name string) Result {
	var cal, biz []float64
	for _, t := range ts {
		e := end(t)
		if e == nil || e.Before(t.Created) {
			continue
		}
		cal = append(cal, float64(e.Sub(t.Created))/float64(unit))
		if in.Config.BusinessHours != nil {
			biz = append(biz, float64(in.Config.BusinessHours.Between(t.Created, *e))/float64(unit))
		}
	}
	n := float64(len(cal))
	sum := 0.0
	for _, x := range cal {
		sum += x
	}
	details := map[string]any{"mean_" + name: mean(cal), "median_" + name: Median(cal), "tickets": n}
	if in.Config.BusinessHours != nil {
		details["business_mean_"+name] = mean(biz)
		details["business_median_"+name] = Median(biz)
	}
	return Result{Value: mean(cal), Numerator: sum, Denominator: n, Details: details}
}

func firstResponse(t Ticket) *time.Time { return t.FirstResponse }
func resolved(t Ticket) *time.Time      { return t.Resolved }

func evalFirstResponse(in Input) Result {
	return ticketKPI(in, func(ts []Ticket) Result { return durations(in, ts, firstResponse, time.Minute, "minutes") })
}

func evalResolutionTime(in Input) Result {
	return ticketKPI(in, func(ts []Ticket) Result { return durations(in, ts, resolved, time.Hour, "hours") })
}

// escalated reports whether a ticket is escalated: urgent, or tagged with
// the configured escalation tag.
func escalated(cfg Config, t Ticket) bool {
	return strings.EqualFold(t.Priority, "urgent") || slices.Contains(t.Tags, cfg.EscalationTag)
}

func evalEscalation(in Input) Result {
	return ticketKPI(in, func(ts []Ticket) Result {
		var esc []Ticket
		for _, t := range ts {
			if escalated(in.Config, t) {
				esc = append(esc, t)
			}
		}
		return durations(in, esc, firstResponse, time.Minute, "minutes")
	})
}

func evalResolutionRate(in Input) Result {
	end := in.To.End(in.Config.Location())
	return ticketKPI(in, func(ts []Ticket) Result {
		var done float64
		for _, t := range ts {
			if t.Resolved != nil && t.Resolved.Before(end) {
				done++
			}
		}
		n := float64(len(ts))
		return Result{Value: ratio(done, n, 100), Numerator: done, Denominator: n, Details: map[string]any{"resolved": done, "created": n}}
	})
}

// repeatWindow is how close two tickets of a requester must be to count as
// a repeat contact.
const repeatWindow = 7 * 24 * time.Hour

func evalRepeatContact(in Input) Result {
	return ticketKPI(in, func(ts []Ticket) Result {
		byRequester := map[string][]time.Time{}
		for _, t := range ts {
			if t.Requester != "" {
				byRequester[t.Requester] = append(byRequester[t.Requester], t.Created)
			}
		}
		var repeat float64
		for _, times := range byRequester {
			slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			for i := 1; i < len(times); i++ {
				if times[i].Sub(times[i-1]) <= repeatWindow {
					repeat++
					break
				}
			}
		}
		n := float64(len(byRequester))
		return Result{Value: ratio(repeat, n, 100), Numerator: repeat, Denominator: n,
			Details: map[string]any{"requesters": n, "repeat_requesters": repeat}}
	})
}

// sortTickets orders tickets by id, for stable parts.
func sortTickets(ts []Ticket) {
	slices.SortFunc(ts, func(a, b Ticket) int { return cmp.Compare(a.ID, b.ID) })
}

// MergeTicket folds an update into a ticket's stored state, the same
// whatever order updates arrive in: the state of the latest update, with
// the earliest creation time and the earliest first response any update
// reported (tools tell the first response only on the comment's event).
func MergeTicket(old *Ticket, t Ticket) Ticket {
	if old == nil {
		return t
	}
	merged := *old
	if t.Newer(*old) {
		merged = t
	}
	if old.Created.Before(t.Created) {
		merged.Created = old.Created
	} else {
		merged.Created = t.Created
	}
	merged.FirstResponse = earliest(old.FirstResponse, t.FirstResponse)
	return merged
}

func earliest(a, b *time.Time) *time.Time {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.Before(*a):
		return b
	}
	return a
}
