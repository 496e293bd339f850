package kpi

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

// Milestones lists every milestone.
var Milestones = []Milestone{FirstActive, FirstSeen, SignedUp}

// Identity is a user's or visitor's entry in a tenant's dictionary.
type Identity struct {
	Ordinal uint32
	// Firsts holds the day of each milestone reached; absent if never.
	Firsts map[Milestone]Day
}

// First returns the day of a milestone, zero if never reached.
func (i Identity) First(m Milestone) Day { return i.Firsts[m] }

// Dirty is a UTC day whose raw files received events after (or while) the
// days they touch were last aggregated; At is when the latest arrived, in
// unix nanoseconds.
type Dirty struct {
	Day Day
	At  int64
}
