// Package openapi holds the OpenAPI 3.1 description of Uptake's HTTP API,
// served at GET /v1/openapi.json.
package openapi

import _ "embed"

// Document is the OpenAPI 3.1 description, as JSON.
//
//go:embed openapi.json
var Document []byte
