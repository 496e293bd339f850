package ingest_test

// P3 of the benchmarks: the ingest handler's throughput in process, against
// the floor any handler pays, measured (never asserted) by
//
//	go test -run '^$' -bench BenchmarkIngest -benchtime 3s ./shared/ingest/
//
// BenchmarkIngest sends realistic Segment batches (bench/batches: 100
// messages of track, page, identify and screen calls, about 750 bytes
// each) through Service.Handle as API Gateway delivers them, with the write
// key checked against an in-memory key store and the accepted lines kept
// by in-memory fakes of the raw store and the day marker. The fakes stand
// in for S3 and DynamoDB only: their network time is P5's business (end to
// end on the local stack), this is the CPU a request costs. The raw store
// fake compresses the lines as rawstore.Put does, because the Lambda pays
// for that compression; BenchmarkIngest/nogzip keeps the bytes as they are.
//
// The baseline, decode-events/s, is plain encoding/json decoding of the same
// bodies into the same shape of Go values ({"batch": [event.Record...]}),
// measured (timer stopped) right after each timed round so that both see
// the same machine load. ratio-vs-decode is events/s ÷ decode-events/s.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/bench/batches"
	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/ingest"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
	"github.com/uptakehq/uptake/shared/tenant"
)

const (
	benchBatches   = 20  // bodies per round
	benchBatchSize = 100 // messages per body
	benchKey       = "bench-write-key"
)

var benchNow = time.Date(2026, 10, 14, 15, 4, 5, 0, time.UTC)

// keyStore is the in-memory key store: hash → tenant and kind.
type keyStore map[string]struct {
	tenant string
	kind   tenant.Kind
}

func (k keyStore) LookupKey(_ context.Context, hash string) (string, tenant.Kind, bool, error) {
	v, ok := k[hash]
	return v.tenant, v.kind, ok, nil
}

// memRaw keeps each Put's object: gzipped NDJSON as rawstore.Put writes
// it, or the plain NDJSON when plain is set.
type memRaw struct {
	plain bool
	mu    sync.Mutex
	objs  map[string][]byte
	lines int
	seq   int
}

func (m *memRaw) Put(_ context.Context, kind, tenantID string, day kpi.Day, receivedAt, _ time.Time, lines [][]byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var obj []byte
	if m.plain {
		for _, l := range lines {
			obj = append(append(obj, l...), '\n')
		}
	} else {
		var err error
		if obj, err = rawstore.Encode(lines); err != nil {
			return "", err
		}
	}
	m.seq++
	key := kind + "/tenant=" + tenantID + "/dt=" + day.String() + "/" + strconv.FormatInt(receivedAt.UnixNano(), 10) + "-" + strconv.Itoa(m.seq) + ".ndjson.gz"
	m.objs[key] = obj
	m.lines += len(lines)
	return key, nil
}

func (m *memRaw) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}

func (m *memRaw) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs, m.lines = map[string][]byte{}, 0
}

// dayMarker records the marks.
type dayMarker struct {
	mu    sync.Mutex
	marks map[kpi.Day]time.Time
}

func (d *dayMarker) MarkDirty(_ context.Context, _ string, days []kpi.Day, at time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, day := range days {
		d.marks[day] = at
	}
	return nil
}

// benchBodies are the requests of a round, made once.
func benchBodies() []events.APIGatewayV2HTTPRequest {
	g := batches.New(batches.Options{Seed: 3, Clock: func() time.Time { return benchNow }})
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(benchKey+":"))
	reqs := make([]events.APIGatewayV2HTTPRequest, benchBatches)
	for i := range reqs {
		reqs[i] = events.APIGatewayV2HTTPRequest{
			RouteKey: "POST /v1/batch", RawPath: "/v1/batch",
			Headers: map[string]string{"authorization": auth, "content-type": "application/json", "user-agent": "analytics-node/2.1.0"},
			Body:    string(g.Batch(benchBatchSize)),
		}
	}
	return reqs
}

func newBenchService(plain bool) (*ingest.Service, *memRaw) {
	raw := &memRaw{plain: plain, objs: map[string][]byte{}}
	keys := keyStore{tenant.HashKey(benchKey): {tenant: "bench", kind: tenant.Write}}
	return &ingest.Service{
		Raw: raw, Days: &dayMarker{marks: map[kpi.Day]time.Time{}}, Auth: tenant.Authenticator{Keys: keys},
		Now: func() time.Time { return benchNow }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, raw
}

// decodeBaseline decodes the bodies as plain encoding/json does.
func decodeBaseline(reqs []events.APIGatewayV2HTTPRequest) (int, error) {
	n := 0
	for _, req := range reqs {
		var b struct {
			Batch  []event.Record `json:"batch"`
			SentAt string         `json:"sentAt"`
		}
		if err := json.Unmarshal([]byte(req.Body), &b); err != nil {
			return 0, err
		}
		n += len(b.Batch)
	}
	return n, nil
}

func BenchmarkIngest(b *testing.B) {
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"gzip", false}, {"nogzip", true}} {
		b.Run(bc.name, func(b *testing.B) {
			reqs := benchBodies()
			bytesIn := 0
			for _, r := range reqs {
				bytesIn += len(r.Body)
			}
			svc, raw := newBenchService(bc.plain)
			ctx := context.Background()
			var decodeTime time.Duration
			b.SetBytes(int64(bytesIn))
			b.ReportAllocs()
			for b.Loop() {
				for _, req := range reqs {
					resp, err := svc.Handle(ctx, req)
					if err != nil || resp.StatusCode != 200 {
						b.Fatalf("answer %d %v: %s", resp.StatusCode, err, resp.Body)
					}
				}
				b.StopTimer()
				if raw.lines != benchBatches*benchBatchSize {
					b.Fatalf("the store kept %d lines, want %d", raw.lines, benchBatches*benchBatchSize)
				}
				raw.reset()
				t0 := time.Now()
				if _, err := decodeBaseline(reqs); err != nil {
					b.Fatal(err)
				}
				decodeTime += time.Since(t0)
				b.StartTimer()
			}
			evs := float64(b.N * benchBatches * benchBatchSize)
			rate := evs / b.Elapsed().Seconds()
			decodeRate := evs / decodeTime.Seconds()
			b.ReportMetric(rate, "events/s")
			b.ReportMetric(decodeRate, "decode-events/s")
			b.ReportMetric(rate/decodeRate, "ratio-vs-decode")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatches), "ns/batch")
		})
	}
}

func BenchmarkDecodeBaseline(b *testing.B) {
	reqs := benchBodies()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		var err error
		if n, err = decodeBaseline(reqs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestBenchFakes checks the benchmark's set-up without timing anything:
// every message of the bodies is accepted and kept.
func TestBenchFakes(t *testing.T) {
	reqs := benchBodies()
	svc, raw := newBenchService(false)
	for _, req := range reqs {
		resp, err := svc.Handle(context.Background(), req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("answer %d %v: %s", resp.StatusCode, err, resp.Body)
		}
		var res ingest.Result
		if err := json.Unmarshal([]byte(resp.Body), &res); err != nil {
			t.Fatal(err)
		}
		if res.Accepted != benchBatchSize || len(res.Rejected) != 0 {
			t.Fatalf("result %+v", res)
		}
	}
	if raw.lines != benchBatches*benchBatchSize {
		t.Errorf("the store kept %d lines, want %d", raw.lines, benchBatches*benchBatchSize)
	}
	n, err := decodeBaseline(reqs)
	if err != nil || n != benchBatches*benchBatchSize {
		t.Errorf("baseline decoded %d messages, %v", n, err)
	}
}
