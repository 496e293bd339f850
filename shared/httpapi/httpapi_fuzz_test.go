package httpapi_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uptakehq/uptake/shared/httpapi"
)

func withAuth(name, value string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{Headers: map[string]string{name: value}}
}

// FuzzKey reads arbitrary Authorization headers: no panic, and a Bearer
// or Basic header built from a key gives that key back.
func FuzzKey(f *testing.F) {
	f.Add("Bearer uk_read_0123456789abcdef", "uk_read_0123456789abcdef")
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("uk_write_abc:")), "uk_write_abc")
	f.Add("basic dWtfd3JpdGVfYWJj", "uk_write_abc")
	f.Add("BEARER   spaced  ", "k")
	f.Add("Basic !!!", "ключ")
	f.Add("Basic", "")
	f.Add("Digest username=x", "a b")
	f.Add("", "\t")
	f.Fuzz(func(t *testing.T, header, key string) {
		for _, name := range []string{"authorization", "Authorization", "AUTHORIZATION"} {
			_ = httpapi.Key(withAuth(name, header))
		}
		if key == "" || strings.TrimSpace(key) != key {
			return // whitespace around a key is not kept in a header
		}
		for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
			h := scheme + " " + key
			if got := httpapi.Key(withAuth("authorization", h)); got != key {
				t.Fatalf("Key(%q) = %q, want %q", h, got, key)
			}
			if got := httpapi.Key(withAuth("Authorization", "  "+h+" ")); got != key {
				t.Fatalf("Key(%q) = %q, want %q", "  "+h+" ", got, key)
			}
		}
		if strings.Contains(key, ":") {
			return // Basic's user name cannot hold a colon
		}
		for _, cred := range []string{key + ":", key + ":ignored"} {
			h := "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
			if got := httpapi.Key(withAuth("authorization", h)); got != key {
				t.Fatalf("Key(%q) = %q, want %q", h, got, key)
			}
		}
	})
}
