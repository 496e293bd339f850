// Command uptake-import back-fills a tenant's history through Uptake's
// public HTTP API (package infra/backfill), so that 30-day baselines exist
// on day one: Segment-format NDJSON exports (gzipped or not), survey CSV
// exports and ticket CSV exports; then it runs the aggregation for the
// days it touched.
//
//	uptake-import [flags] FILE...        FILE: PATH or events=|surveys=|tickets=PATH
//	uptake-import -dry-run FILE...       check everything, send nothing
//
// It resumes from its checkpoint file when that was written for the same
// files. Exit status: 0 done, 1 stopped by an error (run it again to
// resume), 2 bad flags, 3 done but some lines or rows were rejected.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/uptakehq/uptake/infra/backfill"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("uptake-import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o backfill.Options
	fs.StringVar(&o.URL, "url", env("UPTAKE_URL", "http://127.0.0.1:3000"), "the API (env UPTAKE_URL)")
	fs.StringVar(&o.WriteKey, "write-key", env("UPTAKE_WRITE_KEY", "demo-write-key"), "the tenant's write key (env UPTAKE_WRITE_KEY; the default is the local stack's)")
	fs.StringVar(&o.AdminKey, "admin-key", env("UPTAKE_ADMIN_KEY", "demo-admin-key"), "the tenant's admin key, for the aggregation (env UPTAKE_ADMIN_KEY)")
	fs.StringVar(&o.Tenant, "tenant", env("UPTAKE_TENANT", "demo"), "with -via webhook: the tenant id of the webhook routes (env UPTAKE_TENANT)")
	fs.StringVar(&o.WebhookSecret, "webhook-secret", env("UPTAKE_WEBHOOK_SECRET", "demo-webhook-secret"), "with -via webhook: the generic webhooks' secret (env UPTAKE_WEBHOOK_SECRET)")
	fs.StringVar(&o.Via, "via", backfill.ViaBatch, "how survey and ticket rows are sent: batch (POST /v1/batch, write key, as the webhooks' messages) or webhook (one signed delivery each to /v1/webhooks/survey|ticket)")
	fs.StringVar(&o.Checkpoint, "checkpoint", "uptake-import.checkpoint.json", "checkpoint file: resumed when written for the same files")
	fs.BoolVar(&o.Restart, "restart", false, "ignore the checkpoint and import from the start")
	fs.BoolVar(&o.DryRun, "dry-run", false, "check every line and row as the API would, print the summary, send nothing")
	fs.IntVar(&o.BatchCount, "batch-size", 500, "messages a batch request carries at most (its body stays under the API's 500 KB)")
	fs.IntVar(&o.AggregateDays, "aggregate-days", 7, "days each aggregation request covers")
	fs.StringVar(&o.SurveyType, "survey-type", "nps", "survey type (nps, csat, ces) of survey rows without a type column")
	fs.StringVar(&o.SurveyID, "survey-id", "", "survey id of survey rows without a survey id column")
	fs.DurationVar(&o.RetryFor, "retry-for", 10*time.Minute, "how long one request is retried (429, 5xx, network errors) before the import stops")
	sample := fs.String("sample", "", "write a sample 30-day export (ending yesterday) into this folder and exit")
	sampleUsers := fs.Int("sample-users", 1000, "with -sample: its number of users (about 24 events each)")
	progress := fs.String("progress", "auto", "auto (a bar on a terminal, else a line every 10 s), bar, lines or none")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: uptake-import [flags] FILE...   (FILE: PATH, or events=PATH, surveys=PATH, tickets=PATH)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *sample != "" {
		if err := os.MkdirAll(*sample, 0o755); err != nil {
			fmt.Fprintln(stderr, "uptake-import:", err)
			return 1
		}
		start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -30)
		e, err := backfill.WriteSample(*sample, start, *sampleUsers, uint64(start.Unix()))
		if err != nil {
			fmt.Fprintln(stderr, "uptake-import:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %d messages of %s to %s:\n  %s\n  %s\n  %s\n", e.Messages(), start.Format(time.DateOnly), start.AddDate(0, 0, 29).Format(time.DateOnly), e.Events, e.Surveys, e.Tickets)
		return 0
	}
	var inputs []backfill.Input
	for _, a := range fs.Args() {
		in, err := backfill.ParseInput(a)
		if err != nil {
			fmt.Fprintln(stderr, "uptake-import:", err)
			return 2
		}
		inputs = append(inputs, in)
	}
	if len(inputs) == 0 {
		fs.Usage()
		return 2
	}
	o.Now = time.Now
	o.Log = stderr
	switch *progress {
	case "bar":
		o.Progress = &backfill.Bar{W: stderr}
	case "lines":
		o.Progress = &backfill.Lines{W: stderr, Every: 10 * time.Second, Now: time.Now}
	case "none":
	case "auto":
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			o.Progress = &backfill.Bar{W: stderr}
		} else {
			o.Progress = &backfill.Lines{W: stderr, Every: 10 * time.Second, Now: time.Now}
		}
	default:
		fmt.Fprintf(stderr, "uptake-import: -progress must be auto, bar, lines or none, got %q\n", *progress)
		return 2
	}
	rep, err := backfill.Run(ctx, inputs, o)
	if rep != nil {
		summary(stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(stderr, "uptake-import:", err)
		if !o.DryRun {
			fmt.Fprintf(stderr, "uptake-import: what was acknowledged is in %s: run the same command again to resume\n", o.Checkpoint)
		}
		return 1
	}
	if len(rep.Problems) > 0 {
		return 3
	}
	return 0
}

// summary prints what the import did.
func summary(w io.Writer, r *backfill.Report) {
	if r.DryRun {
		fmt.Fprintln(w, "dry run: nothing was sent")
	}
	if r.Resumed {
		fmt.Fprintf(w, "resumed from the checkpoint: %d lines and rows done before were skipped\n", r.Skipped)
	}
	fmt.Fprintf(w, "read %d lines and rows: %d valid, %d rejected\n", r.Records, r.Valid, len(r.Problems))
	if r.GeneratedIDs > 0 {
		fmt.Fprintf(w, "%d events had no messageId: each was given import-<hash of file name, line number and line>, the same on every run\n", r.GeneratedIDs)
	}
	if !r.DryRun {
		fmt.Fprintf(w, "sent %d in %d requests (%d retries): %d accepted, %d duplicates, %d rejected\n", r.Sent, r.Requests, r.Retries, r.Accepted, r.Duplicates, r.Rejected)
	}
	if r.From != "" {
		verb := "events from"
		if r.DryRun {
			verb = "would aggregate the days of events from"
		}
		fmt.Fprintf(w, "%s %s to %s (UTC)\n", verb, r.From, r.To)
	}
	for _, a := range r.Aggregations {
		var rep struct {
			Days   []string `json:"days"`
			Reruns []string `json:"reruns"`
		}
		if json.Unmarshal(a, &rep) == nil && len(rep.Days) > 0 {
			fmt.Fprintf(w, "aggregated %s to %s (%d days, %d re-run)\n", rep.Days[0], rep.Days[len(rep.Days)-1], len(rep.Days), len(rep.Reruns))
		} else {
			fmt.Fprintf(w, "aggregated: %s\n", strings.TrimSpace(string(a)))
		}
	}
	const show = 100
	for i, p := range r.Problems {
		if i == show {
			fmt.Fprintf(w, "... and %d more rejected lines\n", len(r.Problems)-show)
			break
		}
		fmt.Fprintln(w, "rejected:", p)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
