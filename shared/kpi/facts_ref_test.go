package kpi

// The nightly run's facts as ComputeDay computed them before DayBuilder:
// every record of the window held at once, a messageId seen once in the
// window, sessions and next steps grouped from the records. Kept as the
// oracle DayBuilder is tested against (TestDayBuilderSameAsReference,
// FuzzDayBuilder); the one change is the order of equal times, by the
// messageId's hash (as DayBuilder orders them) rather than by its text.

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/uptakehq/uptake/shared/event"
)

func h32(s string) uint32 { return uint32(xxhash.Sum64String(s)) }

// ComputeDayRef exports the reference to the external tests.
var ComputeDayRef = computeDayRef

// ComputeDay computes the facts of day from recs, which must hold every
// event from a day before the day's start to a day after its end (sessions
// reach across midnight) in arrival order. A repeated messageId counts
// once: the first arrival wins.
//
// Sessions are cut by inactivity only. A session is followed back and
// forward within the window, so one that runs without a 30-minute break for
// more than a day is the only kind counted from part of its events.
func computeDayRef(cfg Config, day Day, recs []event.Record) Facts {
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
	f := Facts{Day: day, Firsts: map[string]Reached{}, NextAfter: map[string]map[int]Next{}, Links: map[string]string{}, TraitChanges: map[string]Traits{}, Features: map[string][]string{}, SessionsBy: map[string]map[string]SessionStats{}, FirstSession: map[string]map[string][]string{}}
	known := map[string]struct{}{}
	features := map[string]map[string]struct{}{}
	featureEvents := make(map[string]bool, len(cfg.FeatureEvents))
	for _, n := range cfg.FeatureEvents {
		featureEvents[n] = true
	}
	tickets := map[string]Ticket{}
	reach := func(user string, m Milestone, t time.Time) {
		r := f.Firsts[user]
		if r.Reach(m, t) {
			f.Firsts[user] = r
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

	f.NextAfter = nextAfterRef(cfg, recs, in)
	timeout := cfg.SessionTimeout()
	for _, visitor := range slices.Sorted(maps.Keys(byVisitor)) {
		evs := byVisitor[visitor]
		slices.SortFunc(evs, func(a, b *event.Record) int {
			if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
				return c
			}
			return cmp.Compare(h32(a.MessageID), h32(b.MessageID))
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
				dims := sessionDimsRef(evs[i], firstPage)
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

// sessionDims are a session's values of each session dimension: source and
// device of its first event, content type and path of its first page.
func sessionDimsRef(first, firstPage *event.Record) map[string]string {
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

// nextAfter finds, for each user's earliest signup and step completion of
// the day, the user's next event in the window: where they went next.
func nextAfterRef(cfg Config, recs []event.Record, in func(time.Time) bool) map[string]map[int]Next {
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
		if old, ok := steps[r.User()][k]; !ok || r.Timestamp.Before(old.at) || (r.Timestamp.Equal(old.at) && h32(r.MessageID) < h32(old.mid)) {
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
			return cmp.Compare(h32(a.MessageID), h32(b.MessageID))
		})
		for k, m := range ks {
			for _, e := range evs {
				if e.Timestamp.Before(m.at) || (e.Timestamp.Equal(m.at) && h32(e.MessageID) <= h32(m.mid)) {
					continue
				}
				if e.Type == event.Track && e.Event == "Onboarding Step Completed" && stepIndex(cfg, e.Props()) == k {
					continue // the same step again
				}
				if out[u] == nil {
					out[u] = map[int]Next{}
				}
				out[u][k] = Next{After: m.at, Label: labelRef(e)}
				break
			}
		}
	}
	return out
}

// label names an event for drop-off paths.
func labelRef(r *event.Record) string {
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
