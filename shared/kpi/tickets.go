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

// calendarTime is the time from a ticket's creation to end(t) in unit,
// false when end has not happened (or is before the creation).
func calendarTime(t Ticket, end func(Ticket) *time.Time, unit time.Duration) (float64, bool) {
	e := end(t)
	if e == nil || e.Before(t.Created) {
		return 0, false
	}
	return float64(e.Sub(t.Created)) / float64(unit), true
}

// Ticket duration lists: a day part lists the calendar times to first
// response (minutes) and to resolution (hours) of its tickets, in their
// order, so that first_response_time and resolution_time without a
// filter, a breakdown or business hours (which the configuration sets at
// query time) read the lists, not the tickets. BuildMonth concatenates
// lists in day order, as the tickets, so the times come in the order the
// tickets would give them, and their mean is the same float64.
// A day part also lists when its tickets were resolved (ListResolvedAt,
// Unix milliseconds rounded down, whole numbers a float64 holds exactly),
// so that resolution_rate without a filter or a breakdown counts those
// before the range's end (a whole second: a time is before it exactly
// when its milliseconds rounded down are) without reading the tickets.
// CounterTicketDurations is 1 on a day part with the lists (a month part
// has them for each of its days when it equals Days); a part without them
// is timed from its tickets, and a month part without them for each of
// its days is read as its days (Requires).
const (
	ListFirstResponseMinutes = "ticket_first_response_minutes"
	ListResolutionHours      = "ticket_resolution_hours"
	ListResolvedAt           = "ticket_resolved_ms"
	CounterTicketDurations   = "ticket_durations"
)

// floorMilli is t in Unix milliseconds, rounded down.
func floorMilli(t time.Time) float64 {
	ms := t.UnixMilli()
	if t.Before(time.UnixMilli(ms)) {
		ms--
	}
	return float64(ms)
}

// ticketDurations are the duration KPIs read from lists.
var ticketDurations = map[string]struct {
	list string
	end  func(Ticket) *time.Time
	unit time.Duration
}{
	"first_response_time": {ListFirstResponseMinutes, firstResponse, time.Minute},
	"resolution_time":     {ListResolutionHours, resolved, time.Hour},
}

// Escalated tickets depend on the configuration (EscalationTag): a day
// part lists the first response times of those escalated under the
// configuration it was built with (ListEscalatedMinutes), and names its
// tag in a counter (EscalationCounter), so that escalation_response_time
// reads the list only from parts built with the tag of the query's
// configuration, and the tickets of the others.
const ListEscalatedMinutes = "ticket_escalated_first_response_minutes"

// EscalationCounter names the counter, 1 on a day part, of the escalation
// tag its list was made with.
func EscalationCounter(tag string) string { return "ticket_escalation_tag=" + tag }

// ticketLists lists the day's ticket durations and resolution times into
// p, and the escalated tickets' response times under cfg.
func ticketLists(p *Part, cfg Config) {
	p.Counters[CounterTicketDurations] = 1
	p.Counters[EscalationCounter(cfg.EscalationTag)] = 1
	for _, t := range p.Tickets {
		if x, ok := calendarTime(t, firstResponse, time.Minute); ok && escalated(cfg, t) {
			p.Lists[ListEscalatedMinutes] = append(p.Lists[ListEscalatedMinutes], x)
		}
	}
	for _, t := range p.Tickets {
		if t.Resolved != nil {
			p.Lists[ListResolvedAt] = append(p.Lists[ListResolvedAt], floorMilli(*t.Resolved))
		}
	}
	for _, d := range ticketDurations {
		for _, t := range p.Tickets {
			if x, ok := calendarTime(t, d.end, d.unit); ok {
				p.Lists[d.list] = append(p.Lists[d.list], x)
			}
		}
	}
}

// listsFit reports whether a duration KPI is read from the lists.
func listsFit(in Input) bool { return plain(in) && in.Config.BusinessHours == nil }

func durationFields(in Input) Fields {
	if listsFit(in) {
		return FieldLists
	}
	return FieldTickets
}

func durationRequires(in Input) []string {
	if listsFit(in) {
		return []string{CounterTicketDurations}
	}
	return nil
}

// listedDurations are the times of a duration KPI over the range's parts:
// from the lists of the parts that have them, from the tickets of the
// others.
func listedDurations(in Input, id string) []float64 {
	d := ticketDurations[id]
	var cal []float64
	for _, p := range in.CoverRange() {
		if p.Holds([]string{CounterTicketDurations}) {
			cal = append(cal, p.Lists[d.list]...)
			continue
		}
		for _, t := range p.Tickets {
			if x, ok := calendarTime(t, d.end, d.unit); ok {
				cal = append(cal, x)
			}
		}
	}
	return cal
}

