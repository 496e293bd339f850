// Package httpapi is the plumbing between API Gateway HTTP API (payload
// format 2.0) events and Uptake's services: request bodies, API keys, JSON
// answers and the error body of api.md.
package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/apierr"
)

// Func is a Lambda handler for an HTTP API route; the local router serves
// the same functions.
type Func func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Body returns the raw request body, decoding base64 when API Gateway
// encoded it.
func Body(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, apierr.New(apierr.InvalidRequest, "body is not valid base64")
	}
	return b, nil
}

// Header returns a request header, matching the name case-insensitively
// (API Gateway lower-cases names; tests may not).
func Header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Key returns the API key of a request, in Segment's convention: HTTP Basic
// with the key as user name and an empty password, or a Bearer token.
func Key(req events.APIGatewayV2HTTPRequest) string {
	auth := strings.TrimSpace(Header(req, "Authorization"))
	scheme, rest, _ := strings.Cut(auth, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return rest
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return ""
		}
		user, _, _ := strings.Cut(string(raw), ":")
		return user
	}
	return ""
}

// JSON answers with v encoded as JSON.
func JSON(status int, v any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values of our own types are encoded here; failing is a bug.
		return events.APIGatewayV2HTTPResponse{
			StatusCode: http.StatusInternalServerError,
			Headers:    map[string]string{"content-type": "application/json"},
			Body:       `{"error":{"code":"internal","message":"internal error"}}`,
		}
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       string(b),
	}
}

// Text answers with a text body of the given content type.
func Text(status int, contentType, body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"content-type": contentType},
		Body:       body,
	}
}

type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Code    apierr.Code `json:"code"`
	Message string      `json:"message"`
	Details any         `json:"details,omitempty"`
}

// Error answers with api.md's error shape. An *apierr.Error keeps its code
// and message; anything else is logged here, once, and reaches the client
// as a bare 500.
func Error(ctx context.Context, log *slog.Logger, err error) events.APIGatewayV2HTTPResponse {
	e, ok := apierr.As(err)
	if !ok {
		log.ErrorContext(ctx, "request failed", "err", err)
		e = &apierr.Error{Code: apierr.Internal, Message: "internal error"}
	}
	return JSON(apierr.Status(e.Code), errorBody{Error: errorFields{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// Serve runs fn and turns its error into an answer, so that handlers return
// errors instead of writing error bodies themselves.
func Serve(ctx context.Context, log *slog.Logger, fn func() (events.APIGatewayV2HTTPResponse, error)) (events.APIGatewayV2HTTPResponse, error) {
	resp, err := fn()
	if err != nil {
		return Error(ctx, log, err), nil
	}
	return resp, nil
}

// DecodeObject decodes a request body that must be exactly one JSON
// object, in valid UTF-8, with no field v lacks and nothing after it.
func DecodeObject(body []byte, v any) error {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return apierr.New(apierr.InvalidJSON, "body is empty: send a JSON object")
	}
	if !utf8.Valid(body) {
		return apierr.New(apierr.InvalidJSON, "body is not valid UTF-8")
	}
	if t[0] != '{' {
		return apierr.New(apierr.InvalidRequest, "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
			return apierr.New(apierr.InvalidJSON, "body is not valid JSON: %v", err)
		}
		return apierr.New(apierr.InvalidRequest, "body: %v", err)
	}
	if dec.More() {
		return apierr.New(apierr.InvalidJSON, "body has data after the JSON object")
	}
	return nil
}
