package event

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// propNames are the members Props reads, in the order of its fields.
var propNames = []string{"path", "url", "referrer", "content_type", "feature", "step", "course", "plan", "amount", "revenue", "total", "step_index"}

// decodeProps decodes a valid JSON object of properties as propsSlow does
// with encoding/json, in one walk (two when a member has the wrong type):
// Props runs for every page of the nightly window. Members match a field
// exactly, else case-insensitively, the last one winning; when any of them
// has the wrong type, encoding/json's error sends propsSlow to read the
// members of exactly the fields' names one by one, over what the first
// pass set, and so does this.
func decodeProps(b []byte) Props {
	var p Props
	typeErr := false
	ObjectMembers(b, func(key string, v json.RawMessage) {
		name := contextField(key, propNames...)
		if name == "" {
			return
		}
		if !setProp(&p, name, v) {
			typeErr = true
		}
	})
	if !typeErr {
		return p
	}
	last := map[string]json.RawMessage{}
	ObjectMembers(b, func(key string, v json.RawMessage) { last[key] = v })
	for _, name := range propNames {
		if v, ok := last[name]; ok {
			setProp(&p, name, v)
		}
	}
	return p
}

// setProp decodes v into the field of p named name as json.Unmarshal does
// (null leaves a string or number, and clears a pointer); false when v
// has the wrong type, which leaves the field.
func setProp(p *Props, name string, v []byte) bool {
	if len(v) == 0 {
		return false
	}
	null := isNull(v)
	switch name {
	case "amount", "step_index", "revenue", "total":
		var dst **float64
		switch name {
		case "revenue":
			dst = &p.Revenue
		case "total":
			dst = &p.Total
		}
		if null {
			if dst != nil {
				*dst = nil
			}
			return true
		}
		if dst != nil && *dst == nil {
			// encoding/json allocates the pointer before it looks at
			// the value's type.
			*dst = new(float64)
		}
		if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
			return false
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return false
		}
		switch {
		case dst != nil:
			**dst = f
		case name == "amount":
			p.Amount = f
		default:
			p.StepIndex = f
		}
		return true
	}
	if null {
		return true
	}
	if v[0] != '"' {
		return false
	}
	s, ok := plainString(v)
	if !ok || !utf8.ValidString(s) {
		json.Unmarshal(v, &s) // a valid JSON string: cannot fail
	}
	switch name {
	case "path":
		p.Path = s
	case "url":
		p.URL = s
	case "referrer":
		p.Referrer = s
	case "content_type":
		p.ContentType = s
	case "feature":
		p.Feature = s
	case "step":
		p.Step = s
	case "course":
		p.Course = s
	case "plan":
		p.Plan = s
	}
	return true
}
