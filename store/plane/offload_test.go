package plane_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store/plane"
	"webchat/store/storetest"
)

// goid is the current goroutine's id, from the first line of its trace.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	f := bytes.Fields(b)
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

// whereHook records the goroutine each command and pipeline ran on.
type whereHook struct {
	mu  sync.Mutex
	ids []string
}

func (h *whereHook) note() {
	h.mu.Lock()
	h.ids = append(h.ids, goid())
	h.mu.Unlock()
}

func (h *whereHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *whereHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.note(); return next(ctx, cmd) }
}
func (h *whereHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.note(); return next(ctx, cmds) }
}

func TestOffloadHookRunsCommandsOnWorkers(t *testing.T) {
	ctx := context.Background()
	rdb := storetest.Redis(t).Client(t)
	rdb.AddHook(plane.NewOffloadHook(4, time.Minute))
	where := &whereHook{}
	rdb.AddHook(where) // inner: runs where the command runs
	key := storetest.Prefix(t) + "k"
	me := goid()
	// The workers start in the background: until one is parked, a call
	// runs here.
	storetest.WaitFor(t, 5*time.Second, "a worker to take a call", func() bool {
		rdb.Ping(ctx)
		where.mu.Lock()
		defer where.mu.Unlock()
		last := where.ids[len(where.ids)-1]
		where.ids = nil
		return last != me
	})

	if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "v" {
		t.Fatalf("get = %q, %v", v, err)
	}
	// Errors come back as they are.
	if err := rdb.LPush(ctx, key, "x").Err(); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("lpush on a string: %v", err)
	}
	if _, err := rdb.Get(ctx, key+"-none").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("get of a missing key: %v", err)
	}
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, key+"-n")
		p.Incr(ctx, key+"-n")
		return nil
	})
	if err != nil || cmds[1].(*redis.IntCmd).Val() != 2 {
		t.Fatalf("pipeline: %v %v", cmds, err)
	}
	where.mu.Lock()
	defer where.mu.Unlock()
	if len(where.ids) < 5 {
		t.Fatalf("inner hook saw %d calls", len(where.ids))
	}
	for _, id := range where.ids {
		if id == me {
			t.Fatalf("a call ran on the caller's goroutine %s (calls ran on %v)", me, where.ids)
		}
	}
}

// With every worker busy a call waits for one, or gives up, not run, when
// its context ends or the hook's wait runs out first; a burst far beyond the workers all completes. The
// first BLPOP also dials: go-redis sets the connection up (HELLO) through
// the hooks, from the only worker, which must not wait for itself.
func TestOffloadHookWaitsForAWorker(t *testing.T) {
	ctx := context.Background()
	srv := storetest.Redis(t)
	rdb := srv.Client(t)
	rdb.AddHook(plane.NewOffloadHook(1, time.Second))
	admin := srv.Client(t)
	key := storetest.Prefix(t) + "release"
	blocked := make(chan error, 1)
	go func() { blocked <- rdb.BLPop(ctx, 20*time.Second, key).Err() }()
	storetest.WaitFor(t, 5*time.Second, "the BLPOP to hold the only worker", func() bool {
		s, _ := admin.Info(ctx, "clients").Result()
		select {
		case err := <-blocked:
			t.Fatalf("BLPOP returned: %v", err)
		default:
		}
		return strings.Contains(s, "blocked_clients:1")
	})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := rdb.Set(short, key+"-set", "x", time.Minute).Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("set while the worker is busy: %v", err)
	}
	if n, _ := admin.Exists(ctx, key+"-set").Result(); n != 0 {
		t.Fatal("the abandoned SET ran anyway")
	}
	if _, err := rdb.Pipelined(short, func(p redis.Pipeliner) error { p.Ping(short); return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("pipeline while the worker is busy: %v", err)
	}
	// Without a deadline of its own a call gives up after maxWait (1 s).
	start := time.Now()
	if err := rdb.Set(ctx, key+"-set", "x", time.Minute).Err(); err == nil || !strings.Contains(err.Error(), "no free worker") {
		t.Fatalf("set with no deadline while the worker is busy: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	if n, _ := admin.Exists(ctx, key+"-set").Result(); n != 0 {
		t.Fatal("the abandoned SET ran anyway")
	}
	if err := admin.LPush(ctx, key, "go").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- rdb.Incr(ctx, key+"-burst").Err()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := admin.Get(ctx, key+"-burst").Int(); n != 200 {
		t.Fatalf("burst counted %d of 200", n)
	}
}
