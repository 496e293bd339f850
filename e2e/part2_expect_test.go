package e2e

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The reference of TestSurveysTicketsSubscriptions: every reading
// computed by brute force from what was sent, following kpis.md and the
// hand-computed cases of shared/aggregate/testdata.

// p2Ticket is a ticket's latest state.
type p2Ticket struct {
	id, channel, priority, requester string
	tags                             []string
	created, updated                 time.Time
	first, resolved                  *time.Time
}

type p2Ref struct {
	d       *p2Data
	resps   []p2Resp // the answers no later answer replaced
	tickets []p2Ticket
	subs    map[string][]p2Sub // by account, in time order
}

func p2Day(t time.Time) int { return int(t.Sub(p2Start) / (24 * time.Hour)) }

func p2DayStr(d int) string { return p2Start.AddDate(0, 0, d).Format(time.DateOnly) }

func p2DayStart(d int) time.Time { return p2Start.AddDate(0, 0, d) }

func p2Parse(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func newP2Ref(d *p2Data) *p2Ref {
	ref := &p2Ref{d: d, subs: map[string][]p2Sub{}}
	latest := map[string]p2Resp{}
	for _, r := range d.resps {
		k := r.typ + "|" + r.survey + "|" + r.respondent
		if old, ok := latest[k]; !ok || r.at.After(old.at) || (r.at.Equal(old.at) && r.msgID > old.msgID) {
			latest[k] = r
		}
	}
	for _, k := range slices.Sorted(maps.Keys(latest)) {
		ref.resps = append(ref.resps, latest[k])
	}
	last := map[string]p2TicketUpdate{}
	for _, u := range d.updates {
		if old, ok := last[u.ID]; !ok || p2Parse(u.UpdatedAt).After(p2Parse(old.UpdatedAt)) {
			last[u.ID] = u
		}
	}
	for _, id := range slices.Sorted(maps.Keys(last)) {
		u := last[id]
		t := p2Ticket{id: id, channel: strings.ToLower(u.Channel), priority: strings.ToLower(u.Priority), requester: u.Requester, tags: u.Tags,
			created: p2Parse(u.CreatedAt), updated: p2Parse(u.UpdatedAt)}
		if u.FirstResponseAt != nil {
			f := p2Parse(*u.FirstResponseAt)
			t.first = &f
		}
		if u.Status == "solved" || u.Status == "closed" {
			r := t.updated
			if u.ResolvedAt != nil {
				r = p2Parse(*u.ResolvedAt)
			}
			t.resolved = &r
		}
		ref.tickets = append(ref.tickets, t)
	}
	for _, s := range d.subs {
		ref.subs[s.acct] = append(ref.subs[s.acct], s)
	}
	for _, evs := range ref.subs {
		slices.SortStableFunc(evs, func(a, b p2Sub) int { return a.at.Compare(b.at) })
	}
	return ref
}

// p2Query is a question of the test.
type p2Query struct {
	kpi, from, to string
	breakdown     string
	filter        string
	params        string // extra query parameters, already encoded
}

func (q p2Query) path() string {
	s := usageQuery{kpi: q.kpi, from: q.from, to: q.to, breakdown: q.breakdown, filter: q.filter}.path()
	if q.params != "" {
		s += "&" + q.params
	}
	return s
}

func p2Mean(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return fnum(s / float64(len(xs)))
}

func p2Median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	v := slices.Sorted(slices.Values(xs))
	n := len(v)
	if n%2 == 1 {
		return fnum(v[n/2])
	}
	return fnum((v[n/2-1] + v[n/2]) / 2)
}

// answer is the flattened reading q must get.
func (ref *p2Ref) answer(q p2Query) flat {
	from, to := p2Day(p2ParseDay(q.from)), p2Day(p2ParseDay(q.to))
	switch q.kpi {
	case "nps", "csat", "ces":
		return ref.survey(q, from, to)
	case "detractor_followups":
		return ref.followups(q, from, to)
	case "ticket_volume", "first_response_time", "resolution_time", "resolution_rate", "escalation_response_time", "repeat_contact_rate":
		return ref.ticketKPI(q, from, to)
	case "churn_rate":
		return ref.churn(from, to)
	case "customer_retention_rate":
		return ref.retention(from, to)
	case "free_to_paid_conversion":
		return ref.freeToPaid(from, to)
	case "renewal_rate", "renewal_by_onboarding":
		return ref.renewal(q.kpi, from, to)
	case "avg_purchase_value", "repeat_purchase_rate":
		return ref.purchases(q.kpi, from, to)
	case "roi_projection":
		return flat{"value": fnum(780), "renewals_now": fnum(780), "renewals_target": fnum(855), "added_renewals": fnum(75), "retained_revenue": fnum(375000)}
	}
	panic("no reference for " + q.kpi)
}

