package plane

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// sessionsKey is the zset of a user's sessions, "<token>|<device>" → log-in
// ms, so that "log out everywhere" can find them and TrackSession can keep
// the newest. Nodes before the cap wrote a set of bare tokens; track.lua
// converts it, and bare tokens are read as sessions of unknown devices.
func (k keys) sessions(u store.UserID) string { return k.user("sessions", u) }

// TrackSession records token, on device dev, as one of u's sessions for
// lifetime, and ends the sessions beyond max (Options.MaxDevices: a
// session per device), least recently seen first: each goes with its
// device, its key goes, and every node's session cache hears of it, so its
// next request, a waiting poll too, answers 401.
func (p *Plane) TrackSession(ctx context.Context, u store.UserID, token, dev string, lifetime time.Duration) error {
	v, err := p.run(ctx, p.s.track, []string{p.k.sessions(u), p.k.devices(u)}, p.kp, userTag(u), token, dev,
		lifetime.Milliseconds(), p.o.MaxDevices)
	if err != nil {
		return unavailable("track session", err)
	}
	old := asStrings(v)
	if len(old) == 0 {
		return nil
	}
	pipe := p.rdb.Pipeline()
	for _, t := range old {
		pipe.Del(ctx, p.k.session(t))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("end old sessions", err)
	}
	return p.announceGone(ctx, old)
}

// UntrackSession forgets u's session token on device dev (log-out, a
// renewed token).
func (p *Plane) UntrackSession(ctx context.Context, u store.UserID, token, dev string) error {
	err := p.rdb.ZRem(ctx, p.k.sessions(u), token+"|"+dev, token).Err()
	if isWrongType(err) { // still a set, from an older node
		err = p.rdb.SRem(ctx, p.k.sessions(u), token).Err()
	}
	if err != nil {
		return unavailable("untrack session", err)
	}
	return nil
}

// sessionTokens lists u's session tokens.
func (p *Plane) sessionTokens(ctx context.Context, u store.UserID) ([]string, error) {
	members, err := p.rdb.ZRange(ctx, p.k.sessions(u), 0, -1).Result()
	if isWrongType(err) {
		members, err = p.rdb.SMembers(ctx, p.k.sessions(u)).Result()
	}
	if err != nil {
		return nil, unavailable("list sessions", err)
	}
	for i, m := range members {
		members[i], _, _ = strings.Cut(m, "|")
	}
	return members, nil
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// announceGone tells every node's session cache that tokens are gone
// (as store/session does for one). If that fails, other nodes' copies age out.
func (p *Plane) announceGone(ctx context.Context, tokens []string) error {
	pipe := p.rdb.Pipeline()
	for _, t := range tokens {
		pipe.Publish(ctx, p.k.goneChannel(), t)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("announce ended sessions", err)
	}
	return nil
}

// EndAllSessions logs u out everywhere: every session is deleted, every
// device removed with its lists, and every waiting poll woken (it then
// answers 401).
func (p *Plane) EndAllSessions(ctx context.Context, u store.UserID) error {
	tokens, err := p.sessionTokens(ctx, u)
	if err != nil {
		return err
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
	// Then every node's session cache forgets them (as store/session does
	// for one). If that fails, other nodes' copies age out
	// and the caller hears of it once the devices are gone: the sessions
	// themselves are over, and a repeat of the call finds nothing left.
	var announceErr error
	if len(tokens) > 0 {
		announceErr = p.announceGone(ctx, tokens)
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
func (p *Plane) DeviceLastPoll(ctx context.Context, u store.UserID, dev string) (time.Time, bool, error) {
	ms, err := p.rdb.ZScore(ctx, p.k.devices(u), dev).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, unavailable("read device", err)
	}
	return time.UnixMilli(int64(ms)), true, nil
}
