package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store/plane"
	"webchat/store/session"
	"webchat/store/storetest"
)

// unsubscribed is one node's plane and cached session store, without
// the node's subscription.
func unsubscribed(t *testing.T) (*plane.Plane, *session.Store, *redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: storetest.Redis(t).Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	prefix := storetest.Prefix(t)
	p := plane.New(rdb, rdb, nil, plane.Options{Prefix: prefix})
	t.Cleanup(p.Close)
	return p, session.New(p, nil, true), rdb, prefix
}

// node is one node's plane and cached session store, subscribed.
func node(t *testing.T) (*plane.Plane, *session.Store, *redis.Client, string) {
	t.Helper()
	p, s, rdb, prefix := unsubscribed(t)
	w, err := p.Subscribe(context.Background(), nil, s.News())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return p, s, rdb, prefix
}

// A node's session store with a cache: a session read once is answered
// from memory (a delete made behind the stores' back is not seen), a
// change announced by any node is seen at once, and while the node's
// subscription is lost nothing is answered from memory.
func TestSessionCacheFollowsTheSubscription(t *testing.T) {
	ctx := context.Background()
	p, s, rdb, prefix := node(t)
	find := func(token string) bool {
		t.Helper()
		_, ok, err := s.FindCtx(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// Written behind the store's back, so that no announcement of them is
	// still on its way to the cache.
	for _, tok := range []string{"a", "b", "c"} {
		if err := rdb.Set(ctx, prefix+"session:"+tok, "data-"+tok, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if !find(tok) {
			t.Fatalf("session %s not found", tok)
		}
	}

	// Cached: a delete nobody announces is not seen.
	rdb.Del(ctx, prefix+"session:a")
	if !find("a") {
		t.Fatal("the first read was not cached")
	}
	// Announced (as another node's store does): seen at once.
	rdb.Publish(ctx, prefix+"session:gone", "a")
	storetest.WaitFor(t, time.Second, "the announced deletion", func() bool { return !find("a") })

	// Another node's store deletes b: it announces it.
	if err := session.New(p, nil, false).DeleteCtx(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	storetest.WaitFor(t, time.Second, "the other store's deletion", func() bool { return !find("b") })

	// The subscription is cut: until it is back, every read goes to Redis.
	if err := rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, prefix+"session:c")
	storetest.WaitFor(t, 2*time.Second, "a read from Redis once the subscription was lost", func() bool { return !find("c") })
}

// A session whose key expires is not answered from memory after that.
func TestSessionCacheKeepsNoSessionPastItsExpiry(t *testing.T) {
	ctx := context.Background()
	_, s, rdb, prefix := node(t)
	// Written directly, not by CommitCtx, whose news of the change could
	// reach the cache after the read below and drop it.
	if err := rdb.Set(ctx, prefix+"session:short", "x", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := s.FindCtx(ctx, "short"); !ok || string(b) != "x" || err != nil {
		t.Fatalf("found %q %v %v", b, ok, err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, ok, _ := s.FindCtx(ctx, "short"); ok {
		t.Fatal("an expired session was answered from memory")
	}
	if _, ok, err := s.FindCtx(ctx, "never"); ok || err != nil {
		t.Fatalf("a session that never was: %v %v", ok, err)
	}
}

// A cached store whose channel is not on any subscription caches nothing:
// it could never hear of a change.
func TestSessionCacheWaitsForItsSubscription(t *testing.T) {
	ctx := context.Background()
	_, s, rdb, prefix := unsubscribed(t)
	if err := rdb.Set(ctx, prefix+"session:t", "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.FindCtx(ctx, "t"); !ok || err != nil {
		t.Fatalf("not found: %v", err)
	}
	rdb.Del(ctx, prefix+"session:t")
	if _, ok, _ := s.FindCtx(ctx, "t"); ok {
		t.Fatal("answered from memory without a subscription")
	}
}
