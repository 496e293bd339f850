package openapi_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/shared/openapi"
)

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func document(t *testing.T) map[string]any {
	t.Helper()
	if !json.Valid(openapi.Document) {
		t.Fatal("openapi.json is not valid JSON")
	}
	var doc map[string]any
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// operations returns the document's operations keyed "METHOD /path".
func operations(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("paths is not an object")
	}
	ops := map[string]map[string]any{}
	for p, item := range paths {
		item, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("path item %s is not an object", p)
		}
		for _, m := range methods {
			if op, ok := item[m].(map[string]any); ok {
				ops[strings.ToUpper(m)+" "+p] = op
			}
		}
	}
	return ops
}

func TestDocumentIsOpenAPI31(t *testing.T) {
	doc := document(t)
	if got := doc["openapi"]; got != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got)
	}
	info, _ := doc["info"].(map[string]any)
	for _, k := range []string{"title", "version"} {
		if s, _ := info[k].(string); s == "" {
			t.Errorf("info.%s is missing", k)
		}
	}
}

// TestRefsResolve checks that every $ref is a local JSON pointer to
// something in the document.
func TestRefsResolve(t *testing.T) {
	doc := document(t)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"]; ok {
				s, _ := r.(string)
				refs = append(refs, s)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Fatal("no $ref found; the walk is broken")
	}
	for _, r := range refs {
		if _, err := resolve(doc, r); err != nil {
			t.Errorf("$ref %q: %v", r, err)
		}
	}
}

// resolve follows a local JSON pointer reference (RFC 6901).
func resolve(doc any, ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("not a local JSON pointer")
	}
	cur := doc
	for _, tok := range strings.Split(ptr, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := cur.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, fmt.Errorf("no %q", tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("no index %q", tok)
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("%q is below a scalar", tok)
		}
	}
	return cur, nil
}

// TestRoutesMatchTemplate checks that the document describes exactly the
// HTTP API routes of template.yaml.
func TestRoutesMatchTemplate(t *testing.T) {
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range tpl.Routes() {
		want = append(want, strings.ToUpper(r.Method)+" "+r.Path)
	}
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("template.yaml has no routes")
	}
	var got []string
	for k := range operations(t, document(t)) {
		got = append(got, k)
	}
	slices.Sort(got)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("operations differ from template.yaml's routes (-openapi.json +template.yaml):\n%s", diff)
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOperationsAreDescribed checks what every operation must carry:
// operationId (unique), summary, declared tags, a security requirement
// naming declared schemes, its path parameters, and responses whose errors
// use the shared error shape.
func TestOperationsAreDescribed(t *testing.T) {
	doc := document(t)
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	declared := map[string]bool{}
	tags, _ := doc["tags"].([]any)
	for _, tag := range tags {
		tag, _ := tag.(map[string]any)
		name, _ := tag["name"].(string)
		declared[name] = true
	}
	ids := map[string]string{}
	for key, op := range operations(t, doc) {
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", key)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q is also used by %s", key, id, other)
		}
		ids[id] = key
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", key)
		}
		opTags, _ := op["tags"].([]any)
		if len(opTags) == 0 {
			t.Errorf("%s: no tags", key)
		}
		for _, tag := range opTags {
			if name, _ := tag.(string); !declared[name] {
				t.Errorf("%s: tag %v is not declared", key, tag)
			}
		}
		security, ok := op["security"].([]any)
		if !ok {
			t.Errorf("%s: no security requirement (use [] for a public operation)", key)
		}
		for _, req := range security {
			req, _ := req.(map[string]any)
			for name := range req {
				if _, ok := schemes[name]; !ok {
					t.Errorf("%s: security scheme %q is not declared", key, name)
				}
			}
		}
		checkPathParams(t, doc, key, op)
		checkResponses(t, doc, key, op)
	}
}

func checkPathParams(t *testing.T, doc map[string]any, key string, op map[string]any) {
	t.Helper()
	_, path, _ := strings.Cut(key, " ")
	var want []string
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		want = append(want, m[1])
	}
	var got []string
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		p := deref(t, doc, p)
		if p["in"] == "path" {
			name, _ := p["name"].(string)
			got = append(got, name)
			if p["required"] != true {
				t.Errorf("%s: path parameter %s is not required", key, name)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("%s: path parameters (-declared +in path):\n%s", key, diff)
	}
}

func checkResponses(t *testing.T, doc map[string]any, key string, op map[string]any) {
	t.Helper()
	responses, _ := op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Errorf("%s: no responses", key)
		return
	}
	success := false
	for status, r := range responses {
		r := deref(t, doc, r)
		content, _ := r["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		if strings.HasPrefix(status, "2") {
			if len(content) > 0 {
				success = true
			}
			continue
		}
		s, _ := media["schema"].(map[string]any)
		if s["$ref"] != "#/components/schemas/Error" {
			t.Errorf("%s: response %s does not use the Error schema", key, status)
		}
	}
	if !success {
		t.Errorf("%s: no 2xx response with content", key)
	}
}

// deref returns v, or what its $ref points to.
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	if r, ok := m["$ref"].(string); ok {
		target, err := resolve(doc, r)
		if err != nil {
			t.Fatalf("$ref %q: %v", r, err)
		}
		m, _ = target.(map[string]any)
	}
	return m
}
