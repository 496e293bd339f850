package tenant

import (
	"context"
	"sync"
	"time"
)

// KeyCache remembers the keys a KeyStore found for a while, so that a warm
// function looks a key up once a minute instead of on every request (half
// of ingest's DynamoDB calls). Unknown keys are not remembered: a new key
// works at once. Keys are never deleted today; when they can be, a
// deleted key keeps working for at most TTL in the functions that saw it.
type KeyCache struct {
	Keys KeyStore
	TTL  time.Duration
	Now  func() time.Time

	mu      sync.Mutex
	entries map[string]cachedKey
}

type cachedKey struct {
	tenant  string
	kind    Kind
	expires time.Time
}

// maxCachedKeys bounds the cache; past it, the cache starts again empty.
const maxCachedKeys = 10_000

// LookupKey returns a remembered key, or asks Keys and remembers a found one.
func (c *KeyCache) LookupKey(ctx context.Context, hash string) (string, Kind, bool, error) {
	now := c.Now()
	c.mu.Lock()
	e, ok := c.entries[hash]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.tenant, e.kind, true, nil
	}
	id, kind, found, err := c.Keys.LookupKey(ctx, hash)
	if err != nil || !found {
		return id, kind, found, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCachedKeys {
		c.entries = map[string]cachedKey{}
	}
	c.entries[hash] = cachedKey{tenant: id, kind: kind, expires: now.Add(c.TTL)}
	c.mu.Unlock()
	return id, kind, true, nil
}
