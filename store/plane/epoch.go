package plane

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// epochTTL is how long a node trusts the epoch it read.
const epochTTL = time.Second

type epochCache struct {
	mu  sync.Mutex
	val string
	at  time.Time
}

// Epoch names the generation of Redis's data (wc:epoch): set by the first
// node to ask, lost with the data (a restart without persistence, a
// FLUSHALL, a replica promoted without it), so that a cursor of an earlier
// generation is told apart from one of now. Nodes read it at most once a
// second, so a new epoch reaches every node within a second.
func (p *Plane) Epoch(ctx context.Context) (string, error) {
	c := &p.epoch
	c.mu.Lock()
	if c.val != "" && time.Since(c.at) < epochTTL {
		v := c.val
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	fresh := strconv.FormatInt(time.Now().UnixMilli(), 36)
	old, err := p.rdb.SetArgs(ctx, p.k.epoch(), fresh, redis.SetArgs{Mode: "NX", Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		old = fresh // this call set it
	case err != nil:
		return "", unavailable("read epoch", err)
	}
	c.mu.Lock()
	c.val, c.at = old, time.Now()
	c.mu.Unlock()
	return old, nil
}

// ForgetEpoch makes the next Epoch read Redis, for a caller that has seen
// a sign of lost data (a device or counter gone).
func (p *Plane) ForgetEpoch() {
	p.epoch.mu.Lock()
	p.epoch.at = time.Time{}
	p.epoch.mu.Unlock()
}
