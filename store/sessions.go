package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// sessionsKey is the set of a user's session tokens, so that "log out
// everywhere" can find them. Expired tokens linger until the set expires.
func (k keys) sessions(u UserID) string { return k.user("sessions", u) }

// TrackSession records token as one of u's sessions for lifetime.
func (p *Plane) TrackSession(ctx context.Context, u UserID, token string, lifetime time.Duration) error {
	pipe := p.rdb.TxPipeline()
	pipe.SAdd(ctx, p.k.sessions(u), token)
	pipe.PExpire(ctx, p.k.sessions(u), lifetime)
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("track session", err)
	}
	return nil
}

// UntrackSession forgets one of u's sessions (log-out).
func (p *Plane) UntrackSession(ctx context.Context, u UserID, token string) error {
	if err := p.rdb.SRem(ctx, p.k.sessions(u), token).Err(); err != nil {
		return unavailable("untrack session", err)
	}
	return nil
}

// EndAllSessions logs u out everywhere: every session is deleted, every
// device removed with its lists, and every waiting poll woken (it then
// answers 401).
func (p *Plane) EndAllSessions(ctx context.Context, u UserID) error {
	tokens, err := p.rdb.SMembers(ctx, p.k.sessions(u)).Result()
	if err != nil {
		return unavailable("list sessions", err)
	}
	// Session keys have no hash tag: one DEL each, pipelined (per node).
	pipe := p.rdb.Pipeline()
	for _, t := range tokens {
		pipe.Del(ctx, p.k.session(t))
	}
	pipe.Del(ctx, p.k.sessions(u))
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("delete sessions", err)
	}
	// Then every node's session cache forgets them (SessionStore.changed).
	// If that fails, other nodes' copies age out (as SessionStore.changed)
	// and the caller hears of it once the devices are gone: the sessions
	// themselves are over, and a repeat of the call finds nothing left.
	var announceErr error
	if len(tokens) > 0 {
		pipe = p.rdb.Pipeline()
		for _, t := range tokens {
			pipe.Publish(ctx, p.k.goneChannel(), t)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			announceErr = unavailable("announce ended sessions", err)
		}
	}
	devs, err := p.rdb.ZRange(ctx, p.k.devices(u), 0, -1).Result()
	if err != nil {
		return unavailable("list devices", err)
	}
	for _, d := range devs {
		if err := p.UnregisterDevice(ctx, u, d); err != nil {
			return err
		}
	}
	return announceErr
}

// DeviceLastPoll returns when dev last polled (or was entered), and false
// if the device no longer exists.
func (p *Plane) DeviceLastPoll(ctx context.Context, u UserID, dev string) (time.Time, bool, error) {
	ms, err := p.rdb.ZScore(ctx, p.k.devices(u), dev).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, unavailable("read device", err)
	}
	return time.UnixMilli(int64(ms)), true, nil
}
