// Command ingestbench writes the ingest goals of `make bench` (bench/p356.sh):
//
//   - P3, from the output of BenchmarkIngest (go test, shared/ingest): the
//     handler's events/s in process against plain encoding/json decoding
//     of the same bodies, measured in the same run;
//
//   - P5: it starts the local stack (DynamoDB Local, the S3 server, the
//     `make dev` router on loopback, the same handlers), sends a fixed
//     number of realistic events in batches of 100 from a few concurrent
//     clients over HTTP, and reports events/s against RudderStack's
//     published 1.7 K events/s; a counting transport under the AWS SDK
//     clients counts every DynamoDB and S3 call, and the bytes stored. It
//     then aggregates one of the loaded days, counted the same way;
//
//   - P6: dollars per million events ingested and aggregated, from those
//     counts, the handler's CPU time (P3), the nightly run's events/s
//     (BenchmarkNightlyDay, from -agg) and AWS list prices.
//
//     go test -run '^$' -bench BenchmarkIngest -benchtime 3s ./shared/ingest/ > p3.txt
//     go test -run '^$' -bench BenchmarkNightlyDay -benchtime 1x ./shared/aggregate/ > agg.txt
//     go run ./bench/cmd/ingestbench -p3 p3.txt -agg agg.txt [-events 200000] [-clients 4]
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptakehq/uptake/bench/batches"
	"github.com/uptakehq/uptake/bench/result"
	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/shared/kpi"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

type options struct {
	events, clients, batch int
	users                  int
	p3File, aggFile        string
	runsPerDay             float64
	cpuProfile             string
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingestbench", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.events, "events", 200_000, "events to send end to end (P5)")
	fs.IntVar(&o.clients, "clients", 4, "concurrent HTTP clients")
	fs.IntVar(&o.batch, "batch", 100, "messages per batch")
	fs.IntVar(&o.users, "users", 2000, "identified users, and as many anonymous visitors, who send the events")
	fs.StringVar(&o.p3File, "p3", "", "output of go test -bench BenchmarkIngest ./shared/ingest/")
	fs.StringVar(&o.aggFile, "agg", "", "output of go test -bench BenchmarkNightlyDay ./shared/aggregate/")
	fs.Float64Var(&o.runsPerDay, "runs-per-day", 2, "nightly runs that read each day's events (see P6's notes)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the end-to-end load (this process: router, handlers, SDK clients, S3 server) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.p3File == "" || o.aggFile == "" {
		return errors.New("-p3 and -agg are required")
	}
	p3, err := parseBench(o.p3File, "BenchmarkIngest/")
	if err != nil {
		return err
	}
	agg, err := parseBench(o.aggFile, "BenchmarkNightlyDay")
	if err != nil {
		return err
	}
	if err := writeP3(p3); err != nil {
		return err
	}
	// P5 is written as soon as the load is over, before the nightly run
	// that P6 needs.
	m, err := measure(ctx, o, func(m measurement) error { return writeP5(o, m) })
	if err != nil {
		return err
	}
	return writeP6(o, m, p3, agg)
}

// parseBench returns the metrics of the benchmark lines whose name starts
// with prefix, by sub-benchmark name ("gzip", or "" for none).
func parseBench(path, prefix string) (map[string]map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		name := strings.TrimPrefix(f[0], prefix)
		if i := strings.LastIndexByte(name, '-'); i >= 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err == nil {
				m[f[i+1]] = v
			}
		}
		out[name] = m
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no %s lines", path, prefix)
	}
	return out, nil
}

func loadNote() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("machine: 2 shared cores, load average %s while measuring (other sessions' benchmarks run concurrently); the baseline is measured in the same run, so the ratio is what counts",
		strings.Join(strings.Fields(string(b))[:3], " "))
}

