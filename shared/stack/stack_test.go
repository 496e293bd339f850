package stack_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/query"
	"github.com/uptakehq/uptake/shared/stack"
)

// TestQueryFunctionRoutes checks that the query function sends the
// dashboard's routes to Web, answers 404 on them when it has none, and
// sends the others to the query service.
func TestQueryFunctionRoutes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := &stack.Stack{Query: &query.Service{Log: log, OpenAPI: []byte(`{"openapi":"3.1.0"}`)}, Log: log}
	web := func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: "page " + req.RawPath}, nil
	}
	for _, tc := range []struct {
		name     string
		web      bool
		routeKey string
		path     string
		status   int
		body     string
	}{
		{"page", true, "GET /", "/", 200, "page /"},
		{"asset", true, "GET /assets/{file}", "/assets/app.js", 200, "page /assets/app.js"},
		{"openapi", true, "GET /v1/openapi.json", "/v1/openapi.json", 200, `{"openapi":"3.1.0"}`},
		{"page without web", false, "GET /", "/", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st.Web = nil
			if tc.web {
				st.Web = web
			}
			resp, err := st.QueryFunction(t.Context(), events.APIGatewayV2HTTPRequest{RouteKey: tc.routeKey, RawPath: tc.path})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || (tc.body != "" && resp.Body != tc.body) {
				t.Errorf("%s: status %d, body %s; want %d %s", tc.routeKey, resp.StatusCode, resp.Body, tc.status, tc.body)
			}
		})
	}
}