// durations summarises times between two moments of each ticket, in unit,
// in calendar time and, with business hours, in business time.
func durations(in Input, ts []Ticket, end func(Ticket) *time.Time, unit time.Duration, name string) Result {
	var cal, biz []float64
	for _, t := range ts {
		x, ok := calendarTime(t, end, unit)
		if !ok {
			continue
		}
		cal = append(cal, x)
		if in.Config.BusinessHours != nil {
			biz = append(biz, float64(in.Config.BusinessHours.Between(t.Created, *end(t)))/float64(unit))
		}
	}
	return timesResult(in, cal, biz, name)
}

// timesResult is the summary of calendar and business times.
func timesResult(in Input, cal, biz []float64, name string) Result {
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
	if listsFit(in) {
		return timesResult(in, listedDurations(in, "first_response_time"), nil, "minutes")
	}
	return ticketKPI(in, func(ts []Ticket) Result { return durations(in, ts, firstResponse, time.Minute, "minutes") })
}

func evalResolutionTime(in Input) Result {
	if listsFit(in) {
		return timesResult(in, listedDurations(in, "resolution_time"), nil, "hours")
	}
	return ticketKPI(in, func(ts []Ticket) Result { return durations(in, ts, resolved, time.Hour, "hours") })
}

// escalated reports whether a ticket is escalated: urgent, or tagged with
// the configured escalation tag.
func escalated(cfg Config, t Ticket) bool {
	return strings.EqualFold(t.Priority, "urgent") || slices.Contains(t.Tags, cfg.EscalationTag)
}

// escalationRequires: the escalation list of the configured tag.
func escalationRequires(in Input) []string {
	if listsFit(in) {
		return []string{CounterTicketDurations, EscalationCounter(in.Config.EscalationTag)}
	}
	return nil
}

func evalEscalation(in Input) Result {
	if listsFit(in) {
		var cal []float64
		for _, p := range in.CoverRange() {
			if p.Holds(escalationRequires(in)) {
				cal = append(cal, p.Lists[ListEscalatedMinutes]...)
				continue
			}
			for _, t := range p.Tickets {
				if x, ok := calendarTime(t, firstResponse, time.Minute); ok && escalated(in.Config, t) {
					cal = append(cal, x)
				}
			}
		}
		return timesResult(in, cal, nil, "minutes")
	}
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
	rate := func(done, n float64) Result {
		return Result{Value: ratio(done, n, 100), Numerator: done, Denominator: n, Details: map[string]any{"resolved": done, "created": n}}
	}
	if plain(in) {
		// Whole counts: the sums are the same in any order.
		endMs := floorMilli(end)
		var done, n float64
		for _, p := range in.CoverRange() {
			if p.Holds([]string{CounterTicketDurations}) {
				n += p.Counters[CounterTickets]
				for _, ms := range p.Lists[ListResolvedAt] {
					if ms < endMs {
						done++
					}
				}
				continue
			}
			for _, t := range p.Tickets {
				n++
				if t.Resolved != nil && t.Resolved.Before(end) {
					done++
				}
			}
		}
		return rate(done, n)
	}
	return ticketKPI(in, func(ts []Ticket) Result {
		var done float64
		for _, t := range ts {
			if t.Resolved != nil && t.Resolved.Before(end) {
				done++
			}
		}
		return rate(done, float64(len(ts)))
	})
}

func resolutionRateFields(in Input) Fields {
	if plain(in) {
		return FieldLists
	}
	return FieldTickets
}

func resolutionRateRequires(in Input) []string {
	if plain(in) {
		return []string{CounterTicketDurations}
	}
	return nil
}

// repeatWindow is how close two tickets of a requester must be to count as
// a repeat contact.
const repeatWindow = 7 * 24 * time.Hour

func evalRepeatContact(in Input) Result {
	if plain(in) {
		return repeatContacts(in)
	}
	return ticketKPI(in, func(ts []Ticket) Result {
		byRequester := map[string][]time.Time{}
		for _, t := range ts {
			if t.Requester != "" {
				byRequester[t.Requester] = append(byRequester[t.Requester], t.Created)
			}
		}
		var repeat float64
		for _, times := range byRequester {
			if repeats(times) {
				repeat++
			}
		}
		return repeatResult(repeat, float64(len(byRequester)))
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
