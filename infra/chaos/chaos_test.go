// Package chaos checks Uptake's promise under faults: an ingest request is
// answered 2xx (stored) or 5xx (nothing stored), so a sender that retries
// 5xx loses nothing and doubles nothing, and the aggregation run again
// after a failure gives what an undisturbed run gives. Each case sends a
// seeded workload to a stack while something breaks, aggregates, and
// compares the raw store, the stored day parts and every KPI with a fresh
// stack fed the same messages without faults.
//
// The fast cases run in `go test ./...`; the slow ones (DynamoDB Local
// killed and restarted, longer outages) only with UPTAKE_CHAOS=1, which
// `make chaos` sets.
package chaos

import (
	"os"
	"testing"

	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// slow skips t unless UPTAKE_CHAOS=1.
func slow(t *testing.T) {
	t.Helper()
	if os.Getenv("UPTAKE_CHAOS") != "1" {
		t.Skip("slow fault case: `make chaos` runs it (UPTAKE_CHAOS=1)")
	}
}
