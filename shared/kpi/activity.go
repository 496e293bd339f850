package kpi

import (
	"maps"
	"math/bits"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Activity summaries
//
// retention_cohorts counts, for each signup day of its range, the users
// who signed up that day and were active in each period after it, periods
// that start on their own signup day (a week from a Wednesday to the next
// Tuesday): the merged sets of a month do not give them, and a year read
// as its days decodes a year of day parts with every set. A month part
// therefore keeps, in lists (binary, decoded at the cost of a copy), which
// users were active and which signed up on which of its days:
//
//   - ListActivityUsers and ListActivityDays: the users active on a day
//     part of the month (SetActiveUsers), ascending, and for each the days
//     of the month they were active on, as a mask (bit i−1: day i);
//   - ListSignupUsers and ListSignupDays: the same of SetSignups;
//   - ListMergedDays: one mask, the days of the month with a day part.
//
// Ordinals (uint32) and masks (31 bits) are whole numbers a float64 holds
// exactly. The evaluation rebuilds each day's signups, and each day's
// active users among the range's signups (all it intersects them with),
// so it counts what it counts from day parts (TestActivityExact).
// CounterActivity equals Days on a month part with the lists; one merged
// before them is read as its days (Requires).

// Lists and counter of the activity summary.
const (
	ListActivityUsers = "activity_users"
	ListActivityDays  = "activity_days"
	ListSignupUsers   = "activity_signup_users"
	ListSignupDays    = "activity_signup_days"
	ListMergedDays    = "activity_merged_days"
	CounterActivity   = "summary_activity"
)

// summarizeActivity adds the activity lists of days (one month's) to their
// month part m.
func summarizeActivity(m *Part, days []Part) {
	active, signups := map[uint32]uint32{}, map[uint32]uint32{}
	merged := uint32(0)
	for _, p := range days {
		bit := uint32(1) << (monthDay(p.Day) - 1)
		merged |= bit
		for set, masks := range map[string]map[uint32]uint32{SetActiveUsers: active, SetSignups: signups} {
			if b := p.Sets[set]; b != nil {
				it := b.Iterator()
				for it.HasNext() {
					masks[it.Next()] |= bit
				}
			}
		}
	}
	lists := func(masks map[uint32]uint32) (users, days []float64) {
		for _, u := range slices.Sorted(maps.Keys(masks)) {
			users, days = append(users, float64(u)), append(days, float64(masks[u]))
		}
		return users, days
	}
	m.Lists[ListActivityUsers], m.Lists[ListActivityDays] = lists(active)
	m.Lists[ListSignupUsers], m.Lists[ListSignupDays] = lists(signups)
	m.Lists[ListMergedDays] = []float64{float64(merged)}
	m.Counters[CounterActivity] = float64(len(days))
}

// readRetention covers the range and the days after it that its cohorts'
// periods may reach (the query clips them to Lookforward).
func readRetention(in Input) (cover, days []Span) {
	return []Span{{in.From, in.To.AddDays(retentionLookforward)}}, nil
}

// retentionLookforward is retention_cohorts' Lookforward.
const retentionLookforward = 366

func requireActivity(Input) []string { return []string{CounterActivity} }

// retentionDays is what evalRetention reads of its input: each day's
// signups within the range, each day's active users (of a month part's
// days, only those among the range's signups), and the latest day with a
// part.
func retentionDays(in Input) (signups, active map[Day]*roaring.Bitmap, last Day) {
	signups, active = map[Day]*roaring.Bitmap{}, map[Day]*roaring.Bitmap{}
	var months []Part
	for _, p := range in.Parts {
		if p.Day.After(last) {
			last = p.Day
		}
		if b := p.Sets[SetActiveUsers]; b != nil {
			active[p.Day] = b
		}
		if s := p.Sets[SetSignups]; s != nil && !s.IsEmpty() && !p.Day.Before(in.From) && !p.Day.After(in.To) {
			signups[p.Day] = s
		}
	}
	for _, m := range in.Months {
		if !m.Holds([]string{CounterActivity}) || len(m.Lists[ListMergedDays]) != 1 {
			continue
		}
		months = append(months, m)
		if merged := uint32(m.Lists[ListMergedDays][0]); merged != 0 {
			if d := dayOfMonth(m.Day, bits.Len32(merged)); d.After(last) {
				last = d
			}
		}
		users, masks := m.Lists[ListSignupUsers], m.Lists[ListSignupDays]
		for i := range min(len(users), len(masks)) {
			for mask := uint32(masks[i]); mask != 0; mask &= mask - 1 {
				d := dayOfMonth(m.Day, bits.TrailingZeros32(mask)+1)
				if d.Before(in.From) || d.After(in.To) {
					continue
				}
				if signups[d] == nil {
					signups[d] = roaring.New()
				}
				signups[d].Add(uint32(users[i]))
			}
		}
	}
	if len(months) == 0 {
		return signups, active, last
	}
	var all []*roaring.Bitmap
	for _, s := range signups {
		all = append(all, s)
	}
	members := roaring.FastOr(all...).ToArray()
	for _, m := range months {
		// The members active on each day of the month, ascending.
		var byDay [32][]uint32
		users, masks := m.Lists[ListActivityUsers], m.Lists[ListActivityDays]
		j := 0
		for i := range min(len(users), len(masks)) {
			u := uint32(users[i])
			for j < len(members) && members[j] < u {
				j++
			}
			if j == len(members) {
				break
			}
			if members[j] != u {
				continue
			}
			for mask := uint32(masks[i]); mask != 0; mask &= mask - 1 {
				k := bits.TrailingZeros32(mask) + 1
				byDay[k] = append(byDay[k], u)
			}
		}
		for k, us := range byDay {
			if len(us) > 0 {
				active[dayOfMonth(m.Day, k)] = roaring.BitmapOf(us...)
			}
		}
	}
	return signups, active, last
}
