package web_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/infra/stacktest"
)

func TestMain(m *testing.M) { localstacktest.Main(m) }

// needNode finds node and web/node_modules (infra/deps.sh installs both):
// missing, the test fails under CI=true and is skipped otherwise.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("node_modules", "esbuild", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or web/node_modules missing (run make deps): %v", err)
		}
		t.Skipf("node or web/node_modules missing (run make deps): %v", err)
	}
	return node
}

// TestBundleIsBuiltFromSources rebuilds the bundle from src/ with the
// locked esbuild and checks that it is byte for byte the committed dist/,
// so that dist/ (which go:embed needs on a fresh clone) never goes stale.
func TestBundleIsBuiltFromSources(t *testing.T) {
	node := needNode(t)
	out := t.TempDir()
	cmd := exec.Command(node, "build.mjs", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, b)
	}
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, e := range entries {
			n = append(n, e.Name())
		}
		slices.Sort(n)
		return n
	}
	built, committed := names(out), names("dist")
	if !slices.Equal(built, committed) {
		t.Fatalf("rebuilt files %v, committed dist/ holds %v: run `make web` and commit web/dist", built, committed)
	}
	for _, n := range built {
		a, err := os.ReadFile(filepath.Join(out, n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("dist", n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("dist/%s differs from a build of src/ (%d bytes built, %d committed): run `make web` and commit web/dist", n, len(a), len(b))
		}
	}
}

// TestTypeScriptChecks type-checks src/ with the locked TypeScript, in
// strict mode (esbuild only strips the types).
func TestTypeScriptChecks(t *testing.T) {
	node := needNode(t)
	cmd := exec.Command(node, filepath.Join("node_modules", "typescript", "bin", "tsc"), "-p", ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc -p web: %v\n%s", err, b)
	}
}

// TestServesPageAndAssets fetches the page and the files it names through
// the local stack's router, without a key, as a browser does.
func TestServesPageAndAssets(t *testing.T) {
	t.Parallel()
	st := stacktest.Start(t)
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Get(st.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, string(b)
	}
	status, h, page := get("/")
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: status %d, content type %q", status, h.Get("Content-Type"))
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /: Content-Security-Policy %q does not keep the page to its origin", csp)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 2 {
		t.Fatalf("GET /: page names %d assets, want the script and the style sheet:\n%s", len(refs), page)
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, r := range refs {
		status, h, body := get(r[1])
		want, err := os.ReadFile(filepath.Join("dist", strings.TrimPrefix(r[1], "/assets/")))
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK || body != string(want) {
			t.Errorf("GET %s: status %d, %d bytes; want 200 and dist's %d bytes", r[1], status, len(body), len(want))
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, wantType[filepath.Ext(r[1])]) {
			t.Errorf("GET %s: content type %q", r[1], ct)
		}
	}
	for _, path := range []string{"/assets/nope.js", "/assets/..%2Findex.html", "/assets/"} {
		if status, _, body := get(path); status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404; body %s", path, status, body)
		}
	}
}
