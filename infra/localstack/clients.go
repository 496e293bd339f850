package localstack

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// region is the AWS region the local clients claim. DynamoDB Local runs with
// -sharedDb and gofakes3 ignores regions, so any fixed value works.
const region = "us-east-1"

// localCredentials are dummy static credentials: neither emulator checks
// signatures, but the SDK refuses to send unsigned requests.
var localCredentials = credentials.NewStaticCredentialsProvider("local", "local", "")

// NewDynamoDBClient returns a DynamoDB client for the DynamoDB Local at
// endpoint (such as "http://127.0.0.1:8000"), with static dummy credentials
// and region us-east-1. It reads no environment variable or shared AWS
// configuration. optFns are applied last.
//
// It is meant for tests and tools; the application has its own AWS wiring.
func NewDynamoDBClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       region,
		Credentials:  localCredentials,
		BaseEndpoint: aws.String(endpoint),
		// DynamoDB Local's error responses carry no CRC32 header; without
		// this the SDK logs a harmless warning for each of them.
		DisableValidateResponseChecksum: true,
	}, optFns...)
}

// NewS3Client returns an S3 client for the S3-compatible server at endpoint
// (such as the one returned by [S3.Endpoint]): static dummy credentials,
// region us-east-1, path-style addressing, and request and response checksums
// only where the API requires them (otherwise emulators may store the
// aws-chunked upload encoding as the object's content). It reads no
// environment variable or shared AWS configuration. optFns are applied last.
//
// It is meant for tests and tools; the application has its own AWS wiring.
func NewS3Client(endpoint string, optFns ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:                     region,
		Credentials:                localCredentials,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}, optFns...)
}
