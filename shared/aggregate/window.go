package aggregate

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
)

// readAhead is how many raw objects of a window are read and decoded
// ahead of the builder, at most: S3 answers a GET in tens of milliseconds,
// so the objects of a day (one per ingest request) are fetched many at a
// time, and decoded on every core while the builder takes them in order.
const readAhead = 32

// chunkLines is how many lines of an object are decoded together and
// handed to the builder at once; chunksAhead, how many chunks of one
// object may be read ahead of it. An object of any size is thus held a
// few thousand lines at a time.
//
// An object is read (gunzipped and split into lines) by one goroutine,
// and its chunks decoded by any: a day stored in a few big objects is
// decoded on every core, not one.
const (
	chunkLines  = 1024
	chunksAhead = 8
)

// object is one raw object of a window, read and decoded in chunks.
type object struct {
	key    string
	chunks chan *chunk
	err    error // set before chunks is closed
	// sealing: the object is the first of a UTC day after the local day.
	sealing bool
}

// chunk is some of an object's lines, decoded: the records alias buf.
// decoded is closed once recs and bad are set.
type chunk struct {
	buf     []byte
	ends    []int
	recs    []event.Record
	bad     []error // lines that would not decode
	decoded chan struct{}
	from    time.Time
	to      time.Time
}

var chunks = sync.Pool{New: func() any { return &chunk{} }}

// build feeds the window to a builder in the window's order (UTC day, then
// the objects' key order, then line order), whatever order the objects are
// read in, so the facts never depend on timing. With seal it promises the
// builder the day's end once the objects of UTC days after it begin
// (ingest files each event under its timestamp's UTC day).
func (s *Service) build(ctx context.Context, tenantID string, cfg kpi.Config, day kpi.Day, seal bool) (kpi.Facts, int, bool, error) {
	loc := cfg.Location()
	from, to := day.Start(loc).Add(-24*time.Hour), day.End(loc).Add(24*time.Hour)
	var objs []*object
	sealNext := false
	for _, u := range kpi.Days(kpi.DayOf(from, time.UTC), kpi.DayOf(to.Add(-time.Nanosecond), time.UTC)) {
		keys, err := s.Raw.Keys(ctx, RawKind, tenantID, u)
		if err != nil {
			return kpi.Facts{}, 0, false, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
		}
		if seal && !u.Start(time.UTC).Before(day.End(loc)) {
			sealNext, seal = true, false
		}
		for _, k := range keys {
			objs = append(objs, &object{key: k, sealing: sealNext, chunks: make(chan *chunk, chunksAhead)})
			sealNext = false
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var readers sync.WaitGroup
	decode := make(chan *chunk, chunksAhead)
	defer func() { // no reader sends to decode once it is closed
		cancel()
		readers.Wait()
		close(decode)
	}()
	jobs := make(chan *object)
	slots := make(chan struct{}, readAhead)
	go func() {
		defer close(jobs)
		for _, o := range objs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range runtime.GOMAXPROCS(0) {
		go func() {
			dec := event.NewLineDecoder()
			for c := range decode {
				c.decode(dec)
			}
		}()
	}
	for range min(readAhead, max(1, len(objs)), 4*runtime.GOMAXPROCS(0)) {
		readers.Go(func() {
			for o := range jobs {
				o.err = s.read(ctx, o, from, to, decode)
				close(o.chunks)
			}
		})
	}
	b := kpi.NewDayBuilder(cfg, day)
	n := 0
	for _, o := range objs {
		if o.sealing {
			b.NoMoreDay()
		}
		for c := range o.chunks {
			select {
			case <-c.decoded:
			case <-ctx.Done():
				return kpi.Facts{}, 0, false, fmt.Errorf("aggregate %s %s: %w", tenantID, day, ctx.Err())
			}
			for _, err := range c.bad {
				// Lines were validated on the way in; a broken one is
				// logged and left in place for inspection.
				s.Log.WarnContext(ctx, "unreadable raw line", "tenant", tenantID, "key", o.key, "err", err)
			}
			for i := range c.recs {
				b.Add(&c.recs[i])
			}
			n += len(c.recs)
			clear(c.recs)
			c.buf, c.ends, c.recs, c.bad = c.buf[:0], c.ends[:0], c.recs[:0], nil
			chunks.Put(c)
		}
		if o.err != nil {
			return kpi.Facts{}, 0, false, fmt.Errorf("aggregate %s %s: %w", tenantID, day, o.err)
		}
		<-slots
	}
	return b.Facts(), n, b.Broken(), nil
}

// decode decodes the chunk's lines, keeping the records of its window.
func (c *chunk) decode(dec *event.LineDecoder) {
	defer close(c.decoded)
	c.recs = slices.Grow(c.recs, len(c.ends))
	start := 0
	for _, end := range c.ends {
		c.recs = append(c.recs, event.Record{})
		r := &c.recs[len(c.recs)-1]
		err := dec.Decode(c.buf[start:end], r)
		start = end
		if err != nil {
			c.bad = append(c.bad, err)
			c.recs = c.recs[:len(c.recs)-1]
			continue
		}
		if r.Timestamp.Before(c.from) || !r.Timestamp.Before(c.to) {
			c.recs = c.recs[:len(c.recs)-1]
		}
	}
}

// read reads one object, chunk by chunk: each chunk goes to the object's
// queue, in order, and to the decoders.
func (s *Service) read(ctx context.Context, o *object, from, to time.Time, decode chan<- *chunk) error {
	c := chunks.Get().(*chunk)
	send := func() error {
		c.decoded, c.from, c.to = make(chan struct{}), from, to
		// To the decoders first: a chunk the builder takes is decoded.
		select {
		case decode <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case o.chunks <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		c = chunks.Get().(*chunk)
		return nil
	}
	err := s.Raw.Lines(ctx, o.key, func(line []byte) error {
		c.buf = append(c.buf, line...)
		c.ends = append(c.ends, len(c.buf))
		if len(c.ends) == chunkLines {
			return send()
		}
		return nil
	})
	if err == nil && len(c.ends) > 0 {
		err = send()
	}
	return err
}
