package store

import (
	"context"
	"time"
)

// Limit is a rate with a burst, shared by every node through Redis.
type Limit struct {
	Per   time.Duration // one request per Per on average; 0 turns the limit off
	Burst int           // requests allowed at once
}

// Allow takes one request from the limit named key and reports whether it
// may go ahead, or how long to wait. The check is one script (GCRA) on the
// key's slot, so all nodes share the limit. Keys for one user should carry
// the user's hash tag.
func (p *Plane) Allow(ctx context.Context, key string, l Limit) (bool, time.Duration, error) {
	if l.Per <= 0 {
		return true, 0, nil
	}
	v, err := p.run(ctx, p.s.gcra, []string{p.kp + "rate:" + key}, max(l.Per.Milliseconds(), 1), max(l.Burst, 1))
	if err != nil {
		return false, 0, unavailable("rate limit", err)
	}
	res, _ := v.([]any)
	if len(res) != 2 {
		return false, 0, unavailable("rate limit", errUnexpected(v))
	}
	if toInt(res[0]) == 1 {
		return true, 0, nil
	}
	return false, time.Duration(toInt(res[1])) * time.Millisecond, nil
}

// SendRateKey names a user's send limit, on the user's slot.
func SendRateKey(u UserID) string { return "send:" + userTag(u) }

// AddRateKey names a user's limit on friend requests and group adds, on
// the user's slot.
func AddRateKey(u UserID) string { return "add:" + userTag(u) }
