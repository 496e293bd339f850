package router_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/infra/router"
	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/shared/httpapi"
)

// call is what a recording handler saw.
type call struct {
	function string
	ev       events.APIGatewayV2HTTPRequest
}

// templateRoutes loads the routes template.yaml declares.
func templateRoutes(tb testing.TB) []samtemplate.Route {
	tb.Helper()
	path, err := samtemplate.FindTemplate()
	if err != nil {
		tb.Fatal(err)
	}
	tmpl, err := samtemplate.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	routes := tmpl.Routes()
	if len(routes) == 0 {
		tb.Fatal("template declares no routes")
	}
	return routes
}

// expectedParams matches a template route the way API Gateway does, on
// the request's path with its segments unescaped, independently of the
// router: it returns the path parameters, or false.
func expectedParams(rt samtemplate.Route, method string, segs []string) (map[string]string, bool) {
	if m := strings.ToUpper(rt.Method); m != method && m != "ANY" {
		return nil, false
	}
	pattern := strings.Split(strings.Trim(rt.Path, "/"), "/")
	params := map[string]string{}
	for i, p := range pattern {
		name, isParam := strings.CutPrefix(p, "{")
		if isParam && strings.HasSuffix(name, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			params[strings.TrimSuffix(name, "+}")] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if isParam {
			if segs[i] == "" {
				return nil, false
			}
			params[strings.TrimSuffix(name, "}")] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, len(segs) == len(pattern)
}

// assemble puts path parameters back into a route's path.
func assemble(path string, params map[string]string) string {
	pattern := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			pattern[i] = params[strings.Trim(p, "{+}")]
		}
	}
	return strings.Join(pattern, "/")
}

// FuzzRouter serves arbitrary methods, paths and queries over the real
// template routes: the router never panics, and a request either reaches
// exactly the handler of a template route that matches it, with path
// parameters that re-assemble the path, or gets the router's 404.
func FuzzRouter(f *testing.F) {
	routes := templateRoutes(f)
	var calls []call
	handlers := map[string]httpapi.Func{}
	for _, rt := range routes {
		name := rt.Function
		handlers[name] = func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			calls = append(calls, call{function: name, ev: ev})
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusTeapot, Body: "handled by " + name}, nil
		}
	}
	r, err := router.New(routes, handlers, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	byKey := map[string]samtemplate.Route{}
	for _, rt := range routes {
		byKey[strings.ToUpper(rt.Method)+" "+rt.Path] = rt
	}

	for _, rt := range routes {
		path := strings.NewReplacer("{provider}", "typeform", "{tenant}", "t_8f2c", "{id}", "nps", "{proxy+}", "a/b").Replace(rt.Path)
		f.Add(rt.Method, path, "")
	}
	f.Add("GET", "/v1/kpis/nps", "from=2026-10-01&to=2026-10-31&interval=week")
	f.Add("GET", "/v1/kpis/nps.csv", "from=2026-10-01&to=2026-10-31&filter=channel:email&filter=plan:pro")
	f.Add("GET", "/v1/kpis/feature%2Fadoption", "feature=Export%20CSV")
	f.Add("GET", "/v1/kpis/", "")
	f.Add("GET", "//v1//kpis", "")
	f.Add("get", "/v1/kpis", "")
	f.Add("POST", "/v1/webhooks/survey/t%2Fx", "")
	f.Add("POST", "/v1/webhooks/survey/", "")
	f.Add("HEAD", "/v1/webhooks/surveymonkey/t_1/extra", "")
	f.Add("PUT", "/v1/admin/webhooks/zendesk/reprocess", "")
	f.Add("DELETE", "/v1/config", "")
	f.Add("GET", "/", "a=1&a=2&b")
	f.Add("GET", "/v1/kpis/%E2%9C%93", "%zz")

	f.Fuzz(func(t *testing.T, method, path, rawQuery string) {
		target := path
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		if rawQuery != "" {
			target += "?" + rawQuery
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http would not get this far
		}
		req := &http.Request{
			Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: http.NoBody, Host: "localhost:3000", RemoteAddr: "127.0.0.1:50000",
		}
		calls = calls[:0]
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)

		// The path as API Gateway sees it: segments of the escaped path,
		// each unescaped.
		segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
		for i, s := range segs {
			if v, err := url.PathUnescape(s); err == nil {
				segs[i] = v
			}
		}
		var matching []string
		for _, rt := range routes {
			if _, ok := expectedParams(rt, method, segs); ok {
				matching = append(matching, strings.ToUpper(rt.Method)+" "+rt.Path)
			}
		}

		switch len(calls) {
		case 0:
			if w.Code != http.StatusNotFound || strings.TrimSpace(w.Body.String()) != `{"message":"Not Found"}` {
				t.Fatalf("%s %s: no handler ran, but the answer is %d %q", method, target, w.Code, w.Body.String())
			}
			if len(matching) > 0 {
				t.Fatalf("%s %s: 404, but routes %v match", method, target, matching)
			}
		case 1:
			c := calls[0]
			rt, ok := byKey[c.ev.RouteKey]
			if !ok {
				t.Fatalf("%s %s: handler %s got route key %q, not a template route", method, target, c.function, c.ev.RouteKey)
			}
			if rt.Function != c.function {
				t.Fatalf("%s %s: route %s belongs to %s, but %s ran", method, target, c.ev.RouteKey, rt.Function, c.function)
			}
			want, ok := expectedParams(rt, method, segs)
			if !ok {
				t.Fatalf("%s %s: routed to %s, which does not match", method, target, c.ev.RouteKey)
			}
			if len(want) != len(c.ev.PathParameters) {
				t.Fatalf("%s %s: path parameters %v, want %v", method, target, c.ev.PathParameters, want)
			}
			for k, v := range want {
				if c.ev.PathParameters[k] != v {
					t.Fatalf("%s %s: path parameters %v, want %v", method, target, c.ev.PathParameters, want)
				}
			}
			if got, want := assemble(rt.Path, c.ev.PathParameters), strings.Join(segs, "/"); got != want {
				t.Fatalf("%s %s: parameters %v re-assemble %q, not the path %q", method, target, c.ev.PathParameters, got, want)
			}
			if c.ev.RequestContext.HTTP.Method != method || c.ev.RawQueryString != u.RawQuery || c.ev.RawPath != u.Path {
				t.Fatalf("%s %s: event says %s %s ? %s", method, target, c.ev.RequestContext.HTTP.Method, c.ev.RawPath, c.ev.RawQueryString)
			}
			if w.Code != http.StatusTeapot || w.Body.String() != "handled by "+c.function {
				t.Fatalf("%s %s: handler's answer not passed on: %d %q", method, target, w.Code, w.Body.String())
			}
		default:
			t.Fatalf("%s %s: %d handlers ran", method, target, len(calls))
		}
	})
}
