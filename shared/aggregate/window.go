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
	"github.com/uptakehq/uptake/shared/rawstore"
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
	mode    peekMode
}

// peekMode says which of an object's lines are decoded in full. Most lines
// of the UTC days on either side of the day cannot change its facts: a
// line is first peeked at (event.LineDecoder.Peek: its ids and time, in
// half the time of a full decode), and decoded only if it can. A line
// left out is not checked further: one that would not decode is logged
// by the run of its own day, which decodes it.
type peekMode uint8

const (
	// decodeAll: an object of a UTC day that holds events of the day.
	decodeAll peekMode = iota
	// peekBefore: an object of a UTC day that ends before the day
	// starts: lines before the builder's Before are left out, and so is
	// the whole object if its name says its latest event is
	// (rawstore.Latest).
	peekBefore
	// peekAfter: an object read after the builder is sealed: lines after
	// the day whose visitor and user are outside the builder's Interest
	// are left out; until the builder has sealed, the chunk's lines are
	// only peeked at, and the builder asks Wants of each (peeked).
	peekAfter
)

// peekTest lets tests read a window in full, or have the builder decide
// on every peeked line, to compare the facts with the default's.
type peekTest uint8

const (
	peekDefault peekTest = iota
	peekNever
	peekBuilderOnly
)

// interest is the builder's Interest, published to the decoders once it
// has sealed: ready is closed after ids is set.
type interest struct {
	ready chan struct{}
	ids   map[string]struct{}
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

	mode   peekMode
	before int64     // peekBefore: the builder's Before
	end    int64     // peekAfter: the day's end
	in     *interest // peekAfter
	// peeked: recs hold only what Peek reads, and line[i] is the line
	// of recs[i], for the builder to decode those it wants.
	peeked bool
	line   []int32
	// window counts the lines of the window, left out or not.
	window int
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
	b := kpi.NewDayBuilder(cfg, day)
	var objs []*object
	sealNext, sealed := false, false
	for _, u := range kpi.Days(kpi.DayOf(from, time.UTC), kpi.DayOf(to.Add(-time.Nanosecond), time.UTC)) {
		keys, err := s.Raw.Keys(ctx, RawKind, tenantID, u)
		if err != nil {
			return kpi.Facts{}, 0, false, fmt.Errorf("aggregate %s %s: %w", tenantID, day, err)
		}
		mode := decodeAll
		if !u.End(time.UTC).After(day.Start(loc)) {
			mode = peekBefore
		}
		if seal && !u.Start(time.UTC).Before(day.End(loc)) {
			sealNext, seal, sealed = true, false, true
		}
		if sealed {
			mode = peekAfter
		}
		if s.peek == peekNever {
			mode = decodeAll
		}
		for _, k := range keys {
			if latest, ok := rawstore.Latest(k); ok && mode == peekBefore && latest.UnixNano() < b.Before() {
				continue // every line of it would be left out
			}
			objs = append(objs, &object{key: k, sealing: sealNext, mode: mode, chunks: make(chan *chunk, chunksAhead)})
			sealNext = false
		}
	}
	in := &interest{ready: make(chan struct{})}
	if s.peek == peekBuilderOnly {
		in.ready = nil // never ready: the decoders only peek
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
				o.err = s.read(ctx, o, window{from: from, to: to, before: b.Before(), end: b.End(), in: in}, decode)
				close(o.chunks)
			}
		})
	}
	dec := event.NewLineDecoder()
	var full event.Record
	n := 0
	for _, o := range objs {
		if o.sealing {
			b.NoMoreDay()
			if in.ready != nil {
				in.ids = b.Interest()
				close(in.ready)
			}
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
				if !c.peeked {
					b.Add(&c.recs[i])
					continue
				}
				if !b.Wants(&c.recs[i]) {
					continue
				}
				if err := dec.Decode(c.lineOf(int(c.line[i])), &full); err != nil {
					s.Log.WarnContext(ctx, "unreadable raw line", "tenant", tenantID, "key", o.key, "err", err)
					continue
				}
				b.Add(&full)
			}
			n += c.window
			clear(c.recs)
			c.buf, c.ends, c.recs, c.bad, c.line = c.buf[:0], c.ends[:0], c.recs[:0], nil, c.line[:0]
			chunks.Put(c)
		}
		if o.err != nil {
			return kpi.Facts{}, 0, false, fmt.Errorf("aggregate %s %s: %w", tenantID, day, o.err)
		}
		<-slots
	}
	return b.Facts(), n, b.Broken(), nil
}

