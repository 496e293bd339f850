package tenant

import (
	"context"
	"sync/atomic"
)

// ctxKey keys the request's tenant slot in a context.
type ctxKey struct{}

// slot holds the tenant of a request once it is known. A request's
// context is made before its key is checked, so the slot is filled in
// place: every log record and metric made with that context afterwards,
// down to the error answer, carries the tenant.
type slot struct{ id atomic.Pointer[string] }

// NewContext returns a context with an empty tenant slot, for one request:
// Authenticate (or Known) fills it.
func NewContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, &slot{})
}

// WithID returns a context whose tenant is id, for work done for one
// tenant at a time (the nightly run's loop over tenants).
func WithID(ctx context.Context, id string) context.Context {
	s := &slot{}
	s.id.Store(&id)
	return context.WithValue(ctx, ctxKey{}, s)
}

// Known records that the request of ctx acts for tenant id. Without a slot
// (a context not made by NewContext or WithID) it does nothing.
func Known(ctx context.Context, id string) {
	if s, ok := ctx.Value(ctxKey{}).(*slot); ok {
		s.id.Store(&id)
	}
}

// FromContext returns the tenant that ctx acts for, once known.
func FromContext(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(ctxKey{}).(*slot)
	if !ok {
		return "", false
	}
	id := s.id.Load()
	if id == nil {
		return "", false
	}
	return *id, true
}
