package session

import (
	"maps"
	"sync"
	"time"
)

// cacheAge is how long a node trusts a session it read from Redis
// without reading it again. A change or deletion on any node reaches every
// node's cache at once through the node's subscription (PUBLISH
// <prefix>session:gone <token>); the age bounds only what a subscription
// that died silently could miss before it is found dead and renewed.
const cacheAge = 5 * time.Second

// cacheMax bounds the entries; past it, the oldest half goes.
const cacheMax = 100_000

// cache keeps recently read sessions in memory, so that a user's
// requests in a burst (a send, the poll it answers, the next poll) read the
// session from Redis once. Every request still sees a deletion made on any
// node, because the deleting node publishes it before it answers.
type cache struct {
	mu      sync.Mutex
	entries map[string]entry
	// epoch counts invalidations. A read from Redis is kept only if no
	// invalidation arrived while it was in flight: the value it read may be
	// the one just deleted.
	epoch uint64
	// off until the subscription that carries invalidations is up, and
	// while it is down.
	off   bool
	swept time.Time // when stale entries were last dropped
	now   func() time.Time
}

type entry struct {
	b       []byte
	read    time.Time // when it was read from Redis
	expires time.Time // when Redis expires it
}

func newCache() *cache {
	return &cache{entries: map[string]entry{}, off: true, now: time.Now}
}

// get returns the cached session data, if fresh.
func (c *cache) get(token string) ([]byte, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return nil, false
	}
	e, ok := c.entries[token]
	if !ok {
		return nil, false
	}
	if now.Sub(e.read) >= cacheAge || !now.Before(e.expires) {
		delete(c.entries, token)
		return nil, false
	}
	return e.b, true
}

// begin returns the epoch to pass to put after reading from Redis.
func (c *cache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// put keeps data read from Redis at epoch, unless an invalidation came
// meanwhile.
func (c *cache) put(token string, b []byte, ttl time.Duration, epoch uint64) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch || ttl <= 0 || c.off {
		return
	}
	if len(c.entries) >= cacheMax {
		c.evictLocked(now)
	} else if now.Sub(c.swept) >= cacheAge {
		c.sweepLocked(now)
	}
	c.entries[token] = entry{b: b, read: now, expires: now.Add(ttl)}
}

// evictLocked drops stale entries, and if that is not enough, the older
// half.
func (c *cache) evictLocked(now time.Time) {
	for t, e := range c.entries {
		if now.Sub(e.read) >= cacheAge {
			delete(c.entries, t)
		}
	}
	if len(c.entries) < cacheMax {
		return
	}
	cut := now.Add(-cacheAge / 2)
	for t, e := range c.entries {
		if e.read.Before(cut) || len(c.entries) >= cacheMax {
			delete(c.entries, t)
		}
	}
}

// sweep drops stale entries, so that a node holding idle polls does not
// keep their sessions. Every put past cacheAge since the last does it, so
// no goroutine is needed: each re-poll puts.
func (c *cache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(c.now())
}

func (c *cache) sweepLocked(now time.Time) {
	c.swept = now
	n := len(c.entries)
	for t, e := range c.entries {
		if now.Sub(e.read) >= cacheAge {
			delete(c.entries, t)
		}
	}
	if len(c.entries) < n/4 {
		// A Go map never shrinks: after a burst of sessions (10,000 polls
		// arriving at once, say), copy the few left into a small one.
		small := make(map[string]entry, len(c.entries))
		maps.Copy(small, c.entries)
		c.entries = small
	}
}

// drop forgets one session (changed or deleted somewhere).
func (c *cache) drop(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.entries, token)
}

// flush forgets every session, and until on is called again, caches none:
// invalidations may have been lost, or may be lost until the subscription
// is back.
func (c *cache) flush(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.off = !on
	clear(c.entries)
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
