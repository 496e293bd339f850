// Package web is the dashboard page: its TypeScript and CSS sources
// (src/), the bundle esbuild builds from them (dist/, committed, so that
// go build needs no Node.js) and the handler that serves both on the HTTP
// API's GET / and GET /assets/{file} routes. The page talks only to the
// public /v1 API, with the read key the user enters; the files themselves
// need no key.
package web

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/httpapi"
)

//go:embed index.html dist
var files embed.FS

// file is one served file.
type file struct {
	body        string
	contentType string
}

// Site serves the page and its assets.
type Site struct {
	once  sync.Once
	files map[string]file // by route path: "/", "/assets/app.js", …
	log   *slog.Logger
}

// contentTypes are the types of the files dist holds.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// New returns the site; it reads the embedded files on its first request,
// not at the query function's start (reading them there cost its cold
// start about 2 ms, P4).
func New(log *slog.Logger) *Site { return &Site{log: log} }

// load reads the embedded files.
func (s *Site) load() {
	s.files = map[string]file{}
	add := func(route, name string) {
		b, err := files.ReadFile(name)
		if err != nil {
			// The names come from the embedded tree itself.
			panic(err)
		}
		s.files[route] = file{body: string(b), contentType: contentTypes[path.Ext(name)]}
	}
	add("/", "index.html")
	entries, _ := fs.ReadDir(files, "dist")
	for _, e := range entries {
		if _, ok := contentTypes[path.Ext(e.Name())]; ok && !e.IsDir() {
			add("/assets/"+e.Name(), "dist/"+e.Name())
		}
	}
}

// securityPolicy keeps the page to its own origin: its scripts, styles and
// API calls, nothing from elsewhere (no CDN at run time).
const securityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handle serves GET / and GET /assets/{file}.
func (s *Site) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.Serve(ctx, s.log, func() (events.APIGatewayV2HTTPResponse, error) {
		s.once.Do(s.load)
		p := req.RawPath
		if name, ok := req.PathParameters["file"]; ok {
			p = "/assets/" + name
		}
		f, ok := s.files[p]
		if !ok {
			return events.APIGatewayV2HTTPResponse{}, apierr.New(apierr.NotFound, "no file %q", strings.TrimPrefix(p, "/assets/"))
		}
		headers := map[string]string{
			"content-type":            f.contentType,
			"cache-control":           "no-cache",
			"x-content-type-options":  "nosniff",
			"content-security-policy": securityPolicy,
			"referrer-policy":         "no-referrer",
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: headers, Body: f.body}, nil
	})
}
