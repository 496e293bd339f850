package kpi

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/uptakehq/uptake/shared/event"
)

// Subscription events, per account.
const (
	EventTrialStarted = "Trial Started"
	EventSubStarted   = "Subscription Started"
	EventSubRenewed   = "Subscription Renewed"
	EventSubCancelled = "Subscription Cancelled"
	EventOrder        = "Order Completed"
)

// Subscription states kept in an account's trait history.
const (
	subTrait = "$subscription" // a user's subscription events (subRecord)
)

// SubEvent is a subscription event of the day.
type SubEvent struct {
	User, Group string
	At          time.Time
	Kind        string // trial, paid, renewed, cancelled
	Amount      float64
	Plan        string
}

// Order is a completed order of the day.
type Order struct {
	User, Group string
	At          time.Time
	Revenue     float64
}

// subKind maps a subscription event to its state; ok is false for other
// events.
func subKind(name string) (string, bool) {
	switch name {
	case EventTrialStarted:
		return "trial", true
	case EventSubStarted:
		return "paid", true
	case EventSubRenewed:
		return "renewed", true
	case EventSubCancelled:
		return "cancelled", true
	}
	return "", false
}

// subscriptionFacts reads a day's subscription events and orders.
func subscriptionFacts(r *event.Record, f *Facts) {
	if r.Type != event.Track || r.User() == "" {
		return
	}
	if kind, ok := subKind(r.Event); ok {
		p := r.Props()
		f.SubEvents = append(f.SubEvents, SubEvent{User: r.User(), Group: string(r.Context.GroupID), At: r.Timestamp, Kind: kind, Amount: p.Amount, Plan: p.Plan})
		return
	}
	if r.Event == EventOrder {
		p := r.Props()
		rev := p.Revenue
		if rev == nil {
			rev = p.Total
		}
		if rev != nil && !math.IsNaN(*rev) && !math.IsInf(*rev, 0) {
			f.Orders = append(f.Orders, Order{User: r.User(), Group: string(r.Context.GroupID), At: r.Timestamp, Revenue: *rev})
		}
	}
}

// AccountOf is the account of a user's event at t: the event's own
// groupId, else the user's latest group call at t, else the user.
func AccountOf(user, group string, userTraits Traits, t time.Time) string {
	if group != "" {
		return AccountID(group)
	}
	if g, ok := userTraits.At(GroupTrait, t); ok {
		return AccountID(g)
	}
	return AccountID("user:" + user)
}

// AccountState is a customer account at the end of a day.
type AccountState struct {
	Ordinal uint32    `json:"ord"`
	ID      string    `json:"id"` // the groupId, or user:<userId>
	ACV     float64   `json:"acv"`
	Plan    string    `json:"plan,omitempty"`
	Since   time.Time `json:"since"` // its latest start or renewal
	// Onboarded says one of its users completed onboarding in time.
	Onboarded bool `json:"onb,omitempty"`
}

// subRecord is a subscription event as kept in the sending user's trait
// history: the account is resolved when a day is run, from the user's
// group at the event's time, so the order histories arrive in never
// matters.
type subRecord struct {
	Kind   string  `json:"k"`
	Group  string  `json:"g,omitempty"`
	Amount float64 `json:"a,omitempty"`
	Plan   string  `json:"p,omitempty"`
}

// SubscriptionChange is the user trait change of a subscription event.
func SubscriptionChange(e SubEvent) TraitChange {
	b, _ := json.Marshal(subRecord{Kind: e.Kind, Group: e.Group, Amount: e.Amount, Plan: e.Plan})
	return TraitChange{At: e.At, Value: string(b)}
}

// SubTrait is the user trait holding subscription events.
const SubTrait = subTrait

// AccountEvent is a subscription event attributed to an account.
type AccountEvent struct {
	At time.Time
	subRecord
}

// AccountEvents attributes the subscription events of users to accounts.
func AccountEvents(users []string, idents map[string]Identity) map[string][]AccountEvent {
	out := map[string][]AccountEvent{}
	for _, u := range users {
		tr := idents[u].Traits
		for _, c := range tr[subTrait] {
			var rec subRecord
			if json.Unmarshal([]byte(c.Value), &rec) != nil {
				continue
			}
			acct := AccountOf(u, rec.Group, tr, c.At)
			out[acct] = append(out[acct], AccountEvent{At: c.At, subRecord: rec})
		}
	}
	for acct, evs := range out {
		slices.SortStableFunc(evs, func(a, b AccountEvent) int {
			if c := a.At.Compare(b.At); c != 0 {
				return c
			}
			return strings.Compare(a.Kind, b.Kind)
		})
		out[acct] = evs
	}
	return out
}

