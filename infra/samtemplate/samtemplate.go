package samtemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/lambda"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Route is one HTTP API route: Method upper-case ("GET", or "ANY"), Path as
// written in the template ("/v1/kpis/{id}", or "$default" for a catch-all
// event), Function the logical id of the function serving it.
type Route struct{ Method, Path, Function string }

// Function is an AWS::Serverless::Function with the Globals merged in.
type Function struct {
	LogicalID     string
	CodeURI       string
	Handler       string
	Runtime       string
	BuildMethod   string // Metadata.BuildMethod
	Architectures []string
	// Env holds the environment variables. Keys are what matters: values are
	// symbolic (a !Ref to a resource reads as its logical id, a !Ref to a
	// parameter as its default).
	Env map[string]string
	// Schedules holds the expressions of the function's Schedule events.
	Schedules []string

	Timeout    int // seconds; 0 when unset
	MemorySize int // MB; 0 when unset

	// Tracing is the X-Ray mode (symbolic: a !Ref to a parameter reads as
	// its default); LoggingConfig the log format and levels, if set.
	Tracing       string
	LoggingConfig *lambda.Function_LoggingConfig

	// OnFailure is the EventInvokeConfig on-failure destination, if any.
	OnFailure *Destination
	// MaximumRetryAttempts is EventInvokeConfig.MaximumRetryAttempts, if set.
	MaximumRetryAttempts *int

	// Statements are the statements of the inline policy documents in
	// Policies, in order.
	Statements []Statement
	// OtherPolicies names every Policies entry that is not an inline
	// document: managed policy names or ARNs, SAM policy template names.
	OtherPolicies []string
}

// Package returns the Go package of the function, by the project's
// convention: IngestFunction is built from ./functions/ingest.
func (f Function) Package() string {
	return "./functions/" + strings.ToLower(strings.TrimSuffix(f.LogicalID, "Function"))
}

// Destination is an asynchronous invocation destination.
type Destination struct {
	Type        string // SQS, SNS, S3, Lambda or EventBridge
	Destination string // symbolic ARN, e.g. "${FailureQueue.Arn}"
}

// Statement is one IAM policy statement. Action, Resource and their Not
// forms are always lists, whichever form the template uses.
type Statement struct {
	Sid         string
	Effect      string
	Principal   any
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Condition   map[string]any
}

// Template is a loaded SAM template.
type Template struct {
	Path string

	cfn       *cloudformation.Template
	raw       map[string]any
	functions []Function
	routes    []Route
}

// goformation registers its YAML tag resolvers in a package-level map on
// every parse, so parses must not run concurrently.
var parseMu sync.Mutex

// Load parses the SAM template at path (YAML, or JSON when the name ends in
// .json) with goformation, resolving intrinsics as described in the package
// documentation, and merges Globals into the functions.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	opts := &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":        refHandler,
			"Fn::GetAtt": getAttHandler,
			"Fn::Sub":    subHandler,
		},
	}

	parseMu.Lock()
	var cfn *cloudformation.Template
	var processed []byte
	if strings.HasSuffix(path, ".json") {
		cfn, err = goformation.ParseJSONWithOptions(data, opts)
		if err == nil {
			processed, err = intrinsics.ProcessJSON(data, opts)
		}
	} else {
		cfn, err = goformation.ParseYAMLWithOptions(data, opts)
		if err == nil {
			processed, err = intrinsics.ProcessYAML(data, opts)
		}
	}
	parseMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}

	t := &Template{Path: path, cfn: cfn}
	if err := json.Unmarshal(processed, &t.raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := t.build(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// CloudFormation returns goformation's model of the template, with
// intrinsics resolved as Load does but Globals not merged.
func (t *Template) CloudFormation() *cloudformation.Template { return t.cfn }

// Routes returns the HTTP API routes of every function, sorted by Path then
// Method.
func (t *Template) Routes() []Route { return append([]Route(nil), t.routes...) }

// Functions returns the functions, Globals merged in, sorted by LogicalID.
func (t *Template) Functions() []Function {
	out := make([]Function, len(t.functions))
	copy(out, t.functions)
	return out
}

// Function returns the function with the given logical id.
func (t *Template) Function(logicalID string) (Function, bool) {
	for _, f := range t.functions {
		if f.LogicalID == logicalID {
			return f, true
		}
	}
	return Function{}, false
}

// FindTemplate walks up from the working directory to the first directory
// holding both template.yaml and go.mod, and returns the template's path.
func FindTemplate() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		tpl := filepath.Join(dir, "template.yaml")
		if isFile(tpl) && isFile(filepath.Join(dir, "go.mod")) {
			return tpl, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("samtemplate: no directory holding template.yaml and go.mod above the working directory")
		}
		dir = parent
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// ---------------------------------------------------------------- building

func (t *Template) build() error {
	resources, _ := t.raw["Resources"].(map[string]any)
	var globalFn any
	if g, ok := t.raw["Globals"].(map[string]any); ok {
		globalFn = g["Function"]
	}

	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	seen := map[string]string{}
	for _, id := range ids {
		res, _ := resources[id].(map[string]any)
		if res["Type"] != "AWS::Serverless::Function" {
			continue
		}
		fn, routes, err := buildFunction(id, res, globalFn)
		if err != nil {
			return fmt.Errorf("function %s: %w", id, err)
		}
		for _, r := range routes {
			key := r.Method + " " + r.Path
			if other, dup := seen[key]; dup {
				return fmt.Errorf("route %s is served by both %s and %s", key, other, id)
			}
			seen[key] = id
		}
		t.functions = append(t.functions, fn)
		t.routes = append(t.routes, routes...)
	}
	sort.Slice(t.routes, func(i, j int) bool {
		a, b := t.routes[i], t.routes[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return nil
}

func buildFunction(id string, res map[string]any, globalFn any) (Function, []Route, error) {
	props, _ := res["Properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	merged, _ := mergeGlobals(globalFn, props).(map[string]any)

	// goformation's SAM function predates LoggingConfig (SAM 1.82): it is
	// decoded with the Lambda function's type, and the rest with the SAM
	// one, strictly.
	decoded := maps.Clone(merged)
	var logging *lambda.Function_LoggingConfig
	if lc, ok := decoded["LoggingConfig"]; ok {
		delete(decoded, "LoggingConfig")
		b, err := json.Marshal(lc)
		if err != nil {
			return Function{}, nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		logging = &lambda.Function_LoggingConfig{}
		if err := dec.Decode(logging); err != nil {
			return Function{}, nil, fmt.Errorf("LoggingConfig: %w", err)
		}
	}
	doc := map[string]any{}
	for k, v := range res {
		doc[k] = v
	}
	doc["Properties"] = decoded
	b, err := json.Marshal(doc)
	if err != nil {
		return Function{}, nil, err
	}
	var sf serverless.Function
	if err := json.Unmarshal(b, &sf); err != nil {
		return Function{}, nil, err
	}

	f := Function{
		LogicalID:     id,
		Handler:       deref(sf.Handler),
		Runtime:       deref(sf.Runtime),
		Architectures: sf.Architectures,
		Timeout:       derefInt(sf.Timeout),
		MemorySize:    derefInt(sf.MemorySize),
		Tracing:       deref(sf.Tracing),
		LoggingConfig: logging,
	}
	if sf.CodeUri != nil {
		f.CodeURI = deref(sf.CodeUri.String)
	}
	if bm, ok := sf.AWSCloudFormationMetadata["BuildMethod"].(string); ok {
		f.BuildMethod = bm
	}
	if sf.Environment != nil {
		f.Env = make(map[string]string, len(sf.Environment.Variables))
		for k, v := range sf.Environment.Variables {
			f.Env[k] = v
		}
	}
	if c := sf.EventInvokeConfig; c != nil {
		f.MaximumRetryAttempts = c.MaximumRetryAttempts
		if c.DestinationConfig != nil && c.DestinationConfig.OnFailure != nil {
			d := c.DestinationConfig.OnFailure
			f.OnFailure = &Destination{Type: deref(d.Type), Destination: d.Destination}
		}
	}
	f.Statements, f.OtherPolicies, err = parsePolicies(merged["Policies"])
	if err != nil {
		return Function{}, nil, fmt.Errorf("policies: %w", err)
	}

	names := make([]string, 0, len(sf.Events))
	for name := range sf.Events {
		names = append(names, name)
	}
	sort.Strings(names)
	var routes []Route
	for _, name := range names {
		ev := sf.Events[name]
		switch ev.Type {
		case "HttpApi":
			r := Route{Method: "ANY", Path: "$default", Function: id}
			if ev.Properties != nil {
				h := ev.Properties.HttpApiEvent
				if h == nil {
					return Function{}, nil, fmt.Errorf("event %s: properties are not those of an HttpApi event", name)
				}
				if h.Method != nil {
					r.Method = strings.ToUpper(*h.Method)
					if r.Method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
						r.Method = "ANY"
					}
				}
				if h.Path != nil {
					r.Path = *h.Path
				}
			}
			routes = append(routes, r)
		case "Schedule":
			if ev.Properties == nil || ev.Properties.ScheduleEvent == nil {
				return Function{}, nil, fmt.Errorf("event %s: properties are not those of a Schedule event", name)
			}
			f.Schedules = append(f.Schedules, ev.Properties.ScheduleEvent.Schedule)
		}
	}
	return f, routes, nil
}

// mergeGlobals applies SAM's Globals rules: the resource's scalars win, maps
// merge recursively, lists concatenate with the Globals entries first.
func mergeGlobals(global, local any) any {
	switch l := local.(type) {
	case map[string]any:
		g, ok := global.(map[string]any)
		if !ok {
			return local
		}
		out := make(map[string]any, len(g)+len(l))
		for k, v := range g {
			out[k] = v
		}
		for k, v := range l {
			if gv, ok := g[k]; ok {
				out[k] = mergeGlobals(gv, v)
			} else {
				out[k] = v
			}
		}
		return out
	case []any:
		g, ok := global.([]any)
		if !ok {
			return local
		}
		return append(append([]any{}, g...), l...)
	default:
		return local
	}
}

func parsePolicies(v any) (stmts []Statement, other []string, err error) {
	entry := func(e any) error {
		switch p := e.(type) {
		case string:
			other = append(other, p)
		case map[string]any:
			if _, ok := p["Statement"]; ok {
				s, err := ParseStatements(p)
				if err != nil {
					return err
				}
				stmts = append(stmts, s...)
				return nil
			}
			keys := make([]string, 0, len(p))
			for k := range p {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			other = append(other, keys...)
		default:
			return fmt.Errorf("unexpected policy entry %v", e)
		}
		return nil
	}
	switch p := v.(type) {
	case nil:
	case []any:
		for _, e := range p {
			if err := entry(e); err != nil {
				return nil, nil, err
			}
		}
	default:
		if err := entry(p); err != nil {
			return nil, nil, err
		}
	}
	return stmts, other, nil
}

// ParseStatements returns the statements of an IAM policy document (a map
// with a Statement key holding one statement or a list of them), as found
// in a resource's properties after Load resolved its intrinsics.
func ParseStatements(policyDocument any) ([]Statement, error) {
	doc, ok := policyDocument.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy document is %T, not a map", policyDocument)
	}
	var list []any
	switch s := doc["Statement"].(type) {
	case map[string]any:
		list = []any{s}
	case []any:
		list = s
	default:
		return nil, fmt.Errorf("policy document has no Statement list")
	}
	out := make([]Statement, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("statement %d is %T, not a map", i, e)
		}
		var st Statement
		var err error
		st.Sid, _ = m["Sid"].(string)
		st.Effect, _ = m["Effect"].(string)
		st.Principal = m["Principal"]
		st.Condition, _ = m["Condition"].(map[string]any)
		for _, f := range []struct {
			key string
			dst *[]string
		}{
			{"Action", &st.Action},
			{"NotAction", &st.NotAction},
			{"Resource", &st.Resource},
			{"NotResource", &st.NotResource},
		} {
			if *f.dst, err = stringList(m[f.key]); err != nil {
				return nil, fmt.Errorf("statement %d (%s) %s: %w", i, st.Sid, f.key, err)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %v is not a string (an unresolved intrinsic?)", e)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("value %v is neither a string nor a list (an unresolved intrinsic?)", v)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(i *int) int {
	if i == nil {
		return 0
	}
	return *i
}

// -------------------------------------------------------------- intrinsics

// ref resolves a Ref: a resource to its logical id, a parameter to its
// default, a pseudo parameter to a sample value.
func ref(name string, template any) any {
	switch name {
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	}
	if tpl, ok := template.(map[string]any); ok {
		if res, ok := tpl["Resources"].(map[string]any); ok {
			if _, ok := res[name]; ok {
				return name
			}
		}
	}
	return intrinsics.Ref("Ref", name, template)
}

func refHandler(_ string, input any, template any) any {
	name, ok := input.(string)
	if !ok {
		return nil
	}
	return ref(name, template)
}

// getAttHandler renders !GetAtt Res.Attr (either form) as "${Res.Attr}".
func getAttHandler(_ string, input any, _ any) any {
	switch v := input.(type) {
	case string:
		return "${" + v + "}"
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			s, ok := p.(string)
			if !ok {
				return nil
			}
			parts = append(parts, s)
		}
		return "${" + strings.Join(parts, ".") + "}"
	}
	return nil
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

// subHandler resolves !Sub: named variables first, then Refs as ref does;
// "${Res.Attr}" and anything unresolvable stay as written, "${!x}" reads
// "${x}".
func subHandler(_ string, input any, template any) any {
	var src string
	vars := map[string]any{}
	switch v := input.(type) {
	case string:
		src = v
	case []any:
		if len(v) == 0 {
			return nil
		}
		s, ok := v[0].(string)
		if !ok {
			return nil
		}
		src = s
		if len(v) > 1 {
			if m, ok := v[1].(map[string]any); ok {
				vars = m
			}
		}
	default:
		return nil
	}
	return subVariable.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := vars[name]; ok {
			if s, ok := scalarString(v); ok {
				return s
			}
			return m
		}
		if strings.Contains(name, ".") {
			return m
		}
		if s, ok := scalarString(ref(name, template)); ok {
			return s
		}
		return m
	})
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
