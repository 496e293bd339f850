package backfill

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uptakehq/uptake/shared/event"
)

// Kind is what an input file holds.
type Kind string

// Kinds of input.
const (
	Events  Kind = "events"  // Segment-format NDJSON, one message a line
	Surveys Kind = "surveys" // a survey tool's CSV export
	Tickets Kind = "tickets" // a help desk's CSV export
)

// Input is one file to import. An empty Kind is found from the name
// (.ndjson, .jsonl, .json: events) and, for CSV, from its header.
type Input struct {
	Path string
	Kind Kind
}

// ParseInput reads a command-line argument: PATH, or KIND=PATH with KIND
// one of events, surveys, tickets.
func ParseInput(arg string) (Input, error) {
	if k, p, ok := strings.Cut(arg, "="); ok {
		switch Kind(k) {
		case Events, Surveys, Tickets:
			return Input{Path: p, Kind: Kind(k)}, nil
		}
	}
	if arg == "" {
		return Input{}, errors.New("empty file name")
	}
	return Input{Path: arg}, nil
}

// record is one line (NDJSON) or row (CSV) of an input, ready to send.
type record struct {
	line int // 1-based line where it starts
	// msg is the Segment message for /v1/batch; payload, for surveys and
	// tickets, the generic webhook's body.
	msg, payload []byte
	at           time.Time // the event's time
	since        time.Time // for a ticket, its creation (its KPIs' day)
	generatedID  bool      // msg got a messageId from the file and line
	err          error     // why it cannot be sent (reported with the line)
	blank        bool      // an empty line: nothing to send, nothing wrong
}

// reader yields an input's records in order.
type reader interface {
	next() (record, error) // io.EOF at the end
	kind() Kind
}

// countingReader counts the bytes read from the file (compressed, for a
// gzipped file), for the progress bar.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// opened is an input file open for reading.
type opened struct {
	reader
	file  *os.File
	count *countingReader
	size  int64
}

func (o *opened) Close() error { return o.file.Close() }

// open opens an input, decompressing a gzipped one (found by its magic
// bytes, whatever its name), and picks its reader.
func open(in Input, opts *Options) (*opened, error) {
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	o := &opened{file: f, count: &countingReader{r: f}, size: st.Size()}
	br := bufio.NewReaderSize(o.count, 64*1024)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", in.Path, err)
		}
		r = gz
	}
	kind := in.Kind
	name := strings.ToLower(strings.TrimSuffix(strings.ToLower(in.Path), ".gz"))
	if kind == "" {
		switch filepath.Ext(name) {
		case ".ndjson", ".jsonl", ".json", ".log":
			kind = Events
		case ".csv":
		default:
			f.Close()
			return nil, fmt.Errorf("%s: cannot tell what it holds from its name: name it .ndjson or .csv, or write events=PATH, surveys=PATH or tickets=PATH", in.Path)
		}
	}
	if kind == Events {
		o.reader = &ndjsonReader{r: bufio.NewReaderSize(r, 64*1024), file: filepath.Base(in.Path), now: opts.Now}
		return o, nil
	}
	cr, err := newCSVReader(r, in.Path, kind, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	o.reader = cr
	return o, nil
}

// ndjsonReader reads Segment messages, one a line.
type ndjsonReader struct {
	r    *bufio.Reader
	file string
	line int
	now  func() time.Time
}

func (n *ndjsonReader) kind() Kind { return Events }

func (n *ndjsonReader) next() (record, error) {
	raw, err := n.r.ReadBytes('\n')
	if len(raw) == 0 && err != nil {
		return record{}, err
	}
	if err != nil && err != io.EOF {
		return record{}, err
	}
	n.line++
	rec := record{line: n.line}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		rec.blank = true
		return rec, nil
	}
	rec.msg, rec.at, rec.generatedID, rec.err = prepareEvent(raw, n.file, n.line, n.now())
	return rec, nil
}

