package load

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

// Options tune a run. Zero values take the defaults.
type Options struct {
	// Duration is how long the traffic runs (default 10 minutes).
	Duration time.Duration
	// Rate is the number of requests started per second, whatever the
	// answers' latency (default 10).
	Rate float64
	// Workers is the number of requests in flight at most (default 64):
	// when all are busy, requests start late, and their latency, measured
	// from their scheduled time, shows it.
	Workers int
	// Seed chooses the requests: request i of two runs with the same seed
	// is the same kind, made of the same random choices.
	Seed uint64
	// Days is how many days, ending today in the tenant's time zone,
	// event times spread over (default 4).
	Days int
	// Progress, if set, receives a line every ProgressEvery (default 30 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Now is the clock of event times; nil is the real one.
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	o.Duration = cmp.Or(o.Duration, 10*time.Minute)
	o.Rate = cmp.Or(o.Rate, 10)
	o.Workers = cmp.Or(o.Workers, 64)
	o.Days = cmp.Or(o.Days, 4)
	o.ProgressEvery = cmp.Or(o.ProgressEvery, 30*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	var errs []error
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration %s is negative", o.Duration))
	}
	if o.Rate < 0 || o.Rate > 10000 {
		errs = append(errs, fmt.Errorf("rate %g is not between 0 and 10000 requests per second", o.Rate))
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d is negative", o.Workers))
	}
	if o.Days < 1 || o.Days > 60 {
		errs = append(errs, fmt.Errorf("days %d is not between 1 and 60", o.Days))
	}
	return o, errors.Join(errs...)
}

// Result is a run's figures and its exactly-once check.
type Result struct {
	Run     string // the run's id, in every id it sent
	Options Options
	Target  string
	Zone    string
	Days    []kpi.Day
	// Elapsed is the time from the first scheduled request to the last
	// answer; Scheduled, the requests scheduled.
	Elapsed   time.Duration
	Scheduled int
	// MaxStartLag is how late, at worst, a request started after its
	// scheduled time (all workers were busy).
	MaxStartLag time.Duration
	Routes      []RouteStats
	All         RouteStats
	// Aggregation is how long the aggregation of the days took, after
	// the traffic.
	Aggregation time.Duration
	Check       Verification

	ledger *Ledger
	obs    observation
}

// observation is what the check compared the ledger with.
type observation struct {
	rules         rules
	before, after map[kpi.Day]Counts
	incomplete    []string
	stored        map[string]int
}

// OK reports whether the run had no error and counted every
// acknowledged message exactly once.
func (r *Result) OK() bool { return r.All.Errors() == 0 && r.Check.OK() }

// Run drives the target for o.Duration and then checks the exactly-once
// counting (see the package documentation). It returns an error only when
// it could not run or check; errors of the traffic and differences found
// by the check are in the result.
func Run(ctx context.Context, t Target, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	c := newClient(t, o.Workers)
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, fmt.Errorf("load: read the tenant's configuration: %w", err)
	}
	rl, err := rulesOf(cfg)
	if err != nil {
		return nil, fmt.Errorf("load: tenant configuration: %w", err)
	}
	now := o.Now()
	today := kpi.DayOf(now, rl.loc)
	first := today.AddDays(1 - o.Days)
	res := &Result{Run: "ld" + strconv.FormatInt(now.UnixMilli(), 36), Options: o, Target: t.URL, Zone: cfg.TimeZone,
		Days: kpi.Days(first, today), ledger: newLedger()}
	g := &generator{run: res.Run, tenant: t.Tenant, keys: t, rules: rl, windowStart: first.Start(rl.loc), days: res.Days, now: o.Now, ledger: res.ledger}

	// What the days hold before the run: nothing on a stack of its own;
	// the developer's data on a running `make dev`.
	if err := c.aggregate(ctx, first, today); err != nil {
		return nil, fmt.Errorf("load: aggregation before the run: %w", err)
	}
	before, _, err := c.observe(ctx, first, today)
	if err != nil {
		return nil, fmt.Errorf("load: KPIs before the run: %w", err)
	}

	rec := newRecorder()
	res.Elapsed, res.Scheduled, res.MaxStartLag = drive(ctx, c, g, rec, o)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: interrupted: %w", err)
	}
	res.Routes, res.All = rec.stats(res.Elapsed)

	start := time.Now()
	if err := c.aggregate(ctx, first, today); err != nil {
		return nil, fmt.Errorf("load: aggregation after the run: %w", err)
	}
	res.Aggregation = time.Since(start)
	after, incomplete, err := c.observe(ctx, first, today)
	if err != nil {
		return nil, fmt.Errorf("load: KPIs after the run: %w", err)
	}
	stored, err := storedIDs(ctx, t, res.Run, first.Start(rl.loc), today.End(rl.loc))
	if err != nil {
		return nil, fmt.Errorf("load: read the raw store: %w", err)
	}
	res.obs = observation{rules: rl, before: before, after: after, incomplete: incomplete, stored: stored}
	res.Check = verify(res.ledger, res.Days, res.obs)
	return res, nil
}

// drive sends the traffic: request i is due at start + i/rate, and is
// sent by the first free worker. It returns the time from start to the
// last answer, the number of requests scheduled, and the worst start lag.
func drive(ctx context.Context, c *client, g *generator, rec *recorder, o Options) (time.Duration, int, time.Duration) {
	interval := time.Duration(float64(time.Second) / o.Rate)
	total := int64(o.Duration / interval)
	start := time.Now().Add(10 * time.Millisecond)
	var next atomic.Int64
	var lagMu sync.Mutex
	var maxLag time.Duration
	done := make(chan struct{})
	if o.Progress != nil {
		go progress(o, rec, g.ledger, start, done)
	}
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				at := start.Add(time.Duration(i) * interval)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				if lag := time.Since(at); lag > 0 {
					lagMu.Lock()
					maxLag = max(maxLag, lag)
					lagMu.Unlock()
				}
				req := g.build(rand.New(rand.NewPCG(o.Seed, uint64(i))))
				out := c.do(ctx, req)
				out.latency = time.Since(at)
				rec.add(req.route, out)
			}
		})
	}
	wg.Wait()
	close(done)
	return time.Since(start), int(total), maxLag
}

func progress(o Options, rec *recorder, l *Ledger, start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(o.ProgressEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			n, errs, retries := rec.totals()
			fmt.Fprintf(o.Progress, "  %6s  %7d requests  %5d errors  %5d retried  %8d messages acknowledged\n",
				time.Since(start).Round(time.Second), n, errs, retries, l.Messages())
		}
	}
}