// CustomerAt returns an account's state at t if it is a customer then:
// its latest subscription event up to t is a paid start or a renewal.
func CustomerAt(ordinal uint32, evs []AccountEvent, t time.Time) (AccountState, bool) {
	st := AccountState{Ordinal: ordinal}
	customer := false
	for _, e := range evs {
		if e.At.After(t) {
			break
		}
		switch e.Kind {
		case "paid", "renewed":
			customer, st.Since = true, e.At
			if e.Amount > 0 {
				st.ACV = e.Amount
			}
		case "cancelled", "trial":
			customer = false
		}
		if e.Plan != "" {
			st.Plan = e.Plan
		}
	}
	return st, customer
}

// FirstOf is the first event of a kind in an account's events.
func FirstOf(evs []AccountEvent, kind string) (time.Time, bool) {
	for _, e := range evs {
		if e.Kind == kind {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// Trial is an account's first trial, with its first paid start.
type Trial struct {
	Start, Paid time.Time
}

// SubscriptionDay is what the day's run adds about accounts.
type SubscriptionDay struct {
	// Customers are the customer accounts at the day's end.
	Customers []AccountState
	// Cancelled and Renewed are the accounts with such an event that day.
	Cancelled, Renewed []uint32
	// Trials are the accounts whose first trial started that day.
	Trials []Trial
	// Orders are the day's orders, by account ordinal.
	Orders []OrderRecord
}

// OrderRecord is an order in a part.
type OrderRecord struct {
	Ordinal uint32  `json:"ord"`
	Revenue float64 `json:"rev"`
}

// Counter, list and set names of subscription parts.
const (
	SetCancelled       = "subs_cancelled"
	SetRenewed         = "subs_renewed"
	CounterTrials      = "trials"
	CounterTrialsPaid  = "trials_converted"
	ListTrialDaysToPay = "trial_days_to_paid"
)

// subscriptionPart adds the day's account figures to its part.
func subscriptionPart(p *Part, cfg Config, sd SubscriptionDay) {
	p.Accounts = slices.Clone(sd.Customers)
	slices.SortFunc(p.Accounts, func(a, b AccountState) int { return int(a.Ordinal) - int(b.Ordinal) })
	p.Orders = slices.Clone(sd.Orders)
	if len(sd.Cancelled) > 0 {
		p.Sets[SetCancelled] = roaring.BitmapOf(sd.Cancelled...)
	}
	if len(sd.Renewed) > 0 {
		p.Sets[SetRenewed] = roaring.BitmapOf(sd.Renewed...)
	}
	window := time.Duration(cfg.TrialConversionDays) * 24 * time.Hour
	for _, tr := range sd.Trials {
		p.Counters[CounterTrials]++
		if !tr.Paid.IsZero() && !tr.Paid.Before(tr.Start) && tr.Paid.Sub(tr.Start) <= window {
			p.Counters[CounterTrialsPaid]++
			p.Lists[ListTrialDaysToPay] = append(p.Lists[ListTrialDaysToPay], tr.Paid.Sub(tr.Start).Hours()/24)
		}
	}
}

// customersAt is the customer accounts at the end of a day, from its
// part; ok is false when the day is not aggregated.
func customersAt(in Input, d Day) (map[uint32]AccountState, bool) {
	for _, p := range in.Parts {
		if p.Day.Equal(d) {
			return accountsOf(p), true
		}
	}
	return nil, false
}

// churn is the share of the customers at the start of from..to lost by
// its end, by count and by contract value.
func churn(in Input, from, to Day) (start map[uint32]AccountState, lost []AccountState, ok bool) {
	start, ok = customersAt(in, from.AddDays(-1))
	if !ok {
		return nil, nil, false
	}
	cancelled := Merge(in.Cover(from, to)).Set(SetCancelled)
	for _, ord := range slices.Sorted(maps.Keys(start)) {
		if cancelled.Contains(ord) {
			lost = append(lost, start[ord])
		}
	}
	return start, lost, true
}

func acv(accts []AccountState) float64 {
	s := 0.0
	for _, a := range accts {
		s += a.ACV
	}
	return s
}

func evalChurn(in Input) Result {
	start, lost, ok := churn(in, in.From, in.To)
	if !ok {
		return Result{Details: map[string]any{"note": "the day before the range is not aggregated"}}
	}
	startACV := acv(slices.Collect(maps.Values(start)))
	n, l := float64(len(start)), float64(len(lost))
	return Result{Value: ratio(l, n, 100), Numerator: l, Denominator: n, Details: map[string]any{
		"customers_at_start": n, "lost": l, "revenue_churn_pct": ratio(acv(lost), startACV, 100),
		"contract_value_at_start": startACV, "contract_value_lost": acv(lost)}}
}

func evalRetentionRate(in Input) Result {
	start, ok1 := customersAt(in, in.From.AddDays(-1))
	end, ok2 := customersAt(in, in.To)
	if !ok1 || !ok2 {
		return Result{Details: map[string]any{"note": "the day before the range, or its last day, is not aggregated"}}
	}
	var kept, added float64
	for ord := range end {
		if _, ok := start[ord]; ok {
			kept++
		} else {
			added++
		}
	}
	s, e := float64(len(start)), float64(len(end))
	return Result{Value: ratio(e-added, s, 100), Numerator: e - added, Denominator: s,
		Details: map[string]any{"S": s, "E": e, "N": added, "end_over_start_pct": ratio(e, s, 100)}}
}

func evalFreeToPaid(in Input) Result {
	m := Merge(in.CoverRange())
	t, c := m.Counters[CounterTrials], m.Counters[CounterTrialsPaid]
	return Result{Value: ratio(c, t, 100), Numerator: c, Denominator: t,
		Details: map[string]any{"trials": t, "converted": c, "median_days_to_convert": Median(m.Lists[ListTrialDaysToPay]), "window_days": in.Config.TrialConversionDays}}
}

// renewals counts the subscriptions due in the range (a term after their
// latest start or renewal) and those renewed within 30 days of the due
// date, apart for accounts whose users completed onboarding in time.
// Whole months come from the summaries of their month parts (dueIn,
// renewedOn), the other days from their day parts.
func renewals(in Input) (due, renewed [2]float64) {
	renewedOn := renewedOn(in, in.From.AddDays(-30), in.To.AddDays(30))
	for _, a := range dueIn(in) {
		i := 0
		if a.onboarded {
			i = 1
		}
		due[i]++
		// Renewed within 30 days of the due date, by a renewal after
		// the one that started this term.
		from := a.day.AddDays(-30)
		if !from.After(a.since) {
			from = a.since.AddDays(1)
		}
		for d := from; !d.After(a.day.AddDays(30)); d = d.AddDays(1) {
			if b := renewedOn[d]; b != nil && b.Contains(a.ordinal) {
				renewed[i]++
				break
			}
		}
	}
	return due, renewed
}

func evalRenewal(in Input) Result {
	due, renewed := renewals(in)
	d, r := due[0]+due[1], renewed[0]+renewed[1]
	return Result{Value: ratio(r, d, 100), Numerator: r, Denominator: d,
		Details: map[string]any{"due": d, "renewed": r, "term_days": in.Config.RenewalTermDays}}
}

func evalRenewalByOnboarding(in Input) Result {
	due, renewed := renewals(in)
	return Result{Value: ratio(renewed[1], due[1], 100), Numerator: renewed[1], Denominator: due[1],
		Details: map[string]any{
			"completed":     map[string]any{"due": due[1], "renewed": renewed[1], "renewal_rate_pct": ratio(renewed[1], due[1], 100)},
			"not_completed": map[string]any{"due": due[0], "renewed": renewed[0], "renewal_rate_pct": ratio(renewed[0], due[0], 100)},
		}}
}

func ordersIn(parts []Part) (orders, revenue float64, perAccount map[uint32]int) {
	perAccount = map[uint32]int{}
	for _, p := range parts {
		for _, o := range p.Orders {
			orders++
			revenue += o.Revenue
			perAccount[o.Ordinal]++
		}
	}
	return
}

func evalAvgPurchase(in Input) Result {
	n, rev, _ := ordersIn(in.CoverRange())
	return Result{Value: ratio(rev, n, 1), Numerator: rev, Denominator: n, Details: map[string]any{"orders": n, "revenue": rev}}
}

func evalRepeatPurchase(in Input) Result {
	_, _, per := ordersIn(in.CoverRange())
	repeat := 0.0
	for _, c := range per {
		if c >= 2 {
			repeat++
		}
	}
	n := float64(len(per))
	return Result{Value: ratio(repeat, n, 100), Numerator: repeat, Denominator: n, Details: map[string]any{"customers": n, "repeat_customers": repeat}}
}

// maxLifespanYears caps CLV's expected lifespan.
const maxLifespanYears = 10

func evalCLV(in Input) Result {
	from := in.To.AddDays(-364)
	n, rev, per := ordersIn(in.Between(from, in.To))
	aov := ratio(rev, n, 1)
	freq := ratio(n, float64(len(per)), 1)
	details := map[string]any{"avg_purchase_value": aov, "purchase_frequency": freq, "lifespan_years": nil, "annual_churn_pct": nil, "window_from": from.String()}
	// Annual churn over the window, from its first aggregated day when
	// the tenant's history is shorter.
	first := from
	for _, p := range in.Between(from.AddDays(-1), in.To) {
		first = p.Day.AddDays(1)
		break
	}
	start, lost, ok := churn(in, first, in.To)
	if !ok || aov == nil || freq == nil {
		return Result{Details: details}
	}
	life := float64(maxLifespanYears)
	if len(start) > 0 && len(lost) > 0 {
		rate := float64(len(lost)) / float64(len(start))
		details["annual_churn_pct"] = rate * 100
		life = math.Min(1/rate, maxLifespanYears)
	}
	details["lifespan_years"] = life
	v := *aov * *freq * life
	return Result{Value: &v, Numerator: v, Denominator: 1, Details: details}
}
