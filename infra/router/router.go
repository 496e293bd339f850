// Package router is the local stand-in for API Gateway: it serves the HTTP
// API routes that template.yaml declares by calling the same handler
// functions that Lambda runs, with API Gateway's payload format 2.0.
package router

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/uptakehq/uptake/infra/samtemplate"
	"github.com/uptakehq/uptake/shared/httpapi"
)

// maxBody is API Gateway's payload limit for HTTP APIs.
const maxBody = 10 << 20

type route struct {
	method   string
	segments []string // "{name}" for a parameter, "{name+}" for greedy
	key      string   // API Gateway's routeKey, "POST /v1/batch"
	fn       httpapi.Func
}

// Router serves template routes.
type Router struct {
	routes []route
	log    *slog.Logger
}

// New builds a router for routes, with a handler for every function they
// name. It fails when a route's function has no handler, or a handler no
// route: the template and the local stack must agree.
func New(routes []samtemplate.Route, handlers map[string]httpapi.Func, log *slog.Logger) (*Router, error) {
	r := &Router{log: log}
	used := map[string]bool{}
	var errs []error
	for _, rt := range routes {
		fn, ok := handlers[rt.Function]
		if !ok {
			errs = append(errs, fmt.Errorf("route %s %s: function %s has no local handler", rt.Method, rt.Path, rt.Function))
			continue
		}
		used[rt.Function] = true
		r.routes = append(r.routes, route{
			method: strings.ToUpper(rt.Method), segments: split(rt.Path), key: strings.ToUpper(rt.Method) + " " + rt.Path, fn: fn,
		})
	}
	for name := range handlers {
		if !used[name] {
			errs = append(errs, fmt.Errorf("handler %s serves no route of the template", name))
		}
	}
	// Literal segments win over parameters, as in API Gateway.
	slices.SortStableFunc(r.routes, func(a, b route) int { return specificity(b) - specificity(a) })
	return r, errors.Join(errs...)
}

func split(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

func specificity(r route) int {
	n := 0
	for _, s := range r.segments {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n*100 + len(r.segments)
}

func (rt route) match(method string, segs []string) (map[string]string, bool) {
	if rt.method != method && rt.method != "ANY" {
		return nil, false
	}
	params := map[string]string{}
	for i, s := range rt.segments {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			params[strings.Trim(s, "{+}")] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(s, "{") {
			if segs[i] == "" {
				return nil, false
			}
			params[strings.Trim(s, "{}")] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, len(segs) == len(rt.segments)
}

// ServeHTTP turns the request into an API Gateway event, calls the route's
// handler and writes its response, as API Gateway does.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	segs := split(req.URL.EscapedPath())
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	for _, rt := range r.routes {
		params, ok := rt.match(req.Method, segs)
		if !ok {
			continue
		}
		r.serve(w, req, rt, params)
		return
	}
	writeJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
}

func (r *Router) serve(w http.ResponseWriter, req *http.Request, rt route, params map[string]string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, `{"message":"Bad Request"}`)
		return
	}
	if len(body) > maxBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, `{"message":"Request Entity Too Large"}`)
		return
	}
	ev := Event(req, body, rt.key, params)
	// As in Lambda, the handler's context names the invocation: its logs
	// carry the request id.
	ctx := lambdacontext.NewContext(req.Context(), &lambdacontext.LambdaContext{AwsRequestID: ev.RequestContext.RequestID})
	resp, err := rt.fn(ctx, ev)
	if err != nil {
		// Lambda reports a function error; API Gateway answers 500.
		r.log.ErrorContext(ctx, "function error", "route", rt.key, "err", err)
		writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if out, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
			return
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(out)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// Event builds the API Gateway HTTP API (payload 2.0) event for a request.
func Event(req *http.Request, body []byte, routeKey string, params map[string]string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range req.Header {
		if strings.EqualFold(k, "Cookie") {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					cookies = append(cookies, strings.TrimSpace(c))
				}
			}
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	var query map[string]string
	if q := req.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	ip, _, _ := net.SplitHostPort(req.RemoteAddr)
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: req.URL.Path, RawQueryString: req.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: routeKey, AccountID: "000000000000", Stage: "$default", RequestID: requestID(),
			APIID: "local", DomainName: req.Host, DomainPrefix: "local",
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: ip, UserAgent: req.UserAgent(),
			},
		},
	}
	if utf8.Valid(body) && !bytes.ContainsRune(body, 0) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func requestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
