package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/ingest"
	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// Via says how survey and ticket rows reach the API.
const (
	// ViaBatch sends them to POST /v1/batch with the write key, as the
	// messages the generic webhooks make of them (same messageIds, so a
	// live delivery of the same answer counts once): 500 to a request,
	// and no alert is raised for a years-old detractor.
	ViaBatch = "batch"
	// ViaWebhook posts each row to /v1/webhooks/{survey|ticket}/{tenant},
	// signed with the tenant's webhook secret.
	ViaWebhook = "webhook"
)

// Options configure an import.
type Options struct {
	URL                string // the API, such as http://127.0.0.1:3000
	WriteKey, AdminKey string
	// Tenant and WebhookSecret sign the webhook routes (Via webhook).
	Tenant, WebhookSecret string
	Via                   string // ViaBatch (default) or ViaWebhook
	// Checkpoint is the checkpoint file; an existing one written for the
	// same inputs is resumed unless Restart.
	Checkpoint string
	Restart    bool
	// DryRun checks every line and row as the API would, sends nothing.
	DryRun bool
	// BatchCount bounds the messages of a batch (its bytes are bounded by
	// the API's 500 KB); 0 is 500.
	BatchCount int
	// AggregateDays is the number of days each aggregation request covers
	// (a deployed API's requests end at 30 s); 0 is 7.
	AggregateDays int
	// SurveyType and SurveyID fill survey rows whose export has no such
	// column.
	SurveyType, SurveyID string
	HTTP                 *http.Client
	// Timeout bounds one attempt of a batch or a delivery (0: 2 minutes),
	// AggregateTimeout one of an aggregation run (0: 15 minutes): an
	// attempt that takes longer is abandoned and retried.
	Timeout, AggregateTimeout time.Duration
	// Backoff makes each request's retry schedule; nil is exponential
	// from 0.5 s to 30 s with ±50% jitter. RetryFor bounds a request's
	// retries (0: 10 minutes).
	Backoff  func() backoff.BackOff
	RetryFor time.Duration
	Now      func() time.Time
	// Progress shows the import's advance; nil shows nothing.
	Progress Progress
	// Log receives retries and rejected lines as they happen; nil
	// discards them.
	Log io.Writer
}

// Problem is a line or row that was not imported, and why.
type Problem struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Reason) }

// Report is what an import did.
type Report struct {
	DryRun  bool `json:"dry_run"`
	Resumed bool `json:"resumed"`
	// Records are the lines and rows read (blank lines aside); Valid, the
	// ones that passed the checks; Skipped, the ones a resumed run found
	// done already.
	Records, Valid, Skipped int
	// Sent are the messages (or webhook deliveries) sent; Accepted,
	// Duplicates and Rejected are the API's counts of them.
	Sent, Accepted, Duplicates, Rejected int
	Requests, Retries                    int
	// GeneratedIDs are the events that had no messageId and got one made
	// from their file name, line number and content.
	GeneratedIDs int
	Problems     []Problem
	// From and To are the days of the events (UTC), Aggregations the
	// answers of the aggregation runs.
	From, To     string
	Aggregations []json.RawMessage
}

// importer is one run.
type importer struct {
	o   Options
	c   client
	cp  Checkpoint
	rep Report
	// progress: bytes of the files before the current one, and the total.
	doneBytes, totalBytes int64
}

