package plane

import (
	"context"
	"strconv"
	"time"

	"webchat/store"
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
	return p.limit(ctx, key, l, 1, "take")
}

// AllowN is Allow for a request that costs n units.
func (p *Plane) AllowN(ctx context.Context, key string, l Limit, n int64) (bool, time.Duration, error) {
	return p.limit(ctx, key, l, n, "take")
}

// Charge counts cost units (fewer than none give some back) against the
// limit named key, whatever that leaves: beyond the burst the limit is in
// debt, and the next requests wait until it is paid off at its rate.
func (p *Plane) Charge(ctx context.Context, key string, l Limit, cost int64) error {
	_, _, err := p.limit(ctx, key, l, cost, "charge")
	return err
}

func (p *Plane) limit(ctx context.Context, key string, l Limit, cost int64, mode string) (bool, time.Duration, error) {
	if l.Per <= 0 {
		return true, 0, nil
	}
	interval := float64(l.Per) / float64(time.Millisecond)
	v, err := p.run(ctx, p.s.gcra, []string{p.kp + "rate:" + key}, strconv.FormatFloat(interval, 'f', -1, 64), max(l.Burst, 1), cost, mode)
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

// FanoutRateKey names a user's limit on what their group messages cost
// Redis (bytes times recipients), on the user's slot.
func FanoutRateKey(u store.UserID) string { return "fanout:" + userTag(u) }

// SendRateKey names a user's send limit, on the user's slot.
func SendRateKey(u store.UserID) string { return "send:" + userTag(u) }

// AddRateKey names a user's limit on friend requests and group adds, on
// the user's slot.
func AddRateKey(u store.UserID) string { return "add:" + userTag(u) }
