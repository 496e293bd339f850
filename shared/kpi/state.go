package kpi

import (
	"strconv"
	"strings"
	"time"
)

// Milestone is a first-time fact about a user that the nightly run folds
// day by day: the earliest day wins, whatever order days are run in.
type Milestone string

// Milestones.
const (
	// FirstActive is the first day a user was active (DAU's "new").
	FirstActive Milestone = "first_active"
	// FirstSeen is the first day a userId appeared in any message.
	FirstSeen Milestone = "first_seen"
	// SignedUp is the signup day: the `Signed Up` event, else the
	// `created_at` trait. Signup days are indexed, so a day's run finds
	// its cohort even when the signup was learnt from another day.
	SignedUp Milestone = "signup"
)

// Onboarding milestones.
const (
	// Onboarded is the `Onboarding Completed` event.
	Onboarded Milestone = "onboarded"
	// FirstValue is the first value event (First Value Reached, or the
	// tenant's value events).
	FirstValue Milestone = "first_value"
)

// StepMilestone is the completion of onboarding step k (1-based).
func StepMilestone(k int) Milestone { return Milestone("step:" + strconv.Itoa(k)) }

// TrainingStarted and TrainingCompleted are a course's `Training Started`
// and `Training Completed` events.
func TrainingStarted(course string) Milestone   { return Milestone("training_start:" + course) }
func TrainingCompleted(course string) Milestone { return Milestone("training_done:" + course) }

// Anchor is the milestone whose day's part reports m: onboarding
// milestones belong to the signup cohort, a course completion to the day
// the course was started. Empty when m is reported on its own day.
func Anchor(m Milestone) Milestone {
	s := string(m)
	switch {
	case m == Onboarded || m == FirstValue || strings.HasPrefix(s, "step:"):
		return SignedUp
	case strings.HasPrefix(s, "training_done:"):
		return TrainingStarted(strings.TrimPrefix(s, "training_done:"))
	}
	return ""
}

// First is when a milestone was first reached, and that instant's day in
// the tenant's zone.
type First struct {
	At  time.Time
	Day Day
}

// IsZero reports whether the milestone was never reached.
func (f First) IsZero() bool { return f.At.IsZero() }

// Identity is a user's or visitor's entry in a tenant's dictionary.
type Identity struct {
	Ordinal uint32
	// Firsts holds each milestone reached; absent if never.
	Firsts map[Milestone]First
	// Traits is the identity's trait history (users: identify traits and
	// account; accounts: group traits).
	Traits Traits
}

// First returns a milestone, zero if never reached.
func (i Identity) First(m Milestone) First { return i.Firsts[m] }

// Dirty is a UTC day whose raw files received events after (or while) the
// days they touch were last aggregated; At is when the latest arrived, in
// unix nanoseconds.
type Dirty struct {
	Day Day
	At  int64
}
