// Package tenant holds who may call Uptake: tenants, their API keys (stored
// only as hashes) and the check that a key may do what it asks.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/uptakehq/uptake/shared/apierr"
)

// Kind is what a key may do.
type Kind string

// The key kinds of api.md.
const (
	Write Kind = "write"
	Read  Kind = "read"
	Admin Kind = "admin"
)

// ValidID reports whether id can name a tenant: lower-case letters, digits
// and dashes, not starting with a dash, at most 63 characters (it becomes
// part of S3 keys). It is `^[a-z0-9][a-z0-9-]{0,62}$` written out: that
// regular expression, compiled at package init, cost every Lambda cold
// start about a millisecond (benchmark P4).
func ValidID(id string) bool {
	if id == "" || len(id) > 63 || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// HashKey is how keys are stored: keys are long random tokens, so a plain
// SHA-256 is enough to make a table dump useless for calling the API.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Secret is a key or secret that redacts itself in logs.
type Secret string

// LogValue keeps secrets out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// NewKey returns a fresh random key with a readable prefix.
func NewKey(prefix string) (Secret, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random key: %w", err)
	}
	return Secret(prefix + "_" + hex.EncodeToString(b)), nil
}

// KeyStore finds the tenant and kind of a hashed key.
type KeyStore interface {
	LookupKey(ctx context.Context, hash string) (tenantID string, kind Kind, found bool, err error)
}

// Authenticator checks API keys.
type Authenticator struct{ Keys KeyStore }

// Authenticate returns the tenant of key if it is of kind want: 401 when
// the key is missing or unknown, 403 when it is of another kind.
func (a Authenticator) Authenticate(ctx context.Context, key string, want Kind) (string, error) {
	if key == "" {
		return "", apierr.New(apierr.Unauthorized, "missing API key: use HTTP Basic with the key as user name, or Authorization: Bearer <key>")
	}
	id, kind, found, err := a.Keys.LookupKey(ctx, HashKey(key))
	if err != nil {
		return "", fmt.Errorf("look up key: %w", err)
	}
	if !found {
		return "", apierr.New(apierr.Unauthorized, "unknown API key")
	}
	if kind != want {
		return "", apierr.New(apierr.Forbidden, "a %s key cannot be used here: this route needs the %s key", kind, want)
	}
	Known(ctx, id)
	return id, nil
}
