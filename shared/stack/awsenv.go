package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// LambdaAWS returns the AWS configuration a Lambda function runs with,
// from what the Lambda runtime puts in its environment: AWS_REGION and
// the execution role's credentials (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), or the container credentials
// endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI with
// AWS_CONTAINER_AUTHORIZATION_TOKEN or its _FILE) where Lambda hands
// credentials out that way. AWS_ENDPOINT_URL and AWS_MAX_ATTEMPTS are
// honoured as the SDK's shared configuration does.
//
// It is what config.LoadDefaultConfig finds in a Lambda environment,
// without linking the shared-file, SSO, STS, sign-in and IMDS providers
// that a function never uses: 1.6 MB less in every bootstrap, and their
// package initialisation (service schemas, endpoint tables) off every cold
// start (benchmark P4).
func LambdaAWS(getenv func(string) string) (aws.Config, error) {
	cfg := aws.Config{Region: getenv("AWS_REGION")}
	if cfg.Region == "" {
		cfg.Region = getenv("AWS_DEFAULT_REGION")
	}
	var errs []error
	if cfg.Region == "" {
		errs = append(errs, errors.New("AWS_REGION is not set"))
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	switch uri := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); {
	case id != "" && secret != "":
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")))
	case uri != "":
		token, file := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"), getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
		cfg.Credentials = aws.NewCredentialsCache(endpointcreds.New(uri, func(o *endpointcreds.Options) {
			o.AuthorizationToken = token
			if file != "" {
				// Read at each fetch, as the SDK does: the file is rotated.
				o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
					b, err := os.ReadFile(file)
					if err != nil {
						return "", fmt.Errorf("container authorization token: %w", err)
					}
					return string(b), nil
				})
			}
		}))
	default:
		errs = append(errs, errors.New("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_CONTAINER_CREDENTIALS_FULL_URI"))
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	if s := getenv("AWS_MAX_ATTEMPTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("AWS_MAX_ATTEMPTS %q is not a positive integer", s))
		}
		cfg.RetryMaxAttempts = n
	}
	return cfg, errors.Join(errs...)
}

// LambdaAWSLoader is LambdaAWS in the shape Boot takes.
func LambdaAWSLoader(getenv func(string) string) func(context.Context) (aws.Config, error) {
	return func(context.Context) (aws.Config, error) { return LambdaAWS(getenv) }
}
