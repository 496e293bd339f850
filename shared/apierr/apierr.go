// Package apierr defines the one error type that crosses Uptake's API
// boundary, its codes, and the single table mapping codes to HTTP statuses.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a machine-readable error code, part of the HTTP contract.
type Code string

// The codes of api.md's error shape.
const (
	InvalidJSON     Code = "invalid_json"
	InvalidRequest  Code = "invalid_request"
	InvalidDate     Code = "invalid_date"
	UnknownKPI      Code = "unknown_kpi"
	Unauthorized    Code = "unauthorized"
	Forbidden       Code = "forbidden"
	NotFound        Code = "not_found"
	TooLarge        Code = "payload_too_large"
	UnsupportedType Code = "unsupported_media_type"
	NotImplemented  Code = "not_implemented"
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"
)

var statuses = map[Code]int{
	InvalidJSON:     http.StatusBadRequest,
	InvalidRequest:  http.StatusBadRequest,
	InvalidDate:     http.StatusBadRequest,
	UnknownKPI:      http.StatusBadRequest,
	Unauthorized:    http.StatusUnauthorized,
	Forbidden:       http.StatusForbidden,
	NotFound:        http.StatusNotFound,
	TooLarge:        http.StatusRequestEntityTooLarge,
	UnsupportedType: http.StatusUnsupportedMediaType,
	NotImplemented:  http.StatusNotImplemented,
	Unavailable:     http.StatusServiceUnavailable,
	Internal:        http.StatusInternalServerError,
}

// Error is an error the client caused or must be told about. Anything that
// is not an *Error reaches the client as a 500 "internal error".
type Error struct {
	Code    Code
	Message string
	// Details, when set, is sent to the client beside code and message.
	Details any
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Status is the HTTP status for a code; unknown codes are 500.
func Status(c Code) int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}