func writeP3(p3 map[string]map[string]float64) error {
	gz, plain := p3["gzip"], p3["nogzip"]
	if gz == nil || plain == nil {
		return errors.New("P3: BenchmarkIngest/gzip and /nogzip lines are needed")
	}
	r := result.Result{
		ID: "P3", Title: "Ingest handler in process: events/s on Segment batches of 100 against plain encoding/json decoding",
		Command: "go test -run '^$' -bench BenchmarkIngest -benchtime 3s ./shared/ingest/",
		Figures: []result.Figure{
			result.Higher("Service.Handle, batches of 100 (~750 B messages), lines gzipped as rawstore.Put does", gz["events/s"], "events/s",
				"encoding/json decoding of the same bodies into []event.Record", gz["decode-events/s"], "≥ 50% of the decode throughput", 0.5),
			result.Higher("Service.Handle, lines kept uncompressed", plain["events/s"], "events/s",
				"encoding/json decoding of the same bodies into []event.Record", plain["decode-events/s"], "≥ 50% of the decode throughput", 0.5),
		},
		Notes: []string{
			"In process: the write key is checked against an in-memory key store, and in-memory fakes of the raw store and the day marker keep the lines (the gzip figure compresses them as rawstore.Put does, which the Lambda pays for). S3 and DynamoDB time is P5's.",
			"The baseline is timed after each timed round of the same 20 bodies (2,000 messages), so both see the same machine load.",
			fmt.Sprintf("Handler CPU time per batch of 100: %.2f ms (gzip), %.2f ms (no gzip); allocations per round of 20 batches: %.0f.", gz["ns/batch"]/1e6, plain["ns/batch"]/1e6, gz["allocs/op"]),
			"Profiled (pprof CPU and allocations, bench/results/pprof/p3-*-before/after.pprof): before, JSON was scanned 5 to 6 times per message (json.Valid of the body, json.Unmarshal of the body, of the batch array, of each message into a map, of each field and of the context, then json.Marshal re-validating every member); the ratio was 0.13 to 0.18 with gzip, 0.23 to 0.27 without. Fixed: the body is validated once, then walked (shared/event/scan.go) without decoding again; messages are split, their members read and the context decoded by the walk; the line is written directly with the same bytes as before (checked byte for byte against the old implementation by TestParseSameAsReference and FuzzParseSameAsReference); common member names are interned; rawstore reuses gzip writers (a 1 MB compressor was allocated per request).",
			"What remains: the one json.Valid scan of the body (needed: the body must be valid JSON), the walk, sorting each message's members (the stored line keeps the sorted order it always had) and gzip (about a quarter of the handler's time).",
			loadNote(),
		},
	}
	return result.Write(r, "")
}

// measurement is what the local stack run measured.
type measurement struct {
	events, requests  int
	elapsed           time.Duration
	latencies         []time.Duration
	ingestOps         map[string]int
	ingestWRU, ingRRU float64
	putBytes          int64
	aggOps            map[string]int
	aggWRU, aggRRU    float64
	aggEvents         int // events of the aggregated day
	aggRead           int // events the run read (the day and its neighbours)
	aggElapsed        time.Duration
	load              string
	// CPU seconds DynamoDB Local and this process (router, handlers,
	// SDK clients, S3 server, load clients) used during the load.
	javaCPU, selfCPU float64
}

// cpuSeconds is the user and system CPU time of a process so far, from
// /proc (0 where there is none).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var utime, stime float64
	if len(f) > 12 {
		fmt.Sscan(f[11], &utime)
		fmt.Sscan(f[12], &stime)
	}
	return (utime + stime) / 100 // USER_HZ
}