func p2ParseDay(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func (ref *p2Ref) respsIn(typ string, from, to int) []p2Resp {
	var out []p2Resp
	for _, r := range ref.resps {
		if d := p2Day(r.at); d >= from && d <= to && (typ == "" || r.typ == typ) {
			out = append(out, r)
		}
	}
	return out
}

func p2Dim(r p2Resp, dim string) string {
	v := map[string]string{"channel": r.channel, "touchpoint": r.touchpoint, "survey_id": r.survey}[dim]
	return cmpOr(v, "(none)")
}

func p2SurveyOf(typ string, rs []p2Resp) flat {
	out := flat{}
	switch typ {
	case "nps":
		var p, pa, d float64
		for _, r := range rs {
			switch {
			case r.score >= 9:
				p++
			case r.score >= 7:
				pa++
			default:
				d++
			}
		}
		n := p + pa + d
		out["value"], out["numerator"], out["denominator"] = fratio(p-d, n, 100), fnum(p-d), fnum(n)
		out["promoters"], out["passives"], out["detractors"] = fnum(p), fnum(pa), fnum(d)
		out["promoters_pct"], out["detractors_pct"] = fratio(p, n, 100), fratio(d, n, 100)
	case "csat":
		var pos float64
		for _, r := range rs {
			if r.score >= 4 {
				pos++
			}
		}
		n := float64(len(rs))
		out["value"], out["numerator"], out["denominator"] = fratio(pos, n, 100), fnum(pos), fnum(n)
	case "ces":
		var sum, top float64
		for _, r := range rs {
			sum += r.score
			if r.score >= 4 {
				top++
			}
		}
		n := float64(len(rs))
		out["value"], out["numerator"], out["denominator"] = fratio(sum, n, 1), fnum(sum), fnum(n)
		out["top_two_box_pct"] = fratio(top, n, 100)
	}
	return out
}

func (ref *p2Ref) survey(q p2Query, from, to int) flat {
	var rs []p2Resp
	for _, r := range ref.respsIn(q.kpi, from, to) {
		if q.filter != "" {
			dim, v, _ := strings.Cut(q.filter, ":")
			if p2Dim(r, dim) != v {
				continue
			}
		}
		rs = append(rs, r)
	}
	out := p2SurveyOf(q.kpi, rs)
	if q.breakdown != "" {
		groups := map[string][]p2Resp{}
		for _, r := range rs {
			groups[p2Dim(r, q.breakdown)] = append(groups[p2Dim(r, q.breakdown)], r)
		}
		out["rows"] = fnum(float64(len(groups)))
		for k, g := range groups {
			row := p2SurveyOf(q.kpi, g)
			for _, f := range []string{"value", "numerator", "denominator"} {
				out["["+k+"]."+f] = row[f]
			}
		}
	}
	return out
}

func (ref *p2Ref) followups(q p2Query, from, to int) flat {
	var low []p2Resp
	for _, r := range ref.respsIn("", from, to) {
		if dim, v, ok := strings.Cut(q.filter, ":"); ok && p2Dim(r, dim) != v {
			continue
		}
		if (r.typ == "nps" && r.score <= 6) || (r.typ != "nps" && r.score <= 2) {
			low = append(low, r)
		}
	}
	slices.SortFunc(low, func(a, b p2Resp) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(a.respondent, b.respondent)
	})
	out := flat{"value": fnum(float64(len(low)))}
	low = low[:min(len(low), 500)]
	out["items.len"] = fnum(float64(len(low)))
	for i, r := range low {
		p := fmt.Sprintf("items.%d.", i)
		out[p+"type"], out[p+"respondent"], out[p+"score"], out[p+"survey_id"] = r.typ, r.respondent, fnum(r.score), r.survey
		out[p+"comment"] = r.comment
	}
	return out
}

// p2Business is the business time between a and z: Monday to Friday
// 09:00-17:00 UTC, 2026-08-31 a holiday.
func p2Business(a, z time.Time) time.Duration {
	var total time.Duration
	for d := a.Truncate(24 * time.Hour); d.Before(z); d = d.Add(24 * time.Hour) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday || d.Format(time.DateOnly) == "2026-08-31" {
			continue
		}
		open, shut := d.Add(9*time.Hour), d.Add(17*time.Hour)
		if a.After(open) {
			open = a
		}
		if z.Before(shut) {
			shut = z
		}
		if shut.After(open) {
			total += shut.Sub(open)
		}
	}
	return total
}

