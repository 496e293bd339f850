// Command hello is the smallest aws-lambda-go function: benchmark P4's peer
// for bootstrap size and init time (bench/p4.sh builds it exactly as the
// functions are built).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev map[string]any) (string, error) { return "hello", nil })
}
