package plane_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"webchat/store/plane"
	"webchat/store/storetest"
)

// What starts goroutines stops them: the offload hook's workers at its
// Close, the plane's flushers at its Close, the wake-up subscription at
// its Close.
func TestClosesStopTheirGoroutines(t *testing.T) {
	srv := storetest.Redis(t) // the shared server, started before the baseline
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	offload := plane.NewOffloadHook(8, time.Second)
	rdb.AddHook(offload)
	p := plane.New(rdb, rdb, &fakeAccess{}, plane.Options{Prefix: storetest.Prefix(t)})
	if err := p.RegisterDevice(ctx, 1, "d"); err != nil {
		t.Fatal(err)
	}
	sub, err := p.Subscribe(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	p.Close()
	rdb.Close()
	offload.Close()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("a closed client answered")
	}
}
