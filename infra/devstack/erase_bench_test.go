package devstack_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/stacktest"
	"github.com/uptakehq/uptake/shared/kpi"
)

// BenchmarkEraseUser erases one user from a tenant of 1,000 raw objects of
// 500 events each (500,000 events, the user's in 1% of the objects) on
// the local S3 server and DynamoDB Local; it reports the events scanned
// per second, against a plain read of every object in the same run.
func BenchmarkEraseUser(b *testing.B) {
	const objects, lines = 1000, 500
	now := time.Date(2026, 10, 6, 12, 0, 0, 0, time.UTC)
	st := stacktest.StartWith(b, stacktest.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	day := kpi.NewDay(2026, 10, 1)
	for o := range objects {
		batch := make([][]byte, lines)
		for i := range batch {
			user := fmt.Sprintf("user-%d", (o*lines+i)%5000)
			if o%100 == 0 && i%50 == 0 {
				user = "bench-erased"
			}
			batch[i] = fmt.Appendf(nil, `{"type":"track","event":"Report Viewed","messageId":"m-%d-%d","userId":%q,"timestamp":"2026-10-01T%02d:%02d:00Z","receivedAt":"2026-10-01T12:00:00Z"}`,
				o, i, user, (o/50)%24, i%60)
		}
		if _, err := st.App.Raw.Put(ctx, "raw", st.Tenant, day, now.Add(time.Duration(o)), time.Time{}, batch); err != nil {
			b.Fatal(err)
		}
	}
	keys, err := st.App.Raw.List(ctx, "raw/tenant="+st.Tenant+"/")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read every object (baseline)", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, k := range keys {
				if err := st.App.Raw.Lines(ctx, k, func([]byte) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(objects*lines)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("erase one user", func(b *testing.B) {
		for b.Loop() {
			rc, err := st.App.Admin.Eraser.EraseUser(ctx, st.Tenant, "bench-erased")
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if rc.Events != 100 {
				b.Fatalf("erased %d events, want 100", rc.Events)
			}
			// The erased lines back, as one more object, for the next
			// round: the same 500,000 events.
			back := make([][]byte, 100)
			for i := range back {
				back[i] = fmt.Appendf(nil, `{"type":"track","event":"Report Viewed","messageId":"back-%d","userId":"bench-erased","timestamp":"2026-10-01T10:00:00Z","receivedAt":"2026-10-01T12:00:00Z"}`, i)
			}
			if _, err := st.App.Raw.Put(ctx, "raw", st.Tenant, day, now, time.Time{}, back); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(objects*lines)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
