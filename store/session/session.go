// Package session is webchat's scs session store: an scs.CtxStore over the
// session records the message plane keeps in Redis, with a node-local cache
// that the node's subscription keeps honest.
package session

import (
	"context"
	"log/slog"
	"time"

	"webchat/store/plane"
)

// Backend keeps the session records; *plane.Plane is the one in use.
type Backend interface {
	ReadSession(ctx context.Context, token string) (b []byte, ttl time.Duration, found bool, err error)
	SaveSession(ctx context.Context, token string, b []byte, ttl time.Duration) error
	DeleteSession(ctx context.Context, token string) error
	SessionExists(ctx context.Context, token string) (bool, error)
	AnnounceSession(ctx context.Context, token string) error
	SessionNewsChannel() string
}

// Store is an scs.CtxStore over a Backend, under the plane's prefix (scs's
// goredisstore takes only a *redis.Client and writes outside our prefix).
// It is safe for concurrent use.
//
// With a cache, a session read from Redis is trusted for a few seconds,
// and every change or deletion is published to every node's cache before
// it is answered. The cache holds nothing until the node's subscription
// carries its news (News, passed to plane.Plane.Subscribe), and nothing
// while the subscription is down.
type Store struct {
	b     Backend
	log   *slog.Logger
	cache *cache // nil: every request reads Redis
}

// New returns a session store, with a cache if cached, that logs what it
// cannot tell its caller to log (nil: nowhere). It does no I/O and starts
// nothing.
func New(b Backend, log *slog.Logger, cached bool) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{b: b, log: log}
	if cached {
		s.cache = newCache()
	}
	return s
}

// News is the store's channel of the node's subscription: changes and
// deletions announced by any node drop the cached copy, and while the
// subscription may have missed news, nothing is cached.
func (s *Store) News() plane.Channel {
	return plane.Channel{
		Name: s.b.SessionNewsChannel(),
		Message: func(token string) {
			if s.cache != nil {
				s.cache.drop(token)
			}
		},
		Live: func(live bool) {
			if s.cache != nil {
				s.cache.flush(live)
			}
		},
	}
}

// FindCtx returns the session data for token, if it exists.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if s.cache == nil {
		b, _, found, err := s.b.ReadSession(ctx, token)
		return b, found, err
	}
	if b, ok := s.cache.get(token); ok {
		return b, true, nil
	}
	epoch := s.cache.begin()
	// The expiry too, in the same call: a cached session must not outlive
	// the key.
	b, ttl, found, err := s.b.ReadSession(ctx, token)
	if err != nil || !found {
		return nil, false, err
	}
	s.cache.put(token, b, ttl, epoch) // one copy, shared with the cache as get shares it
	return b, true, nil
}

// changed tells every node's cache (this one's first) that the session
// changed or is gone. It runs after the write, so a node that reads the
// session again on the news reads the new state. The write stands if the
// news is lost: other nodes' copies then age out (cacheAge) rather than
// the request failing half done.
func (s *Store) changed(ctx context.Context, token string) {
	if s.cache != nil {
		s.cache.drop(token)
	}
	if err := s.b.AnnounceSession(ctx, token); err != nil {
		// The write stands, so the caller succeeds: only a log can tell.
		s.log.Warn("announce session change; other nodes' cached copies age out", "err", err)
	}
}

// CommitCtx saves the session data until expiry.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ttl := time.Until(expiry)
	if ttl <= 0 {
		return s.DeleteCtx(ctx, token)
	}
	if err := s.b.SaveSession(ctx, token, b, ttl); err != nil {
		return err
	}
	s.changed(ctx, token)
	return nil
}

// DeleteCtx removes the session.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if err := s.b.DeleteSession(ctx, token); err != nil {
		return err
	}
	s.changed(ctx, token)
	return nil
}

// Exists reports whether the session still exists (a poll re-checks it
// after its device disappears, to tell log-out from a drop). It never
// answers from the cache.
func (s *Store) Exists(ctx context.Context, token string) (bool, error) {
	return s.b.SessionExists(ctx, token)
}

// Find, Commit and Delete satisfy scs.Store; scs calls the Ctx versions.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
