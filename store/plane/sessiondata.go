package plane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Session records live under <prefix>session:<token>, with no hash tag
// (one key each); store/session is the scs store over them. The plane
// keeps them because logging a user out everywhere (EndAllSessions) ends
// their sessions and their devices together.

// goneChannel carries the tokens of sessions changed or deleted, to every
// node's session cache.
func (k keys) goneChannel() string { return k.prefix + "session:gone" }

// SessionNewsChannel is the channel of the node's subscription that
// carries the tokens of sessions changed or deleted on any node.
func (p *Plane) SessionNewsChannel() string { return p.k.goneChannel() }

// ReadSession returns the session's record and how long Redis keeps it;
// found is false when there is none. The read leaves with the plane's
// script calls, in the pipelines that carry every request's calls, rather
// than in a round trip of its own (a node with a session cache re-reads
// each active session every few seconds: at 5,000 users, about 1,000
// reads a second).
func (p *Plane) ReadSession(ctx context.Context, token string) (b []byte, ttl time.Duration, found bool, err error) {
	v, err := p.batch.run(ctx, p.s.session, []string{p.k.session(token)})
	if errors.Is(err, redis.Nil) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, unavailable("find session", err)
	}
	rec, _ := v.([]any)
	if len(rec) != 2 {
		return nil, 0, false, unavailable("find session", fmt.Errorf("unexpected reply %v", v))
	}
	str, _ := rec[0].(string)
	ms, _ := rec[1].(int64)
	return []byte(str), time.Duration(ms) * time.Millisecond, true, nil
}

// SaveSession stores the session's record for ttl.
func (p *Plane) SaveSession(ctx context.Context, token string, b []byte, ttl time.Duration) error {
	if err := p.rdb.Set(ctx, p.k.session(token), b, ttl).Err(); err != nil {
		return unavailable("save session", err)
	}
	return nil
}

// DeleteSession removes the session's record.
func (p *Plane) DeleteSession(ctx context.Context, token string) error {
	if err := p.rdb.Del(ctx, p.k.session(token)).Err(); err != nil {
		return unavailable("delete session", err)
	}
	return nil
}

// SessionExists reports whether the session's record exists.
func (p *Plane) SessionExists(ctx context.Context, token string) (bool, error) {
	n, err := p.rdb.Exists(ctx, p.k.session(token)).Result()
	if err != nil {
		return false, unavailable("check session", err)
	}
	return n == 1, nil
}

// AnnounceSession tells every node's session cache that the session
// changed or is gone.
func (p *Plane) AnnounceSession(ctx context.Context, token string) error {
	return p.announceGone(ctx, []string{token})
}
