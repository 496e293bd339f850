package kpi

// Hooks for the external tests.
var (
	RetentionPeriod = retentionPeriod
	CohortStart     = cohortStart
)
