package parts_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/uptakehq/uptake/bench/parts"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// TestRoundTrip writes a few generated days through dynamostore's PutPart
// to DynamoDB Local, as P2 seeds its tenant, and reads them back whole:
// nothing is trimmed, and they are what the generator made, with the sizes
// it announces.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
	table := localstacktest.UniqueName("parts")
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	st := dynamostore.New(db, table, nil)
	h := parts.New(kpi.NewDay(2026, 10, 31), 4, parts.Seed)
	want := h.All()
	for _, p := range want {
		if err := st.PutPart(ctx, "t", p, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Parts(ctx, "t", h.First, h.Last)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d parts, wrote %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Day != w.Day || !maps.Equal(g.Counters, w.Counters) || len(g.Responses) != len(w.Responses) ||
			!maps.EqualFunc(g.Lists, w.Lists, slices.Equal[[]float64]) {
			t.Errorf("%s: part read back differs", w.Day)
		}
		if len(g.Sets) != len(w.Sets) {
			t.Errorf("%s: %d sets read back, %d written", w.Day, len(g.Sets), len(w.Sets))
		}
		for k, b := range w.Sets {
			if !g.Sets[k].Equals(b) {
				t.Errorf("%s: set %s read back differs", w.Day, k)
			}
		}
		if n := g.Sets[kpi.SetActiveUsers].GetCardinality(); n < 5000 || n > 10000 {
			t.Errorf("%s: %d active users, want 5,000 to 10,000", w.Day, n)
		}
	}
	if again := parts.New(h.Last, 4, parts.Seed).Part(2); !maps.Equal(again.Counters, want[2].Counters) {
		t.Errorf("the same seed made a different day")
	}
}
