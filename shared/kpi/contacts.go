package kpi

import (
	"maps"
	"slices"
	"time"
)

// Contact summaries
//
// repeat_contact_rate counts the requesters of the tickets created in its
// range, and those of them with two of those tickets created within
// repeatWindow of each other. A month part summarises its tickets for it
// (Contacts): its requesters, those with two of its tickets within the
// window, and the tickets that may pair with a ticket of another part:
// those created within edgeWindow of the month's start or end. A ticket
// sits in the part of its creation day in the tenant's zone (UTC−12 to
// UTC+14, whatever zone a part was built with), so a ticket of a later
// part was created after the month's end (UTC) less 14 hours, and one of
// an earlier part before its start plus 12 hours: a ticket of the month
// created more than edgeWindow after its start and before its end pairs
// with no ticket outside it. The requesters' tickets read from the parts
// of a range (every ticket of day parts, the edge tickets of month parts)
// are real tickets of the range, and hold both tickets of any requester's
// two consecutive tickets within the window that lie in different parts:
// with the month parts' repeat requesters, the count is the same as from
// every ticket (TestContactsExact).
//
// CounterContacts equals Days on a month part with the summary; a month
// part merged before it is read as its days (Requires). A query with a
// filter or a breakdown reads the tickets.

// CounterContacts is the marker counter of Contacts (one per day merged).
const CounterContacts = "summary_contacts"

// edgeWindow is how close to a month's start or end a ticket must be
// created to be kept as an edge ticket: the repeat window and a day.
const edgeWindow = repeatWindow + 24*time.Hour

// Contacts is a month part's summary of its tickets' requesters.
type Contacts struct {
	// Requesters are the requesters of the month's tickets, sorted;
	// Repeat, those with two of them created within repeatWindow.
	Requesters []string `json:"requesters"`
	Repeat     []string `json:"repeat,omitempty"`
	// Edge are the tickets created within edgeWindow of the month's
	// start or end.
	Edge []Contact `json:"edge,omitempty"`
}

// Contact is a requester's ticket, by its creation time.
type Contact struct {
	Requester string    `json:"r"`
	Created   time.Time `json:"t"`
}

// summarizeContacts adds the summary of the tickets of days (one month's)
// to their month part m.
func summarizeContacts(m *Part, days []Part) {
	start := MonthOf(days[0].Day).Start(time.UTC)
	end := NextMonth(days[0].Day).Start(time.UTC)
	times := map[string][]time.Time{}
	c := &Contacts{}
	for _, p := range days {
		for _, t := range p.Tickets {
			if t.Requester == "" {
				continue
			}
			times[t.Requester] = append(times[t.Requester], t.Created)
			if t.Created.Before(start.Add(edgeWindow)) || !t.Created.Before(end.Add(-edgeWindow)) {
				c.Edge = append(c.Edge, Contact{Requester: t.Requester, Created: t.Created})
			}
		}
	}
	c.Requesters = slices.Sorted(maps.Keys(times))
	for _, r := range c.Requesters {
		if repeats(times[r]) {
			c.Repeat = append(c.Repeat, r)
		}
	}
	m.Contacts = c
	m.Counters[CounterContacts] = float64(len(days))
}

// repeats reports whether two of times are within repeatWindow of each
// other; it sorts times.
func repeats(times []time.Time) bool {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(times); i++ {
		if times[i].Sub(times[i-1]) <= repeatWindow {
			return true
		}
	}
	return false
}

func contactsFields(in Input) Fields {
	if plain(in) {
		return FieldContacts
	}
	return FieldTickets
}

func contactsRequires(in Input) []string {
	if plain(in) {
		return []string{CounterContacts}
	}
	return nil
}

// repeatContacts is repeat_contact_rate without a filter or a breakdown:
// from the Contacts of month parts that have them, from the tickets of
// the other parts.
func repeatContacts(in Input) Result {
	times := map[string][]time.Time{}
	repeat := map[string]bool{}
	for _, p := range in.CoverRange() {
		if p.IsMonth() && p.Contacts != nil && p.Holds([]string{CounterContacts}) {
			for _, r := range p.Contacts.Requesters {
				if _, ok := times[r]; !ok {
					times[r] = nil
				}
			}
			for _, r := range p.Contacts.Repeat {
				repeat[r] = true
			}
			for _, c := range p.Contacts.Edge {
				times[c.Requester] = append(times[c.Requester], c.Created)
			}
			continue
		}
		for _, t := range p.Tickets {
			if t.Requester != "" {
				times[t.Requester] = append(times[t.Requester], t.Created)
			}
		}
	}
	var n float64
	for r, ts := range times {
		if repeat[r] || repeats(ts) {
			n++
		}
	}
	return repeatResult(n, float64(len(times)))
}

func repeatResult(repeat, n float64) Result {
	return Result{Value: ratio(repeat, n, 100), Numerator: repeat, Denominator: n,
		Details: map[string]any{"requesters": n, "repeat_requesters": repeat}}
}
