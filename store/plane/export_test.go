package plane

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batcher is the plane's script batcher, for the external tests.
type Batcher = batcher

// ErrNoWorker is what a call that waited too long to be sent returns.
var ErrNoWorker = errNoWorker

// ErrPlaneClosed is what a call the closed plane did not send returns.
var ErrPlaneClosed = errPlaneClosed

// NewBatcher returns a batcher of the given scripts, which it loads again
// after a NOSCRIPT.
func NewBatcher(rdb redis.UniversalClient, flushers int, maxWait time.Duration, srcs ...string) (*Batcher, []*redis.Script) {
	s := &scripts{srcs: srcs}
	for _, src := range srcs {
		s.all = append(s.all, redis.NewScript(src))
	}
	return newBatcher(s, rdb, flushers, maxWait, true), s.all
}

func (b *batcher) Run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	return b.run(ctx, sc, keys, args...)
}

func (b *batcher) Close() { b.close() }

// Queued is how many calls wait for a flusher.
func (b *batcher) Queued() int { return b.stats().Queued }

// Stats is what the plane's BatchStats reports for this batcher.
func (b *batcher) Stats() BatchStats { return b.stats() }

// Closed reports whether Close has begun: no call enters the queue.
func (b *batcher) Closed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.closed
}
