package plane_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store/plane"
	"webchat/store/storetest"
)

// pipelineHook counts the pipelines of scripts sent and their commands,
// and while held keeps the next (and so the batcher's one flusher) waiting.
// Other pipelines (go-redis's connection set-up) pass.
type pipelineHook struct {
	mu        sync.Mutex
	pipelines []int // commands in each pipeline
	hold      chan struct{}
	entered   chan struct{}
}

func (h *pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if name := cmds[0].Name(); name != "evalsha" && name != "eval" {
			return next(ctx, cmds)
		}
		h.mu.Lock()
		h.pipelines = append(h.pipelines, len(cmds))
		hold, entered := h.hold, h.entered
		h.hold, h.entered = nil, nil
		h.mu.Unlock()
		if hold != nil {
			close(entered)
			<-hold
		}
		return next(ctx, cmds)
	}
}

// holdNext makes the next pipeline wait until release is called, and
// returns once that pipeline has begun to wait.
func (h *pipelineHook) holdNext(t *testing.T, start func()) (release func()) {
	t.Helper()
	hold, entered := make(chan struct{}), make(chan struct{})
	h.mu.Lock()
	h.hold, h.entered = hold, entered
	h.mu.Unlock()
	start()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no pipeline was sent")
	}
	return sync.OnceFunc(func() { close(hold) })
}

func (h *pipelineHook) sizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.pipelines...)
}

// incr counts its runs in KEYS[1] and answers the count; it fails when
// asked to.
const incr = `if ARGV[1] == 'fail' then return redis.error_reply('ERR asked to fail') end
return redis.call('INCR', KEYS[1])`

func newBatcher(t *testing.T, maxWait time.Duration) (*plane.Batcher, *redis.Script, *redis.Client, *pipelineHook) {
	t.Helper()
	rdb := storetest.Redis(t).Client(t)
	hook := &pipelineHook{}
	rdb.AddHook(hook)
	b, scripts := plane.NewBatcher(rdb, 1, maxWait, incr)
	t.Cleanup(b.Close)
	// Load the script: a first EVALSHA answered NOSCRIPT is sent again.
	if err := rdb.ScriptLoad(context.Background(), incr).Err(); err != nil {
		t.Fatal(err)
	}
	return b, scripts[0], rdb, hook
}

