package dynamostore

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff waits an exponentially growing, fully jittered delay.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(25*time.Millisecond<<attempt, 2*time.Second)
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
