package stack_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/shared/stack"
)

func TestLoadEnv(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "BUCKET_NAME": "b"}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    stack.Env
		wantErr string
	}{
		{
			name: "defaults",
			want: stack.Env{Table: "t", Bucket: "b", LogLevel: slog.LevelInfo, MetricsNamespace: "Uptake", StackName: "local"},
		},
		{
			name: "as the template sets them",
			env:  map[string]string{"LOG_LEVEL": "DEBUG", "METRICS_NAMESPACE": "Acme/Uptake", "STACK_NAME": "uptake-prod"},
			want: stack.Env{Table: "t", Bucket: "b", LogLevel: slog.LevelDebug, MetricsNamespace: "Acme/Uptake", StackName: "uptake-prod"},
		},
		{
			name:    "bad level",
			env:     map[string]string{"LOG_LEVEL": "LOUD"},
			wantErr: "LOG_LEVEL",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stack.LoadEnv(func(k string) string {
				if v, ok := tc.env[k]; ok {
					return v
				}
				return base[k]
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("env (-got +want):\n%s", diff)
			}
		})
	}
}