// prepareEvent checks one exported message as the API will, after giving
// it what a back-fill needs: a messageId (made from the file name, line
// number and content when missing, so that a re-run makes the same one)
// and a timestamp (Segment's: from originalTimestamp, sentAt and
// receivedAt when missing; never the import's time).
func prepareEvent(raw []byte, file string, line int, now time.Time) ([]byte, time.Time, bool, error) {
	if len(raw) > event.MaxMessageBytes {
		return nil, time.Time{}, false, fmt.Errorf("message is %d bytes, over the API's 32 KB limit", len(raw))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, time.Time{}, false, errors.New("not a JSON object")
	}
	changed, generated := false, false
	if id, ok := m["messageId"]; !ok || isNullOrEmpty(id) {
		sum := sha256.Sum256([]byte(file + "\x00" + strconv.Itoa(line) + "\x00" + string(raw)))
		m["messageId"] = jsonString("import-" + hex.EncodeToString(sum[:16]))
		changed, generated = true, true
	}
	if ts, ok := m["timestamp"]; !ok || isNullOrEmpty(ts) {
		t, err := segmentTimestamp(m)
		if err != nil {
			return nil, time.Time{}, false, err
		}
		m["timestamp"] = jsonString(t.UTC().Format(time.RFC3339Nano))
		changed = true
	}
	msg := raw
	if changed {
		var err error
		if msg, err = json.Marshal(m); err != nil {
			return nil, time.Time{}, false, err
		}
		if len(msg) > event.MaxMessageBytes {
			return nil, time.Time{}, false, fmt.Errorf("message is %d bytes with its messageId and timestamp, over the API's 32 KB limit", len(msg))
		}
	}
	p, err := event.Parse(msg, event.Arrival{ReceivedAt: now})
	if err != nil {
		return nil, time.Time{}, false, err
	}
	return msg, p.Record.Timestamp, generated, nil
}

// segmentTimestamp is Segment's timestamp of a message that lacks one:
// receivedAt − (sentAt − originalTimestamp), else originalTimestamp, else
// receivedAt.
func segmentTimestamp(m map[string]json.RawMessage) (time.Time, error) {
	get := func(name string) (time.Time, bool, error) {
		v, ok := m[name]
		if !ok || isNullOrEmpty(v) {
			return time.Time{}, false, nil
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return time.Time{}, false, fmt.Errorf("%s must be an ISO 8601 date-time string", name)
		}
		t, err := event.ParseTime(s)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s %q is not an ISO 8601 date-time", name, s)
		}
		return t, true, nil
	}
	orig, hasOrig, err := get("originalTimestamp")
	if err != nil {
		return time.Time{}, err
	}
	sent, hasSent, err := get("sentAt")
	if err != nil {
		return time.Time{}, err
	}
	recv, hasRecv, err := get("receivedAt")
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case hasOrig && hasSent && hasRecv:
		return recv.Add(-sent.Sub(orig)), nil
	case hasOrig:
		return orig, nil
	case hasRecv:
		return recv, nil
	}
	return time.Time{}, errors.New("no timestamp (nor originalTimestamp or receivedAt): a back-filled event needs its time")
}

func isNullOrEmpty(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null" || string(v) == `""`
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// csvReader reads a survey or ticket export.
type csvReader struct {
	r    *csv.Reader
	k    Kind
	cols columns
	opts *Options
}

func (c *csvReader) kind() Kind { return c.k }

func newCSVReader(r io.Reader, path string, kind Kind, opts *Options) (*csvReader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, with its line
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, no header", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if kind == "" {
		kind = guessKind(header)
		if kind == "" {
			return nil, fmt.Errorf("%s:1: cannot tell a survey export from a ticket export by its header %q: write surveys=PATH or tickets=PATH", path, header)
		}
	}
	cols, err := mapHeader(kind, header)
	if err != nil {
		return nil, fmt.Errorf("%s:1: %w", path, err)
	}
	return &csvReader{r: cr, k: kind, cols: cols, opts: opts}, nil
}

func (c *csvReader) next() (record, error) {
	row, err := c.r.Read()
	if err == io.EOF {
		return record{}, err
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// The reader goes on after a malformed row.
			return record{line: pe.StartLine, err: fmt.Errorf("malformed CSV: %v", pe.Err)}, nil
		}
		return record{}, err
	}
	line, _ := c.r.FieldPos(0)
	rec := record{line: line}
	if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
		rec.blank = true
		return rec, nil
	}
	if c.k == Surveys {
		rec.payload, rec.msg, rec.at, rec.err = c.cols.survey(row, c.opts)
	} else {
		rec.payload, rec.msg, rec.at, rec.since, rec.err = c.cols.ticket(row)
	}
	if rec.err == nil {
		_, rec.err = event.Parse(rec.msg, event.Arrival{ReceivedAt: c.opts.Now()})
	}
	return rec, nil
}
