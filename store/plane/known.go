package plane

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// maxKnownBrowsers is how many browsers a user's log-ins remember.
const maxKnownBrowsers = 20

func (k keys) known(u store.UserID) string { return k.user("known", u) }

// RememberBrowser records token as a browser u logged in from, for ttl;
// a log-in from it is not slowed by the limit on guesses at u's password
// from everywhere (KnownBrowser). The newest maxKnownBrowsers are kept.
func (p *Plane) RememberBrowser(ctx context.Context, u store.UserID, token string, ttl time.Duration) error {
	key := p.k.known(u)
	now := time.Now()
	pipe := p.rdb.TxPipeline()
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: token})
	pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
	pipe.ZRemRangeByRank(ctx, key, 0, -maxKnownBrowsers-1)
	pipe.PExpire(ctx, key, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("remember browser", err)
	}
	return nil
}

// KnownBrowser reports whether token is a browser u logged in from and
// that is not yet forgotten.
func (p *Plane) KnownBrowser(ctx context.Context, u store.UserID, token string) (bool, error) {
	until, err := p.rdb.ZScore(ctx, p.k.known(u), token).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, unavailable("known browser", err)
	}
	return int64(until) > time.Now().UnixMilli(), nil
}

// AuthUserRateKey names the limit on log-ins to one username from every
// address together.
func AuthUserRateKey(username string) string { return "auth:n:" + username }
