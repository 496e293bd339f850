package stack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/stack"
)

func TestLambdaAWS(t *testing.T) {
	lambdaEnv := map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_SESSION_TOKEN": "TOKEN",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range lambdaEnv {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	type want struct {
		Region, Endpoint string
		Attempts         int
		Key, Token       string
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    want
		wantErr []string
	}{
		{name: "lambda environment", env: lambdaEnv, want: want{Region: "eu-west-1", Key: "AKID", Token: "TOKEN"}},
		{name: "default region", env: with("AWS_REGION", "", "AWS_DEFAULT_REGION", "us-east-2"), want: want{Region: "us-east-2", Key: "AKID", Token: "TOKEN"}},
		{name: "endpoint and attempts", env: with("AWS_ENDPOINT_URL", "http://127.0.0.1:8000", "AWS_MAX_ATTEMPTS", "2"),
			want: want{Region: "eu-west-1", Endpoint: "http://127.0.0.1:8000", Attempts: 2, Key: "AKID", Token: "TOKEN"}},
		{name: "nothing set", env: map[string]string{}, wantErr: []string{"AWS_REGION", "no credentials"}},
		{name: "secret missing", env: with("AWS_SECRET_ACCESS_KEY", ""), wantErr: []string{"no credentials"}},
		{name: "bad attempts", env: with("AWS_MAX_ATTEMPTS", "zero"), wantErr: []string{"AWS_MAX_ATTEMPTS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := stack.LambdaAWS(func(k string) string { return tc.env[k] })
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := want{Region: cfg.Region, Endpoint: aws.ToString(cfg.BaseEndpoint), Attempts: cfg.RetryMaxAttempts, Key: creds.AccessKeyID, Token: creds.SessionToken}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("config (-got +want):\n%s", diff)
			}
		})
	}
}

// TestLambdaAWSContainerCredentials fetches credentials from a container
// credentials endpoint, with the authorization token read from its file.
func TestLambdaAWSContainerCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "file-token" {
			http.Error(w, `{"code":"Denied","message":"bad token"}`, http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": "AKCONTAINER", "SecretAccessKey": "S", "Token": "T", "Expiration": "2099-01-01T00:00:00Z"})
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL + "/creds",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN": "env-token", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile}
	cfg, err := stack.LambdaAWS(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKCONTAINER" {
		t.Errorf("access key %q, want AKCONTAINER", creds.AccessKeyID)
	}
}

// TestFunctionsDependencies keeps the Lambda bootstraps lean (benchmark
// P4): no function links the SDK's shared configuration (with its SSO,
// STS and sign-in clients), and only the query function, which serves it,
// embeds the OpenAPI document.
func TestFunctionsDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dirs, err := filepath.Glob("../../functions/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("functions: %v", err)
	}
	banned := []string{"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sts", "github.com/aws/aws-sdk-go-v2/service/sso"}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		cmd := exec.Command(goTool, "list", "-deps", "-tags", "lambda.norpc", "./"+filepath.ToSlash(dir))
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", dir, err)
		}
		deps := strings.Fields(string(out))
		for _, b := range banned {
			if slices.Contains(deps, b) {
				t.Errorf("functions/%s links %s", name, b)
			}
		}
		if embeds := slices.Contains(deps, "github.com/uptakehq/uptake/shared/openapi"); embeds != (name == "query") {
			t.Errorf("functions/%s: embeds the OpenAPI document = %v, want %v", name, embeds, name == "query")
		}
	}
}
