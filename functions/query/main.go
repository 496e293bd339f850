// Command query is the Lambda function that answers KPI queries from the
// stored daily parts and serves the dashboard page.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	_ "time/tzdata" // tenants' time zones, whatever the runtime image has

	"github.com/uptakehq/uptake/shared/logging"
	"github.com/uptakehq/uptake/shared/openapi"
	"github.com/uptakehq/uptake/shared/stack"
	"github.com/uptakehq/uptake/web"
)

func main() {
	st, err := stack.Boot(context.Background(), os.Getenv, stack.LambdaAWSLoader(os.Getenv), os.Stdout, openapi.Document)
	if err != nil {
		logging.New(os.Stdout, logging.JSON, slog.LevelError).Error("cannot start", "err", err)
		os.Exit(1)
	}
	st.Web = web.New(st.Log).Handle
	lambda.Start(st.QueryFunction)
}