// Run imports the inputs, then aggregates the days they touched. An error
// stops it; the checkpoint keeps what was acknowledged, so running it
// again resumes. Lines the API or the checks reject do not stop it: they
// are in the report's Problems.
func Run(ctx context.Context, inputs []Input, o Options) (*Report, error) {
	if len(inputs) == 0 {
		return nil, errors.New("no input file")
	}
	if o.Via == "" {
		o.Via = ViaBatch
	}
	if o.Via != ViaBatch && o.Via != ViaWebhook {
		return nil, fmt.Errorf("via must be %s or %s, got %q", ViaBatch, ViaWebhook, o.Via)
	}
	if o.BatchCount <= 0 {
		o.BatchCount = 500
	}
	if o.AggregateDays <= 0 {
		o.AggregateDays = 7
	}
	if o.SurveyType == "" {
		o.SurveyType = "nps"
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.AggregateTimeout <= 0 {
		o.AggregateTimeout = 15 * time.Minute
	}
	if o.Backoff == nil {
		o.Backoff = defaultBackoff
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Checkpoint == "" && !o.DryRun {
		return nil, errors.New("a checkpoint file is needed")
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q is not an http(s) URL", o.URL)
	}
	im := &importer{o: o, rep: Report{DryRun: o.DryRun}}
	im.c = client{base: u.String(), http: o.HTTP, backoff: o.Backoff, retryFor: o.RetryFor, retried: func(err error, wait time.Duration) {
		im.rep.Retries++
		fmt.Fprintf(o.Log, "retrying in %s: %v\n", wait.Round(time.Millisecond), err)
	}}
	for len(im.c.base) > 0 && im.c.base[len(im.c.base)-1] == '/' {
		im.c.base = im.c.base[:len(im.c.base)-1]
	}
	if err := im.start(inputs); err != nil {
		return nil, err
	}
	o.Progress.Start(im.totalBytes)
	for i, in := range inputs {
		if err := im.file(ctx, i, in); err != nil {
			o.Progress.Finish()
			return &im.rep, err
		}
	}
	o.Progress.Finish()
	im.rep.From, im.rep.To = im.cp.From, im.cp.To
	if o.DryRun {
		return &im.rep, nil
	}
	if err := im.aggregate(ctx); err != nil {
		return &im.rep, err
	}
	im.cp.Aggregated = true
	return &im.rep, im.cp.save(o.Checkpoint)
}

// start identifies the inputs and loads the checkpoint that matches them.
func (im *importer) start(inputs []Input) error {
	files := make([]FileState, len(inputs))
	for i, in := range inputs {
		size, head, err := identify(in.Path)
		if err != nil {
			return err
		}
		files[i] = FileState{Path: in.Path, Kind: in.Kind, Size: size, Head: head}
		im.totalBytes += size
	}
	im.cp = Checkpoint{Files: files}
	if im.o.DryRun || im.o.Checkpoint == "" {
		return nil
	}
	old, ok, err := loadCheckpoint(im.o.Checkpoint)
	if err != nil {
		return err
	}
	switch {
	case !ok || im.o.Restart:
	case old.matches(files):
		im.cp, im.rep.Resumed = old, true
	default:
		return fmt.Errorf("checkpoint %s was written for other files (or they changed since): pass -restart to import them from the start, or -checkpoint with another file", im.o.Checkpoint)
	}
	return nil
}

// pending is what is gathered for the next request.
type pending struct {
	recs []record
	size int // of the batch body
	last int // records of the file read when the last one was
}

const batchEnvelope = len(`{"batch":[]}`)

// file imports one input.
func (im *importer) file(ctx context.Context, i int, in Input) error {
	st := &im.cp.Files[i]
	if st.Done {
		im.rep.Skipped += st.Records
		im.doneBytes += st.Size
		im.o.Progress.Set(im.doneBytes, im.rep.Sent)
		return nil
	}
	f, err := open(in, &im.o)
	if err != nil {
		return err
	}
	defer f.Close()
	name := in.Path
	var p pending
	n := 0 // records read
	flush := func() error {
		if len(p.recs) == 0 {
			// Nothing to send: only bad or blank lines since the last.
			st.Records, st.Bytes = p.last, f.count.n
			return im.save()
		}
		rejected, err := im.send(ctx, name, f.kind(), p.recs)
		if err != nil {
			return err
		}
		st.Records, st.Line, st.Bytes = p.last, p.recs[len(p.recs)-1].line, f.count.n
		for i, r := range p.recs {
			if rejected[i] {
				continue
			}
			im.cp.widen(r.at)
			if !r.since.IsZero() {
				im.cp.widen(r.since)
			}
		}
		p = pending{size: batchEnvelope}
		return im.save()
	}
	p.size = batchEnvelope
	for {
		rec, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		n++
		if n <= st.Records {
			if !rec.blank {
				im.rep.Skipped++
			}
			continue
		}
		im.o.Progress.Set(im.doneBytes+f.count.n, im.rep.Sent)
		if rec.blank {
			continue
		}
		im.rep.Records++
		if rec.err != nil {
			im.problem(name, rec.line, rec.err.Error())
			p.last = n
			continue
		}
		im.rep.Valid++
		if rec.generatedID {
			im.rep.GeneratedIDs++
		}
		if im.o.DryRun {
			im.cp.widen(rec.at)
			if !rec.since.IsZero() {
				im.cp.widen(rec.since)
			}
			continue
		}
		if im.o.Via == ViaWebhook && f.kind() != Events {
			p.recs, p.last = append(p.recs, rec), n
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		add := len(rec.msg)
		if len(p.recs) > 0 {
			add++ // the comma
		}
		if len(p.recs) > 0 && (len(p.recs) >= im.o.BatchCount || p.size+add > event.MaxBatchBytes) {
			if err := flush(); err != nil {
				return err
			}
			add = len(rec.msg)
		}
		p.recs, p.size, p.last = append(p.recs, rec), p.size+add, n
	}
	if !im.o.DryRun {
		if err := flush(); err != nil {
			return err
		}
		st.Records, st.Bytes, st.Done = n, f.count.n, true
		if err := im.save(); err != nil {
			return err
		}
	}
	im.doneBytes += f.size
	im.o.Progress.Set(im.doneBytes, im.rep.Sent)
	return nil
}

func (im *importer) save() error { return im.cp.save(im.o.Checkpoint) }

func (im *importer) problem(file string, line int, reason string) {
	p := Problem{File: file, Line: line, Reason: reason}
	im.rep.Problems = append(im.rep.Problems, p)
	fmt.Fprintln(im.o.Log, p)
}

// send delivers records and counts the API's answer; it returns the
// indexes of the records the API rejected, which are reported on their
// lines, as are those of a request rejected whole for its content (400).
// Any other failure stops the import.
func (im *importer) send(ctx context.Context, file string, k Kind, recs []record) (rejected map[int]bool, err error) {
	rejected = map[int]bool{}
	if im.o.Via == ViaWebhook && k != Events {
		ok, err := im.deliver(ctx, file, k, recs[0])
		rejected[0] = !ok
		return rejected, err
	}
	body := make([]byte, 0, batchEnvelope+len(recs)*256)
	body = append(body, `{"batch":[`...)
	for i, r := range recs {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, r.msg...)
	}
	body = append(body, `]}`...)
	im.rep.Requests++
	im.rep.Sent += len(recs)
	b, err := im.c.post(ctx, "/v1/batch", body, im.o.Timeout, func(r *http.Request) { r.SetBasicAuth(im.o.WriteKey, "") })
	if isStatus(err, http.StatusBadRequest) {
		var se *StatusError
		errors.As(err, &se)
		var d struct {
			Rejected []ingest.Rejection `json:"rejected"`
		}
		if json.Unmarshal(se.Details, &d) == nil && len(d.Rejected) > 0 {
			for _, rj := range d.Rejected {
				if rj.Index >= 0 && rj.Index < len(recs) {
					im.problem(file, recs[rj.Index].line, "rejected by the API: "+rj.Reason)
				}
			}
			for i := range recs {
				rejected[i] = true
			}
			im.rep.Rejected += len(recs)
			return rejected, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: lines %d-%d: %w", file, recs[0].line, recs[len(recs)-1].line, err)
	}
	var a ingest.Result
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: the answer to lines %d-%d is not the batch answer: %w", file, recs[0].line, recs[len(recs)-1].line, err)
	}
	im.rep.Accepted += a.Accepted
	im.rep.Duplicates += a.Duplicates
	im.rep.Rejected += len(a.Rejected)
	for _, rj := range a.Rejected {
		if rj.Index >= 0 && rj.Index < len(recs) {
			im.problem(file, recs[rj.Index].line, "rejected by the API: "+rj.Reason)
			rejected[rj.Index] = true
		}
	}
	return rejected, nil
}

// deliver posts one survey or ticket row to its generic webhook route;
// ok is false when the API rejected it.
func (im *importer) deliver(ctx context.Context, file string, k Kind, r record) (ok bool, err error) {
	provider := "survey"
	if k == Tickets {
		provider = "ticket"
	}
	im.rep.Requests++
	im.rep.Sent++
	b, err := im.c.post(ctx, "/v1/webhooks/"+provider+"/"+url.PathEscape(im.o.Tenant), r.payload, im.o.Timeout, func(req *http.Request) {
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(tenant.Secret(im.o.WebhookSecret), r.payload, im.o.Now()))
	})
	if isStatus(err, http.StatusBadRequest) {
		im.problem(file, r.line, "rejected by the API: "+err.Error())
		im.rep.Rejected++
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s:%d: %w", file, r.line, err)
	}
	var a ingest.Result
	if json.Unmarshal(b, &a) == nil {
		im.rep.Accepted += a.Accepted
		im.rep.Duplicates += a.Duplicates
	}
	return true, nil
}

// aggregate runs the aggregation over the import's days, with a day's
// margin either side (the tenant's days may be in another time zone than
// UTC), in ranges of AggregateDays.
func (im *importer) aggregate(ctx context.Context) error {
	if im.cp.From == "" {
		return nil
	}
	from, err := time.Parse(time.DateOnly, im.cp.From)
	if err != nil {
		return err
	}
	to, err := time.Parse(time.DateOnly, im.cp.To)
	if err != nil {
		return err
	}
	from, to = from.AddDate(0, 0, -1), to.AddDate(0, 0, 1)
	// The API runs no day after tomorrow (UTC).
	if last := im.o.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1); to.After(last) {
		to = last
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, im.o.AggregateDays) {
		end := d.AddDate(0, 0, im.o.AggregateDays-1)
		if end.After(to) {
			end = to
		}
		body, _ := json.Marshal(map[string]string{"from": d.Format(time.DateOnly), "to": end.Format(time.DateOnly)})
		fmt.Fprintf(im.o.Log, "aggregating %s to %s…\n", d.Format(time.DateOnly), end.Format(time.DateOnly))
		im.rep.Requests++
		b, err := im.c.post(ctx, "/v1/admin/aggregate", body, im.o.AggregateTimeout, func(r *http.Request) { r.SetBasicAuth(im.o.AdminKey, "") })
		if err != nil {
			return fmt.Errorf("aggregate %s to %s: %w", d.Format(time.DateOnly), end.Format(time.DateOnly), err)
		}
		im.rep.Aggregations = append(im.rep.Aggregations, json.RawMessage(b))
	}
	return nil
}