func TestBatcherSendsTheCallsThatWaitedInOnePipeline(t *testing.T) {
	ctx := context.Background()
	b, sc, rdb, hook := newBatcher(t, time.Minute)
	key := storetest.Prefix(t) + "n"
	first := make(chan error, 1)
	release := hook.holdNext(t, func() {
		go func() { _, err := b.Run(ctx, sc, []string{key}); first <- err }()
	})
	const n = 20
	results := make([]any, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var queued atomic.Int32
	for i := range n {
		wg.Go(func() {
			queued.Add(1)
			results[i], errs[i] = b.Run(ctx, sc, []string{key})
		})
	}
	storetest.WaitFor(t, 5*time.Second, "the calls to start", func() bool { return queued.Load() == n })
	// A call that has started may not have queued yet: wait until the
	// queue holds every one.
	storetest.WaitFor(t, 5*time.Second, "the calls to queue", func() bool { return b.Queued() == n })
	release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i := range n {
		v, _ := results[i].(int64)
		if errs[i] != nil || v < 2 || v > n+1 || seen[v] {
			t.Fatalf("call %d: %v %v (seen %v)", i, results[i], errs[i], seen)
		}
		seen[v] = true
	}
	if got, _ := rdb.Get(ctx, key).Int(); got != n+1 {
		t.Fatalf("the script ran %d times, want %d", got, n+1)
	}
	if sizes := hook.sizes(); fmt.Sprint(sizes) != fmt.Sprint([]int{1, n}) {
		t.Fatalf("pipelines of %v commands, want [1 %d]", sizes, n)
	}
	if st, want := b.Stats(), (plane.BatchStats{Pipelines: 2, Calls: n + 1}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestBatcherKeepsEachCallsErrorToItself(t *testing.T) {
	ctx := context.Background()
	b, sc, _, hook := newBatcher(t, time.Minute)
	key := storetest.Prefix(t) + "n"
	release := hook.holdNext(t, func() { go b.Run(ctx, sc, []string{key}) })
	failed, ok := make(chan error, 1), make(chan error, 1)
	go func() { _, err := b.Run(ctx, sc, []string{key}, "fail"); failed <- err }()
	go func() { _, err := b.Run(ctx, sc, []string{key}); ok <- err }()
	storetest.WaitFor(t, 5*time.Second, "the calls to queue", func() bool { return b.Queued() == 2 })
	release()
	if err := <-failed; err == nil || err.Error() != "ERR asked to fail" {
		t.Fatalf("failing call: %v", err)
	}
	if err := <-ok; err != nil {
		t.Fatalf("the other call in its pipeline: %v", err)
	}
}

func TestBatcherNeverSendsACallItsCallerGaveUp(t *testing.T) {
	ctx := context.Background()
	const maxWait = 200 * time.Millisecond
	b, sc, rdb, hook := newBatcher(t, maxWait)
	key := storetest.Prefix(t) + "n"
	held := storetest.Prefix(t) + "held"
	release := hook.holdNext(t, func() { go b.Run(ctx, sc, []string{held}) })
	defer release()

	// Its context ends while it waits behind the held pipeline.
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { _, err := b.Run(cctx, sc, []string{key}); gaveUp <- err }()
	storetest.WaitFor(t, 5*time.Second, "the call to queue", func() bool { return b.Queued() == 1 })
	cancel()
	// It waits longer than maxWait for the flusher.
	late := make(chan error, 1)
	go func() { _, err := b.Run(ctx, sc, []string{key}); late <- err }()
	storetest.WaitFor(t, 5*time.Second, "the call to queue", func() bool { return b.Queued() == 2 })
	time.Sleep(maxWait + 50*time.Millisecond)
	release()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	if err := <-late; !errors.Is(err, plane.ErrNoWorker) {
		t.Fatalf("call kept waiting: %v", err)
	}
	// Neither was sent: the next pipeline holds only this call.
	if v, err := b.Run(ctx, sc, []string{key}); err != nil || v != int64(1) {
		t.Fatalf("later call: %v %v: a call given up was sent", v, err)
	}
	if n, _ := rdb.Get(ctx, key).Int(); n != 1 {
		t.Fatalf("the script ran %d times on the key, want 1", n)
	}
	// Sent: the held call and the later one; given up: the other two.
	if st, want := b.Stats(), (plane.BatchStats{Pipelines: 2, Calls: 2, Abandoned: 2}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

// TestBatcherCloseAnswersTheQueuedCalls: the call already sent when the
// plane closes is answered by Redis; the calls queued behind it fail
// unsent, and none waits forever.
func TestBatcherCloseAnswersTheQueuedCalls(t *testing.T) {
	ctx := context.Background()
	b, sc, rdb, hook := newBatcher(t, time.Minute)
	key := storetest.Prefix(t) + "n"
	held := storetest.Prefix(t) + "held"
	sent := make(chan error, 1)
	release := hook.holdNext(t, func() { go func() { _, err := b.Run(ctx, sc, []string{held}); sent <- err }() })
	defer release()
	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() { _, err := b.Run(ctx, sc, []string{key}); errs <- err }()
	}
	storetest.WaitFor(t, 5*time.Second, "the calls to queue", func() bool { return b.Queued() == n })
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	storetest.WaitFor(t, 5*time.Second, "the close to begin", b.Closed)
	release()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := <-sent; err != nil {
		t.Fatalf("the call already sent: %v", err)
	}
	for range n {
		select {
		case err := <-errs:
			if !errors.Is(err, plane.ErrPlaneClosed) {
				t.Fatalf("queued call: %v, want the plane closed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a queued call was never answered after Close")
		}
	}
	if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Fatalf("a queued call ran after Close: %v %v", n, err)
	}
	if _, err := b.Run(ctx, sc, []string{key}); !errors.Is(err, plane.ErrPlaneClosed) {
		t.Fatalf("a call after Close: %v", err)
	}
}

func TestBatcherLoadsItsScriptsAgainAfterNoScript(t *testing.T) {
	ctx := context.Background()
	b, sc, rdb, _ := newBatcher(t, time.Minute)
	key := storetest.Prefix(t) + "n"
	if _, err := b.Run(ctx, sc, []string{key}); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Run(ctx, sc, []string{key}); err != nil || v != int64(2) {
		t.Fatalf("after SCRIPT FLUSH: %v %v", v, err)
	}
}

func TestBatcherAfterCloseFailsUnsent(t *testing.T) {
	ctx := context.Background()
	b, sc, rdb, _ := newBatcher(t, time.Minute)
	key := storetest.Prefix(t) + "n"
	b.Close()
	if _, err := b.Run(ctx, sc, []string{key}); err == nil {
		t.Fatal("a call after Close succeeded")
	}
	if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Fatalf("a call after Close ran: %v %v", n, err)
	}
}