func p2TicketDim(t p2Ticket, dim string) []string {
	switch dim {
	case "channel":
		return []string{cmpOr(t.channel, "(none)")}
	case "tag":
		if len(t.tags) == 0 {
			return []string{"(none)"}
		}
		return t.tags
	}
	panic(dim)
}

func p2TicketOf(kpi string, ts []p2Ticket, to int) flat {
	durs := func(ts []p2Ticket, end func(p2Ticket) *time.Time, unit time.Duration, name string) flat {
		var cal, biz []float64
		sum := 0.0
		for _, t := range ts {
			e := end(t)
			if e == nil || e.Before(t.created) {
				continue
			}
			x := float64(e.Sub(t.created)) / float64(unit)
			cal = append(cal, x)
			sum += x
			biz = append(biz, float64(p2Business(t.created, *e))/float64(unit))
		}
		return flat{"value": p2Mean(cal), "numerator": fnum(sum), "denominator": fnum(float64(len(cal))),
			"median_" + name: p2Median(cal), "business_mean_" + name: p2Mean(biz), "business_median_" + name: p2Median(biz)}
	}
	first := func(t p2Ticket) *time.Time { return t.first }
	switch kpi {
	case "ticket_volume":
		return flat{"value": fnum(float64(len(ts)))}
	case "first_response_time":
		return durs(ts, first, time.Minute, "minutes")
	case "resolution_time":
		return durs(ts, func(t p2Ticket) *time.Time { return t.resolved }, time.Hour, "hours")
	case "escalation_response_time":
		var esc []p2Ticket
		for _, t := range ts {
			if t.priority == "urgent" || slices.Contains(t.tags, "escalated") {
				esc = append(esc, t)
			}
		}
		return durs(esc, first, time.Minute, "minutes")
	case "resolution_rate":
		end := p2DayStart(to + 1)
		done := 0.0
		for _, t := range ts {
			if t.resolved != nil && t.resolved.Before(end) {
				done++
			}
		}
		n := float64(len(ts))
		return flat{"value": fratio(done, n, 100), "numerator": fnum(done), "denominator": fnum(n)}
	case "repeat_contact_rate":
		by := map[string][]time.Time{}
		for _, t := range ts {
			by[t.requester] = append(by[t.requester], t.created)
		}
		repeat := 0.0
		for _, times := range by {
			found := false
			for i := range times {
				for j := range times {
					if i != j && !times[j].Before(times[i]) && times[j].Sub(times[i]) <= 7*24*time.Hour {
						found = true
					}
				}
			}
			if found {
				repeat++
			}
		}
		n := float64(len(by))
		return flat{"value": fratio(repeat, n, 100), "numerator": fnum(repeat), "denominator": fnum(n)}
	}
	panic(kpi)
}

func (ref *p2Ref) ticketKPI(q p2Query, from, to int) flat {
	var ts []p2Ticket
	for _, t := range ref.tickets {
		if d := p2Day(t.created); d >= from && d <= to {
			ts = append(ts, t)
		}
	}
	out := p2TicketOf(q.kpi, ts, to)
	if q.breakdown != "" {
		groups := map[string][]p2Ticket{}
		for _, t := range ts {
			for _, k := range p2TicketDim(t, q.breakdown) {
				groups[k] = append(groups[k], t)
			}
		}
		out["rows"] = fnum(float64(len(groups)))
		for k, g := range groups {
			row := p2TicketOf(q.kpi, g, to)
			out["["+k+"].value"] = row["value"]
		}
	}
	return out
}

// customer reports whether an account is a customer at t, and its annual
// contract value then (the latest amount given).
func (ref *p2Ref) customer(acct string, t time.Time) (bool, float64, time.Time) {
	cust, acv, since := false, 0.0, time.Time{}
	for _, e := range ref.subs[acct] {
		if e.at.After(t) {
			break
		}
		switch e.kind {
		case "paid", "renewed":
			cust, since = true, e.at
			if e.amount > 0 {
				acv = e.amount
			}
		default:
			cust = false
		}
	}
	return cust, acv, since
}

// customersAtEnd are the customers at the end of day d, with their ACV.
func (ref *p2Ref) customersAtEnd(d int) map[string]float64 {
	out := map[string]float64{}
	for acct := range ref.subs {
		if ok, acv, _ := ref.customer(acct, p2DayStart(d+1).Add(-time.Nanosecond)); ok {
			out[acct] = acv
		}
	}
	return out
}