// lineOf returns the chunk's line i.
func (c *chunk) lineOf(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.buf[start:c.ends[i]]
}

// decode decodes the chunk's lines, keeping the records of its window
// (and of those peeked at, the ones that can matter).
func (c *chunk) decode(dec *event.LineDecoder) {
	defer close(c.decoded)
	c.recs = slices.Grow(c.recs, len(c.ends))
	var ids map[string]struct{}
	if c.mode == peekAfter {
		select {
		case <-c.in.ready:
			ids = c.in.ids
		default:
			c.peeked = true // the builder is not sealed yet: it decides
		}
	}
	for i := range c.ends {
		line := c.lineOf(i)
		c.recs = append(c.recs, event.Record{})
		r := &c.recs[len(c.recs)-1]
		var err error
		if c.mode == decodeAll {
			err = dec.Decode(line, r)
		} else if err = dec.Peek(line, r); err != nil {
			err = dec.Decode(line, r) // Decode's error, which Peek's implies
		}
		if err != nil {
			c.bad = append(c.bad, err)
			c.recs = c.recs[:len(c.recs)-1]
			continue
		}
		if r.Timestamp.Before(c.from) || !r.Timestamp.Before(c.to) {
			c.recs = c.recs[:len(c.recs)-1]
			continue
		}
		c.window++
		if c.mode == decodeAll {
			loadProps(r)
			continue
		}
		switch c.mode {
		case peekBefore:
			if r.Timestamp.UnixNano() < c.before {
				c.recs = c.recs[:len(c.recs)-1]
				continue
			}
		case peekAfter:
			if c.peeked {
				c.line = append(c.line, int32(i))
				continue
			}
			if !c.wanted(r, ids) {
				c.recs = c.recs[:len(c.recs)-1]
				continue
			}
		}
		if err := dec.Decode(line, r); err != nil {
			c.bad = append(c.bad, err)
			c.recs = c.recs[:len(c.recs)-1]
			continue
		}
		loadProps(r)
	}
}

// loadProps decodes the properties the builder reads (pages' and some
// track events'), here rather than on the builder's goroutine, which the
// run waits for.
func loadProps(r *event.Record) {
	if r.Type == event.Page || r.Type == event.Track && kpi.ReadsProperties(r.Event) {
		r.LoadProps()
	}
}

// wanted is DayBuilder.Wants from the builder's Interest: a record of the
// day or before it, or of a visitor or user in ids.
func (c *chunk) wanted(r *event.Record, ids map[string]struct{}) bool {
	if r.Timestamp.UnixNano() < c.end {
		return true
	}
	if _, ok := ids[r.Visitor()]; ok {
		return true
	}
	_, ok := ids[r.User()]
	return ok
}

// window is what a window's chunks are read against.
type window struct {
	from, to    time.Time
	before, end int64
	in          *interest
}

// read reads one object, chunk by chunk: each chunk goes to the object's
// queue, in order, and to the decoders.
func (s *Service) read(ctx context.Context, o *object, w window, decode chan<- *chunk) error {
	c := chunks.Get().(*chunk)
	send := func() error {
		c.decoded, c.from, c.to = make(chan struct{}), w.from, w.to
		c.mode, c.before, c.end, c.in, c.peeked, c.window = o.mode, w.before, w.end, w.in, false, 0
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
