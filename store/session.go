package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionStore is an scs.CtxStore over any go-redis client, under the
// plane's prefix (scs's goredisstore takes only a *redis.Client and writes
// outside our prefix). It is safe for concurrent use.
type SessionStore struct {
	rdb redis.UniversalClient
	k   keys
}

// NewSessionStore returns a session store. It does no I/O.
func NewSessionStore(rdb redis.UniversalClient, prefix string) *SessionStore {
	if prefix == "" {
		prefix = "wc:"
	}
	return &SessionStore{rdb: rdb, k: keys{prefix}}
}

// FindCtx returns the session data for token, if it exists.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, err := s.rdb.Get(ctx, s.k.session(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable("find session", err)
	}
	return b, true, nil
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
	return nil
}

// DeleteCtx removes the session.
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	if err := s.rdb.Del(ctx, s.k.session(token)).Err(); err != nil {
		return unavailable("delete session", err)
	}
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