func (ref *p2Ref) churn(from, to int) flat {
	start := ref.customersAtEnd(from - 1)
	var startACV, lostACV, lost float64
	for acct, acv := range start {
		startACV += acv
		for _, e := range ref.subs[acct] {
			if d := p2Day(e.at); e.kind == "cancelled" && d >= from && d <= to {
				lost++
				lostACV += acv
				break
			}
		}
	}
	n := float64(len(start))
	return flat{"value": fratio(lost, n, 100), "numerator": fnum(lost), "denominator": fnum(n),
		"revenue_churn_pct": fratio(lostACV, startACV, 100), "contract_value_at_start": fnum(startACV), "contract_value_lost": fnum(lostACV)}
}

func (ref *p2Ref) retention(from, to int) flat {
	start, end := ref.customersAtEnd(from-1), ref.customersAtEnd(to)
	n := 0.0
	for acct := range end {
		if _, ok := start[acct]; !ok {
			n++
		}
	}
	s, e := float64(len(start)), float64(len(end))
	return flat{"value": fratio(e-n, s, 100), "numerator": fnum(e - n), "denominator": fnum(s), "S": fnum(s), "E": fnum(e), "N": fnum(n)}
}

func (ref *p2Ref) freeToPaid(from, to int) flat {
	var trials, conv float64
	var days []float64
	for _, evs := range ref.subs {
		i := slices.IndexFunc(evs, func(e p2Sub) bool { return e.kind == "trial" })
		if i < 0 {
			continue
		}
		tr := evs[i].at
		if d := p2Day(tr); d < from || d > to {
			continue
		}
		trials++
		for _, e := range evs {
			if e.kind == "paid" && !e.at.Before(tr) {
				if e.at.Sub(tr) <= 30*24*time.Hour {
					conv++
					days = append(days, e.at.Sub(tr).Hours()/24)
				}
				break
			}
		}
	}
	return flat{"value": fratio(conv, trials, 100), "numerator": fnum(conv), "denominator": fnum(trials), "median_days_to_convert": p2Median(days)}
}

// onboarded reports whether one of the account's users completed
// onboarding within 30 days of signing up, by t.
func (ref *p2Ref) onboarded(acct string, t time.Time) bool {
	for u, done := range ref.d.completed {
		su, ok := ref.d.signup[u]
		if ref.d.userAcct[u] == acct && ok && !done.After(t) && done.Sub(su) <= 30*24*time.Hour {
			return true
		}
	}
	return false
}

// renewal: a subscription is due on the day a term (28 days) after the
// day of its latest start or renewal, if the account is still a customer
// at the end of the day before; it is renewed if the account renews it
// (a renewal after that start or renewal) within 30 days of the due date.
func (ref *p2Ref) renewal(kpi string, from, to int) flat {
	var due, renewed [2]float64
	for x := from; x <= to; x++ {
		before := p2DayStart(x).Add(-time.Nanosecond)
		for acct := range ref.subs {
			ok, _, since := ref.customer(acct, before)
			if !ok || p2Day(since)+28 != x {
				continue
			}
			i := 0
			if ref.onboarded(acct, before) {
				i = 1
			}
			due[i]++
			for _, e := range ref.subs[acct] {
				if d := p2Day(e.at); e.kind == "renewed" && e.at.After(since) && d >= x-30 && d <= x+30 {
					renewed[i]++
					break
				}
			}
		}
	}
	if kpi == "renewal_rate" {
		d, r := due[0]+due[1], renewed[0]+renewed[1]
		return flat{"value": fratio(r, d, 100), "numerator": fnum(r), "denominator": fnum(d)}
	}
	return flat{"value": fratio(renewed[1], due[1], 100), "numerator": fnum(renewed[1]), "denominator": fnum(due[1]),
		"completed.due": fnum(due[1]), "completed.renewed": fnum(renewed[1]), "completed.renewal_rate_pct": fratio(renewed[1], due[1], 100),
		"not_completed.due": fnum(due[0]), "not_completed.renewed": fnum(renewed[0]), "not_completed.renewal_rate_pct": fratio(renewed[0], due[0], 100)}
}

func (ref *p2Ref) purchases(kpi string, from, to int) flat {
	var n, rev float64
	per := map[string]int{}
	for _, o := range ref.d.orders {
		if d := p2Day(o.at); d >= from && d <= to {
			n++
			rev += o.rev
			per[o.acct]++
		}
	}
	if kpi == "avg_purchase_value" {
		return flat{"value": fratio(rev, n, 1), "numerator": fnum(rev), "denominator": fnum(n)}
	}
	repeat := 0.0
	for _, c := range per {
		if c >= 2 {
			repeat++
		}
	}
	return flat{"value": fratio(repeat, float64(len(per)), 100), "numerator": fnum(repeat), "denominator": fnum(float64(len(per)))}
}
