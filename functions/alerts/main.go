// Command alerts is the Lambda function that a one-minute schedule runs:
// it posts the alerts of detractor and bottom-two answers to each tenant's
// URL, retrying with backoff.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	_ "time/tzdata" // tenants' time zones, whatever the runtime image has

	"github.com/uptakehq/uptake/shared/logging"
	"github.com/uptakehq/uptake/shared/stack"
)

func main() {
	st, err := stack.Boot(context.Background(), os.Getenv, stack.LambdaAWSLoader(os.Getenv), os.Stdout, nil)
	if err != nil {
		logging.New(os.Stdout, logging.JSON, slog.LevelError).Error("cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(st.SendAlerts)
}
