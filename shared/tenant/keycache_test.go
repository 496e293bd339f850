package tenant_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uptakehq/uptake/shared/tenant"
)

// countingKeys is a key store that counts its lookups.
type countingKeys struct {
	keys  map[string]string
	calls int
	fail  bool
}

func (k *countingKeys) LookupKey(_ context.Context, hash string) (string, tenant.Kind, bool, error) {
	k.calls++
	if k.fail {
		return "", "", false, errors.New("store down")
	}
	t, ok := k.keys[hash]
	return t, tenant.Write, ok, nil
}

func TestKeyCache(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	store := &countingKeys{keys: map[string]string{tenant.HashKey("k1"): "acme"}}
	c := &tenant.KeyCache{Keys: store, TTL: time.Minute, Now: func() time.Time { return now }}
	lookup := func(key string) (string, bool) {
		t.Helper()
		id, _, found, err := c.LookupKey(ctx, tenant.HashKey(key))
		if err != nil {
			t.Fatal(err)
		}
		return id, found
	}
	for range 3 {
		if id, found := lookup("k1"); !found || id != "acme" {
			t.Fatalf("k1 = %q %v, want acme", id, found)
		}
	}
	if store.calls != 1 {
		t.Errorf("three lookups within the TTL asked the store %d times, want once", store.calls)
	}
	// Unknown keys are asked every time, so a key created since works at once.
	lookup("k2")
	store.keys[tenant.HashKey("k2")] = "acme"
	if id, found := lookup("k2"); !found || id != "acme" {
		t.Errorf("a key created after a miss = %q %v, want found", id, found)
	}
	// Past the TTL, the store is asked again; its errors are not hidden.
	now = now.Add(61 * time.Second)
	store.fail = true
	if _, _, _, err := c.LookupKey(ctx, tenant.HashKey("k1")); err == nil {
		t.Error("an expired key was answered from the cache while the store is down")
	}
}
