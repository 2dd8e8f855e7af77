package plane

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// OffloadHook is a go-redis hook that runs each command and pipeline on
// one of a fixed set of long-lived goroutines while the caller waits.
//
// Why: net/http keeps a request's goroutine for as long as its handler
// runs, which for a long-poll is the whole wait, and a goroutine's stack
// stays as large as the deepest call it ever made. go-redis's call path is
// deep enough to grow a handler's stack from 8 to 16 KiB, and the frames
// under a waiting poll's select are too many for the GC to shrink it back.
// Run on the workers, that depth is paid by a few goroutines instead of by
// every waiting poll (docs/benchmarks.md has the figures).
//
// A call waits for a free worker as it would for a pool connection: until
// its context ends or maxWait passes (give it the pool's timeout), then it
// fails unsent. Give it more workers than the client has connections, so
// that it is rarely the tighter limit: a call beyond the pool's connections
// would wait in go-redis anyway. A call made while a worker runs one (go-redis sets up a new
// connection with HELLO and CLIENT SETINFO through the same hooks) runs on
// that worker: waiting for another could deadlock. Blocking commands (the
// BLMOVE client) should not use it: they would hold a worker for their
// whole wait.
type OffloadHook struct {
	jobs    chan func()
	maxWait time.Duration
	quit    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// errNoWorker is a call that found no free worker in time: Redis is too
// slow for the load, as with go-redis's pool timeout.
var errNoWorker = errors.New("redis: no free worker to run the command")

// errOffloadClosed is a call made after Close.
var errOffloadClosed = errors.New("redis: the command workers are stopped")

// NewOffloadHook starts n workers, which run until Close; a call waits at
// most maxWait for one.
func NewOffloadHook(n int, maxWait time.Duration) *OffloadHook {
	h := &OffloadHook{jobs: make(chan func()), maxWait: maxWait, quit: make(chan struct{})}
	h.wg.Add(max(n, 1))
	for range max(n, 1) {
		go func() {
			defer h.wg.Done()
			for {
				select {
				case job := <-h.jobs:
					job()
				case <-h.quit:
					return
				}
			}
		}()
	}
	return h
}

// Close stops the workers once the calls they run are done; calls after
// it fail unsent. Close the client the hook serves first.
func (h *OffloadHook) Close() error {
	h.once.Do(func() { close(h.quit) })
	h.wg.Wait()
	return nil
}

// onWorker marks the context of a call running on a worker.
type onWorker struct{}

// run runs f on a worker, with a context that says so, and returns when f
// has; or returns an error, f not run, if ctx ends or maxWait passes before
// a worker is free. On a worker already, it runs f there.
func (h *OffloadHook) run(ctx context.Context, f func(context.Context)) error {
	if ctx.Value(onWorker{}) != nil {
		f(ctx)
		return nil
	}
	wctx := context.WithValue(ctx, onWorker{}, true)
	done := make(chan struct{})
	job := func() { f(wctx); close(done) }
	select {
	case h.jobs <- job:
		<-done
		return nil
	case <-h.quit:
		return errOffloadClosed
	default:
	}
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.jobs <- job:
		<-done
		return nil
	case <-h.quit:
		return errOffloadClosed
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errNoWorker
	}
}

// DialHook passes dials through (a dial happens inside a command anyway).
func (h *OffloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook runs the command on a worker.
func (h *OffloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		var err error
		if werr := h.run(ctx, func(ctx context.Context) { err = next(ctx, cmd) }); werr != nil {
			cmd.SetErr(werr)
			return werr
		}
		return err
	}
}

// ProcessPipelineHook runs the pipeline on a worker.
func (h *OffloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var err error
		if werr := h.run(ctx, func(ctx context.Context) { err = next(ctx, cmds) }); werr != nil {
			for _, c := range cmds {
				c.SetErr(werr)
			}
			return werr
		}
		return err
	}
}

var _ redis.Hook = (*OffloadHook)(nil)
