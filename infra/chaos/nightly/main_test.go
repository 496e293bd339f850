// Package nightly is the chaos suite of the aggregation: runs killed after
// some of their writes, two runs of the same days at once, late events
// that arrive while a run reads the day, and webhooks delivered three
// times out of order. Every case ends by comparing the stored state and
// the KPI answers with an undisturbed run of the same input on a fresh
// stack: equal, or the test fails.
//
// The short sweep runs in go test ./...; UPTAKE_CHAOS=1 runs the full one.
package nightly

import (
	"testing"

	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }
