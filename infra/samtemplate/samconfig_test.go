package samtemplate_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/uptakehq/uptake/infra/samtemplate"
)

// samConfig is the part of a SAM CLI configuration file the example sets.
type samConfig struct {
	Version float64 `toml:"version"`
	Default struct {
		Global struct {
			Parameters struct {
				StackName string `toml:"stack_name"`
			} `toml:"parameters"`
		} `toml:"global"`
		Build struct {
			Parameters map[string]any `toml:"parameters"`
		} `toml:"build"`
		Deploy struct {
			Parameters struct {
				StackName          string `toml:"stack_name"`
				Region             string `toml:"region"`
				Capabilities       any    `toml:"capabilities"`
				ConfirmChangeset   *bool  `toml:"confirm_changeset"`
				ResolveS3          bool   `toml:"resolve_s3"`
				S3Prefix           string `toml:"s3_prefix"`
				FailOnEmpty        *bool  `toml:"fail_on_empty_changeset"`
				ParameterOverrides any    `toml:"parameter_overrides"`
			} `toml:"parameters"`
		} `toml:"deploy"`
	} `toml:"default"`
}

// overrides reads parameter_overrides in either of SAM's forms: a list of
// "Name=Value" strings, or one string of space-separated Name=Value pairs
// (values in double quotes when they hold spaces).
func overrides(v any) (map[string]string, error) {
	var pairs []string
	switch x := v.(type) {
	case []any:
		for _, p := range x {
			s, ok := p.(string)
			if !ok {
				return nil, fmt.Errorf("parameter_overrides entry %v is not a string", p)
			}
			pairs = append(pairs, s)
		}
	case string:
		var cur strings.Builder
		quoted := false
		for _, r := range x {
			switch {
			case r == '"':
				quoted = !quoted
			case r == ' ' && !quoted:
				if cur.Len() > 0 {
					pairs = append(pairs, cur.String())
					cur.Reset()
				}
			default:
				cur.WriteRune(r)
			}
		}
		if cur.Len() > 0 {
			pairs = append(pairs, cur.String())
		}
	default:
		return nil, fmt.Errorf("parameter_overrides is a %T, want a list or a string", v)
	}
	out := map[string]string{}
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("parameter override %q is not Name=Value", p)
		}
		if q, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
			value = q
		} else if value == "" || strings.ContainsAny(value, " \"") {
			return nil, fmt.Errorf("parameter override %q: quote an empty value or one with spaces (SAM splits the overrides on spaces)", p)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("parameter %s is overridden twice", name)
		}
		out[name] = value
	}
	return out, nil
}

// TestSamConfigExample parses samconfig.example.toml as the SAM CLI reads
// it and checks that it is safe to deploy with: it names a stack, asks
// before applying a change set, grants only CAPABILITY_IAM, and overrides
// only parameters of template.yaml, with values they allow.
func TestSamConfigExample(t *testing.T) {
	root := repoRoot(t)
	var cfg samConfig
	md, err := toml.DecodeFile(filepath.Join(root, "samconfig.example.toml"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("keys this test does not know (check their names against the SAM CLI's): %v", und)
	}
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkSamConfig(cfg, tpl) {
		t.Error(p)
	}
}

func checkSamConfig(cfg samConfig, tpl *samtemplate.Template) (problems []string) {
	d := cfg.Default.Deploy.Parameters
	if cfg.Version != 0.1 {
		problems = append(problems, fmt.Sprintf("version %v, want 0.1", cfg.Version))
	}
	if cfg.Default.Global.Parameters.StackName == "" && d.StackName == "" {
		problems = append(problems, "no stack_name")
	}
	if d.Region == "" {
		problems = append(problems, "no region")
	}
	if d.ConfirmChangeset == nil || !*d.ConfirmChangeset {
		problems = append(problems, "confirm_changeset must be true: an upgrade shows its change set before it applies")
	}
	var caps []string
	switch c := d.Capabilities.(type) {
	case string:
		caps = strings.Fields(c)
	case []any:
		for _, v := range c {
			caps = append(caps, fmt.Sprint(v))
		}
	}
	if !slices.Equal(caps, []string{"CAPABILITY_IAM"}) {
		problems = append(problems, fmt.Sprintf("capabilities %v, want CAPABILITY_IAM only (SAM creates the functions' roles)", caps))
	}
	if !d.ResolveS3 {
		problems = append(problems, "resolve_s3 must be true (or name an artifacts bucket)")
	}
	ov, err := overrides(d.ParameterOverrides)
	if err != nil {
		return append(problems, err.Error())
	}
	params := tpl.CloudFormation().Parameters
	for name, value := range ov {
		p, ok := params[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("parameter_overrides names %s, which template.yaml does not declare", name))
			continue
		}
		if len(p.AllowedValues) > 0 && !slices.ContainsFunc(p.AllowedValues, func(a any) bool { return fmt.Sprint(a) == value }) {
			problems = append(problems, fmt.Sprintf("parameter %s=%q is not one of %v", name, value, p.AllowedValues))
		}
	}
	return problems
}
