// Command query is the Lambda function that answers KPI queries from the
// stored daily parts and serves the dashboard page.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	_ "time/tzdata" // tenants' time zones, whatever the runtime image has

	"github.com/uptakehq/uptake/shared/openapi"
	"github.com/uptakehq/uptake/shared/stack"
	"github.com/uptakehq/uptake/web"
)

func main() {
	log := lambdacontext.NewLogger()
	st, err := stack.Boot(context.Background(), os.Getenv, stack.LambdaAWSLoader(os.Getenv), log, openapi.Document)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	st.Web = web.New(st.Log).Handle
	lambda.Start(st.QueryFunction)
}
