package chaos

import (
	"sync"
	"testing"
	"time"
)

// outage is a part of the stack going away and coming back.
type outage struct {
	what string
	down func(t *testing.T)
	up   func(t *testing.T)
}

// outageFigures are what an outage did.
type outageFigures struct {
	ingestErrors int64 // 5xx answers while it lasted
	downFor      time.Duration
}

// sendThrough sends w and, once a quarter of the batches are stored,
// brings o down until the senders have been answered minErrors 5xx, then
// up again. It returns when every batch is stored and the part is up.
func sendThrough(t *testing.T, c *client, w workload, o outage, minErrors int64) outageFigures {
	t.Helper()
	var (
		once sync.Once
		wg   sync.WaitGroup
		fig  outageFigures
	)
	c.send(t, w, func(stored int) {
		if stored < len(w.batches)/4 {
			return
		}
		once.Do(func() {
			wg.Go(func() {
				base := c.serverErrors.Load()
				began := time.Now()
				o.down(t)
				for c.serverErrors.Load() < base+minErrors {
					time.Sleep(20 * time.Millisecond)
				}
				o.up(t)
				fig.downFor = time.Since(began)
				fig.ingestErrors = c.serverErrors.Load() - base
			})
		})
	})
	wg.Wait()
	if fig.ingestErrors < minErrors {
		t.Fatalf("%s: %d requests answered 5xx during the outage, want at least %d: the case did not test it", o.what, fig.ingestErrors, minErrors)
	}
	t.Logf("%s during the ingest load for %v: %d answers 5xx meanwhile", o.what, fig.downFor.Round(time.Millisecond), fig.ingestErrors)
	return fig
}

// aggregateThrough runs the aggregation of w and brings o down shortly
// after it starts, until the run has failed once (or ended), then up.
func aggregateThrough(t *testing.T, c *client, w workload, o outage) int64 {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var errs int64
	wg.Go(func() {
		select {
		case <-done:
			return
		case <-time.After(300 * time.Millisecond):
		}
		base := c.serverErrors.Load()
		o.down(t)
		defer o.up(t)
		for c.serverErrors.Load() == base {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		errs = c.serverErrors.Load() - base
	})
	c.aggregate(t, w.from, w.to)
	close(done)
	wg.Wait()
	t.Logf("%s during the aggregation: %d runs answered 5xx and were started again", o.what, errs)
	return errs
}
