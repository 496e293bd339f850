package samtemplate_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runDeploy runs `make deploy` in the repository with the given variables
// and returns its output and error.
func runDeploy(t *testing.T, vars ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "deploy"}, vars...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fakeSAM writes a sam stand-in that records its arguments, one call a
// line, in the returned log.
func fakeSAM(t *testing.T) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	bin, log = filepath.Join(dir, "sam"), filepath.Join(dir, "calls")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"$*\" >> '"+log+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

func calls(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMakeDeploy(t *testing.T) {
	t.Run("no SAM CLI", func(t *testing.T) {
		out, err := runDeploy(t, "SAM=uptake-no-such-sam-cli")
		if err == nil || !strings.Contains(out, "the AWS SAM CLI (uptake-no-such-sam-cli) is not installed") {
			t.Errorf("make deploy without the SAM CLI: err %v, output:\n%s", err, out)
		}
	})
	t.Run("first time: guided", func(t *testing.T) {
		sam, log := fakeSAM(t)
		out, err := runDeploy(t, "SAM="+sam, "SAMCONFIG="+filepath.Join(t.TempDir(), "samconfig.toml"))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if got := calls(t, log); got != "build\ndeploy --guided\n" {
			t.Errorf("sam calls = %q, want build then deploy --guided", got)
		}
	})
	t.Run("with samconfig.toml", func(t *testing.T) {
		sam, log := fakeSAM(t)
		cfg := filepath.Join(t.TempDir(), "samconfig.toml")
		if err := os.WriteFile(cfg, []byte("version = 0.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runDeploy(t, "SAM="+sam, "SAMCONFIG="+cfg)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if got := calls(t, log); got != "build\ndeploy --config-file "+cfg+"\n" {
			t.Errorf("sam calls = %q, want build then deploy --config-file %s", got, cfg)
		}
	})
}
