package kpi

// Identity is a user's or visitor's entry in a tenant's dictionary, the
// state that the nightly run folds day by day.
type Identity struct {
	Ordinal uint32
	// FirstActive is the first day the identity was an active user, zero
	// if it never was.
	FirstActive Day
}

// Dirty is a UTC day whose raw files received events after (or while) the
// days they touch were last aggregated; At is when the latest arrived, in
// unix nanoseconds.
type Dirty struct {
	Day Day
	At  int64
}