func measure(ctx context.Context, o options, loaded func(measurement) error) (m measurement, err error) {
	dir, err := os.MkdirTemp("", "uptake-ingestbench-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(dir)
	db, err := localstack.StartDynamoDB(ctx, localstack.DynamoDBOptions{DataDir: filepath.Join(dir, "dynamodb")})
	if err != nil {
		return m, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	defer db.Stop()
	s3, err := localstack.StartS3(localstack.S3Options{})
	if err != nil {
		return m, fmt.Errorf("start S3 server: %w", err)
	}
	defer s3.Stop()
	counted := newCalls(http.DefaultTransport.(*http.Transport).Clone())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ds, err := devstack.New(ctx, devstack.Options{DynamoDBEndpoint: db.Endpoint(), S3Endpoint: s3.Endpoint(), Table: "uptake", Bucket: "uptake-bench", Log: log, Transport: counted})
	if err != nil {
		return m, err
	}
	demo := devstack.Demo()
	if err := ds.Provision(ctx, demo); err != nil {
		return m, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return m, err
	}
	srv := &http.Server{Handler: ds.Router, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/batch"

	// The bodies, made before the clock starts: batches sent today, and
	// (as late as a day's events are in steady state) yesterday and the
	// day before, one in three each, so that a whole day can be
	// aggregated with its neighbours.
	now := time.Now().UTC()
	nBatches := o.events / o.batch
	bodies := make([][]byte, nBatches)
	perDay := map[kpi.Day]int{}
	var wg sync.WaitGroup
	for w := range o.clients {
		wg.Go(func() {
			var at time.Time
			g := batches.New(batches.Options{Seed: uint64(w + 1), Users: o.users, Clock: func() time.Time { return at }})
			for i := w; i < nBatches; i += o.clients {
				at = now.Add(-time.Duration(i%3) * 24 * time.Hour)
				bodies[i] = g.Batch(o.batch)
			}
		})
	}
	wg.Wait()
	for i := range nBatches {
		perDay[kpi.DayOf(now.Add(-time.Duration(i%3)*24*time.Hour), time.UTC)] += o.batch
	}
	counted.snapshot() // provisioning is not ingest

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(string(demo.WriteKey)+":"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients}, Timeout: time.Minute}
	var next atomic.Int64
	lat := make([][]time.Duration, o.clients)
	errs := make([]error, o.clients)
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return m, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return m, err
		}
	}
	javaCPU0, selfCPU0 := cpuSeconds(db.PID()), cpuSeconds(os.Getpid())
	start := time.Now()
	for w := range o.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= nBatches {
					return
				}
				t0 := time.Now()
				if err := send(ctx, client, url, auth, bodies[i], o.batch); err != nil {
					errs[w] = fmt.Errorf("batch %d: %w", i, err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	m.elapsed = time.Since(start)
	pprof.StopCPUProfile()
	m.javaCPU, m.selfCPU = cpuSeconds(db.PID())-javaCPU0, cpuSeconds(os.Getpid())-selfCPU0
	m.load = loadNote()
	if err := errors.Join(errs...); err != nil {
		return m, err
	}
	m.events, m.requests = nBatches*o.batch, nBatches
	m.latencies = slices.Concat(lat...)
	slices.Sort(m.latencies)
	m.ingestOps, m.ingestWRU, m.ingRRU, m.putBytes = counted.snapshot()

	if err := loaded(m); err != nil {
		return m, err
	}
	fmt.Fprintf(os.Stderr, "P5: %.0f events/s; aggregating for P6\n", float64(m.events)/m.elapsed.Seconds())

	// The nightly run of yesterday, once the day before has been run (so
	// that the tenant's users are known, as in steady state).
	yesterday := kpi.DayOf(now, time.UTC).AddDays(-1)
	if _, err := ds.App.Aggregate.Run(ctx, demo.ID, []kpi.Day{yesterday.AddDays(-1)}); err != nil {
		return m, fmt.Errorf("aggregate %s: %w", yesterday.AddDays(-1), err)
	}
	counted.snapshot()
	t0 := time.Now()
	if _, err := ds.App.Aggregate.Run(ctx, demo.ID, []kpi.Day{yesterday}); err != nil {
		return m, fmt.Errorf("aggregate %s: %w", yesterday, err)
	}
	m.aggElapsed = time.Since(t0)
	m.aggOps, m.aggWRU, m.aggRRU, _ = counted.snapshot()
	m.aggEvents = perDay[yesterday]
	for _, d := range kpi.Days(yesterday.AddDays(-1), yesterday.AddDays(1)) {
		m.aggRead += perDay[d]
	}
	return m, nil
}

func send(ctx context.Context, client *http.Client, url, auth string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var res struct{ Accepted int }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Accepted != want {
		return fmt.Errorf("answer %d: %s", resp.StatusCode, b)
	}
	return nil
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// perMillion scales counts of n events to a million.
func perMillion(ops map[string]int, n int) map[string]float64 {
	out := map[string]float64{}
	for k, v := range ops {
		out[k] = float64(v) * 1e6 / float64(n)
	}
	return out
}

func describe(ops map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range ops {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, ops[k]))
	}
	return strings.Join(parts, ", ")
}

func writeP5(o options, m measurement) error {
	rate := float64(m.events) / m.elapsed.Seconds()
	ing := perMillion(m.ingestOps, m.events)
	r := result.Result{
		ID: "P5", Title: "End-to-end ingest on the local stack: events/s with batches of 100",
		Command: fmt.Sprintf("go run ./bench/cmd/ingestbench -events %d -clients %d (bench/p356.sh)", o.events, o.clients),
		Figures: []result.Figure{
			result.Higher(fmt.Sprintf("POST /v1/batch over HTTP, %d events in batches of %d, %d clients", m.events, o.batch, o.clients), rate, "events/s",
				"RudderStack's published 1.7 K events/s on 2 cores", 1700, "≥ 10× RudderStack", 10),
		},
		Notes: []string{
			"The local stack of `make dev`, real parts: the router and handlers of template.yaml's routes, AWS SDK clients against DynamoDB Local (Java) and the S3 server (gofakes3), all on the same 2 cores as the load generator; bodies are made before the clock starts.",
			fmt.Sprintf("%d requests in %s; latency p50 %s, p99 %s, max %s.", m.requests, m.elapsed.Round(time.Millisecond),
				quantile(m.latencies, 0.5).Round(time.Microsecond), quantile(m.latencies, 0.99).Round(time.Microsecond), quantile(m.latencies, 1).Round(time.Microsecond)),
			fmt.Sprintf("CPU during the load: DynamoDB Local %.1f s, this process (router, handlers, SDK clients, S3 server, load clients) %.1f s, over %.1f s of wall time: the emulator, not Uptake's code, is most of the work (profile of this process: bench/results/pprof/p5-cpu.pprof).", m.javaCPU, m.selfCPU, m.elapsed.Seconds()),
			"AWS calls per million events ingested (counted under the SDK clients): " + describe(ing) + ".",
			fmt.Sprintf("DynamoDB units per million events ingested (estimated from the wire sizes, an upper bound): %.0f WRU, %.0f RRU; gzipped raw bytes stored: %.1f MB per million events (%.0f bytes per event).",
				m.ingestWRU*1e6/float64(m.events), m.ingRRU*1e6/float64(m.events), float64(m.putBytes)/float64(m.events), float64(m.putBytes)/float64(m.events)),
			"RudderStack's figure is their published benchmark on 2 cores, not measured here; the local stack is not AWS (no network between the parts), so this is the software's ceiling on 2 cores, not a production figure.",
			m.load,
		},
	}
	return result.Write(r, "")
}
