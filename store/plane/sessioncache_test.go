package plane_test

import (
	"context"
	"testing"
	"time"

	"webchat/store/plane"
	"webchat/store/storetest"
)

// A node's session store with a cache: a session read once is answered
// from memory (a delete made behind the stores' back is not seen), a
// change announced by any node is seen at once, and while the node's
// subscription is lost nothing is answered from memory.
func TestSessionCacheFollowsTheSubscription(t *testing.T) {
	ctx := context.Background()
	p, rdb, _ := newPlane(t, plane.Options{})
	prefix := p.Options().Prefix
	w := subscribed(t, p)
	s := plane.NewSessionStore(rdb, prefix, nil)
	w.CacheSessions(s)
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
	if err := plane.NewSessionStore(rdb, prefix, nil).DeleteCtx(ctx, "b"); err != nil {
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

// A session whose key expires is not answered from memory after that,
// whether the cache reads it in a call of its own or with the
// plane's script calls.
func TestSessionCacheKeepsNoSessionPastItsExpiry(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "with the plane's calls"}[batched], func(t *testing.T) {
			ctx := context.Background()
			p, rdb, _ := newPlane(t, plane.Options{})
			w := subscribed(t, p)
			s := plane.NewSessionStore(rdb, p.Options().Prefix, nil)
			if batched {
				s.ReadWith(p)
			}
			w.CacheSessions(s)
			// Written directly, not by CommitCtx, whose news of the change
			// could reach the cache after the read below and drop it.
			if err := rdb.Set(ctx, p.Options().Prefix+"session:short", "x", 300*time.Millisecond).Err(); err != nil {
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
		})
	}
}
