// Command uptake-load drives an Uptake stack with mixed open-loop traffic
// (`make load`), prints each route's throughput and latency, and checks
// that every acknowledged message is counted exactly once (package
// infra/load). It exits with status 1 if any request failed or the check
// found a difference.
//
//	uptake-load [-duration 10m] [-rate 10] [-workers 64] [-seed 1] [-days 4]
//	uptake-load -url http://127.0.0.1:3000 ...   drive a running `make dev`
//
// Without -url it starts a stack of its own: DynamoDB Local and the S3
// server on a temporary folder (never .data), the `make dev` router on a
// free loopback port.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/uptakehq/uptake/infra/devstack"
	"github.com/uptakehq/uptake/infra/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptake-load:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) (bool, error) {
	fs := flag.NewFlagSet("uptake-load", flag.ContinueOnError)
	var o load.Options
	demo := devstack.Demo()
	t := load.Target{Tenant: demo.ID}
	fs.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long the traffic runs")
	fs.Float64Var(&o.Rate, "rate", 10, "requests started per second (open loop)")
	fs.IntVar(&o.Workers, "workers", 64, "requests in flight at most")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the requests' random choices")
	fs.IntVar(&o.Days, "days", 4, "days, ending today, that event times spread over")
	fs.StringVar(&t.URL, "url", "", "API of a running stack, such as http://127.0.0.1:3000 (`make dev`); empty starts a stack of its own")
	fs.StringVar(&t.S3Endpoint, "s3", env("UPTAKE_S3_ENDPOINT", "http://127.0.0.1:9000"), "with -url: the stack's S3 server, for the raw store check")
	fs.StringVar(&t.Bucket, "bucket", env("BUCKET_NAME", "uptake-local"), "with -url: the stack's bucket")
	fs.StringVar(&t.WriteKey, "write-key", env("UPTAKE_DEMO_WRITE_KEY", string(demo.WriteKey)), "with -url: the tenant's write key")
	fs.StringVar(&t.ReadKey, "read-key", env("UPTAKE_DEMO_READ_KEY", string(demo.ReadKey)), "with -url: the tenant's read key")
	fs.StringVar(&t.AdminKey, "admin-key", env("UPTAKE_DEMO_ADMIN_KEY", string(demo.AdminKey)), "with -url: the tenant's admin key")
	fs.StringVar(&t.WebhookSecret, "webhook-secret", env("UPTAKE_DEMO_WEBHOOK_SECRET", string(demo.WebhookSecret)), "with -url: the tenant's webhook secret")
	verbose := fs.Bool("v", false, "with its own stack: print the stack's info logs")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.Progress = os.Stderr
	if t.URL == "" {
		level := slog.LevelWarn
		if *verbose {
			level = slog.LevelInfo
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		fmt.Fprintln(os.Stderr, "starting a local stack (DynamoDB Local, S3 server, API) on a temporary folder…")
		l, err := load.StartLocal(ctx, log)
		if err != nil {
			return false, err
		}
		defer func() {
			if err := l.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "uptake-load: stopping the local stack:", err)
			}
		}()
		t = l.Target
		fmt.Fprintf(os.Stderr, "local stack: API %s, S3 %s, data %s\n", t.URL, t.S3Endpoint, l.Dir())
	}
	fmt.Fprintf(os.Stderr, "driving %s for %s at %g requests/s…\n", t.URL, o.Duration, o.Rate)
	res, err := load.Run(ctx, t, o)
	if err != nil {
		return false, err
	}
	res.Write(os.Stdout)
	return res.OK(), nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
