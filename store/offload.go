package store

import (
	"context"

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
// every waiting poll: about 6 KB less memory per waiting poll, for no
// measurable CPU (docs/benchmarks.md).
//
// When every worker is busy the call runs on the caller's goroutine, so a
// burst never queues behind the workers and a nested call (a cluster
// client's node calls) can never wait for itself. Blocking commands (the
// BLMOVE client) should not use it: they would hold a worker for their
// whole wait.
type OffloadHook struct {
	jobs chan func()
}

// NewOffloadHook starts n workers, which live as long as the process.
func NewOffloadHook(n int) *OffloadHook {
	h := &OffloadHook{jobs: make(chan func())}
	for range n {
		go func() {
			for job := range h.jobs {
				job()
			}
		}()
	}
	return h
}

// run runs f on a free worker, or here if none is free, and returns when
// f has.
func (h *OffloadHook) run(f func()) {
	done := make(chan struct{})
	select {
	case h.jobs <- func() { f(); close(done) }:
		<-done
	default:
		f()
	}
}

// DialHook passes dials through (a dial happens inside a command anyway).
func (h *OffloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook runs the command on a worker.
func (h *OffloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		var err error
		h.run(func() { err = next(ctx, cmd) })
		return err
	}
}

// ProcessPipelineHook runs the pipeline on a worker.
func (h *OffloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var err error
		h.run(func() { err = next(ctx, cmds) })
		return err
	}
}

var _ redis.Hook = (*OffloadHook)(nil)
