package plane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionStore is an scs.CtxStore over any go-redis client, under the
// plane's prefix (scs's goredisstore takes only a *redis.Client and writes
// outside our prefix). It is safe for concurrent use.
//
// With a cache (Wakeups.CacheSessions), a session read from Redis is
// trusted for a few seconds, and every change or deletion is published to
// every node's cache before it is answered.
type SessionStore struct {
	rdb   redis.UniversalClient
	log   *slog.Logger
	k     keys
	cache *sessionCache // nil: every request reads Redis
	batch *batcher      // set: the cache's reads leave with the plane's script calls (ReadWith)
}

// goneChannel carries the tokens of sessions changed or deleted, to every
// node's session cache.
func (k keys) goneChannel() string { return k.prefix + "session:gone" }

// NewSessionStore returns a session store that logs what it cannot tell
// its caller to log (nil: nowhere). It does no I/O.
func NewSessionStore(rdb redis.UniversalClient, prefix string, log *slog.Logger) *SessionStore {
	if prefix == "" {
		prefix = "wc:"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SessionStore{rdb: rdb, log: log, k: keys{prefix}}
}

// ReadWith sends the reads that fill the session cache with p's script
// calls, in the pipelines that leave for Redis with every request's calls,
// rather than each in a round trip of its own. (A node re-reads each
// active session every few seconds: at 5,000 users, about 1,000 reads a
// second.)
func (s *SessionStore) ReadWith(p *Plane) { s.batch = p.batch }

// FindCtx returns the session data for token, if it exists.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if s.cache == nil {
		b, err := s.rdb.Get(ctx, s.k.session(token)).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, unavailable("find session", err)
		}
		return b, true, nil
	}
	if b, ok := s.cache.get(token); ok {
		return b, true, nil
	}
	epoch := s.cache.begin()
	// The expiry too, in the same call: a cached session must not outlive
	// the key.
	keys := []string{s.k.session(token)}
	var v any
	var err error
	if s.batch != nil {
		v, err = s.batch.run(ctx, readSession, keys)
	} else {
		v, err = readSession.Run(ctx, s.rdb, keys).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable("find session", err)
	}
	rec, _ := v.([]any)
	if len(rec) != 2 {
		return nil, false, unavailable("find session", fmt.Errorf("unexpected reply %v", v))
	}
	str, _ := rec[0].(string)
	ttl, _ := rec[1].(int64)
	b := []byte(str) // one copy, shared with the cache as get shares it
	s.cache.put(token, b, time.Duration(ttl)*time.Millisecond, epoch)
	return b, true, nil
}

// changed tells every node's cache (this one's first) that the session
// changed or is gone, whether or not this store has a cache. It runs after
// the write, so a node that reads the session again on the news reads the
// new state. The write stands if the news is lost: other nodes' copies then
// age out (sessionCacheAge) rather than the request failing half done.
func (s *SessionStore) changed(ctx context.Context, token string) {
	if s.cache != nil {
		s.cache.drop(token)
	}
	if err := s.rdb.Publish(ctx, s.k.goneChannel(), token).Err(); err != nil {
		// The write stands, so the caller succeeds: only a log can tell.
		s.log.Warn("announce session change; other nodes' cached copies age out", "err", err)
	}
}

// CommitCtx saves the session data until expiry.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ttl := time.Until(expiry)
	if ttl <= 0 {
		return s.DeleteCtx(ctx, token)
	}
	if err := s.rdb.Set(ctx, s.k.session(token), b, ttl).Err(); err != nil {
		return unavailable("save session", err)
	}
	s.changed(ctx, token)
	return nil
}

// DeleteCtx removes the session.
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	if err := s.rdb.Del(ctx, s.k.session(token)).Err(); err != nil {
		return unavailable("delete session", err)
	}
	s.changed(ctx, token)
	return nil
}

// Exists reports whether the session still exists (a poll re-checks it
// after its device disappears, to tell log-out from a drop).
func (s *SessionStore) Exists(ctx context.Context, token string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.k.session(token)).Result()
	if err != nil {
		return false, unavailable("check session", err)
	}
	return n == 1, nil
}

// Find, Commit and Delete satisfy scs.Store; scs calls the Ctx versions.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *SessionStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
