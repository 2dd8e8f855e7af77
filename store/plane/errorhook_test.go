package plane_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"webchat/store/plane"
	"webchat/store/storetest"
)

// The error hook counts failed commands, in pipelines too, and not nil
// replies or calls their caller cancelled.
func TestErrorHookCountsFailuresOnly(t *testing.T) {
	ctx := context.Background()
	var n atomic.Int64
	opts, _ := plane.ClientOptions(1) // as the node's: no maintenance handshake to fail
	opts.Addrs = []string{storetest.Redis(t).Addr}
	rdb := redis.NewUniversalClient(opts)
	t.Cleanup(func() { rdb.Close() })
	rdb.AddHook(plane.NewErrorHook(func() { n.Add(1) }))
	key := storetest.Prefix(t) + "k"
	rdb.Get(ctx, key) // nil
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	rdb.Get(cancelled, key)
	if got := n.Load(); got != 0 {
		t.Fatalf("counted %d for a nil reply and a cancelled call", got)
	}
	rdb.Set(ctx, key, "v", 0)
	rdb.LPush(ctx, key, "x") // WRONGTYPE
	pipe := rdb.Pipeline()
	pipe.LPush(ctx, key, "x")
	pipe.Get(ctx, key)
	pipe.Exec(ctx)
	if got := n.Load(); got != 2 {
		t.Fatalf("counted %d failures, want 2", got)
	}
}
