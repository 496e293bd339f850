// Command aggregate is the Lambda function that the EventBridge schedule
// runs nightly: it aggregates yesterday and every day with late events, for
// every tenant.
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
	lambda.Start(st.Nightly)
}
