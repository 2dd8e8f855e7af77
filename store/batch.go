package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher runs the plane's script calls for all requests together: a
// long-lived flusher (PlaneOptions.Flushers, one by default) takes every
// call that is waiting, sends them as one pipeline, and hands each caller
// its own reply.
//
// Why: on loopback a round trip costs little time but two system calls on
// each side (a write, then a read) and a goroutine hand-off, for every
// call. Under load that, not the scripts, is most of the node's and
// Redis's work per message. While one pipeline is out, the calls that
// arrive queue up and leave together in the next, so the cost per call
// falls as the load rises, where it matters; an idle node still sends each
// call at once, in a pipeline of one. One flusher did better than two or
// four in the load test (docs/benchmarks.md): Redis runs one script at a
// time anyway, and fewer, fuller pipelines cost less.
//
// A call waits to be sent until its context ends or maxWait passes (as it
// would for a pool connection), and is then dropped unsent. Once sent, it
// is waited for whatever its context does, bounded by the client's read
// timeout: its caller learns what Redis answered. Each call's reply and
// error are its own; a failed round trip fails every call in it, as it
// would have failed each alone.
//
// The flushers' go-redis call stacks stay on the flushers, so they also do
// what OffloadHook does for other commands: a waiting poll's goroutine
// never grows a deep stack.
type batcher struct {
	s       *scripts
	rdb     redis.UniversalClient
	calls   chan *batchCall
	maxWait time.Duration
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	// For BatchStats: pipelines and calls sent, calls given up unsent.
	pipelines, sent, abandoned atomic.Uint64
}

// BatchStats describes the plane's batched script calls, for metrics:
// Calls/Pipelines is the mean batch, and Abandoned calls mean Redis, or
// the node, is not keeping up.
type BatchStats struct {
	Pipelines uint64 // pipelines sent
	Calls     uint64 // script calls sent in them
	Abandoned uint64 // calls given up before they were sent (request ended, CallWait passed, plane closed)
	Queued    int    // calls waiting to be sent now
}

func (b *batcher) stats() BatchStats {
	return BatchStats{Pipelines: b.pipelines.Load(), Calls: b.sent.Load(), Abandoned: b.abandoned.Load(), Queued: len(b.calls)}
}

// maxBatch bounds the calls in one pipeline (a bigger backlog leaves in
// several) and the calls queued for the flushers.
const maxBatch = 256

// batchCall is one script call waiting for its reply.
type batchCall struct {
	evalCall
	// claimed is set by the flusher that sends the call, or by its caller
	// giving up before that: whichever comes first.
	claimed atomic.Bool
	done    chan struct{}
}

var errPlaneClosed = errors.New("redis: the message plane is closed")

func newBatcher(s *scripts, rdb redis.UniversalClient, flushers int, maxWait time.Duration) *batcher {
	b := &batcher{s: s, rdb: rdb, calls: make(chan *batchCall, maxBatch), maxWait: maxWait, quit: make(chan struct{})}
	b.wg.Add(max(flushers, 1))
	for range max(flushers, 1) {
		go b.flush()
	}
	return b
}

// close stops the flushers once the calls they hold are answered; a later
// call fails unsent.
func (b *batcher) close() {
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
}

// run runs one script call with the others waiting and returns its reply.
func (b *batcher) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	c := &batchCall{evalCall: evalCall{script: sc, keys: keys, args: args, caller: ctx}, done: make(chan struct{})}
	select {
	case <-b.quit:
		b.abandoned.Add(1)
		return nil, errPlaneClosed
	default:
	}
	t := time.NewTimer(b.maxWait)
	defer t.Stop()
	var err error
	select {
	case b.calls <- c:
		select {
		case <-c.done:
			return c.cmd.Result()
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
			err = errNoWorker
		case <-b.quit:
			err = errPlaneClosed
		}
		if !c.claimed.CompareAndSwap(false, true) {
			<-c.done // sent: wait for what Redis answers
			return c.cmd.Result()
		}
		// Queued, but not yet sent: it never will be.
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = errNoWorker
	case <-b.quit:
		err = errPlaneClosed
	}
	b.abandoned.Add(1)
	return nil, err
}

// flush sends the waiting calls, a pipeline at a time, until close.
func (b *batcher) flush() {
	defer b.wg.Done()
	// Marked as a worker's: OffloadHook runs the pipeline right here.
	ctx := context.WithValue(context.Background(), onWorker{}, true)
	batch := make([]*batchCall, 0, maxBatch)
	calls := make([]*evalCall, 0, maxBatch)
	for {
		var first *batchCall
		select {
		case first = <-b.calls:
		case <-b.quit:
			return
		}
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxBatch {
			select {
			case c := <-b.calls:
				batch = append(batch, c)
			default:
				break more
			}
		}
		calls = calls[:0]
		for _, c := range batch {
			if c.claimed.CompareAndSwap(false, true) {
				calls = append(calls, &c.evalCall)
			}
		}
		if len(calls) > 0 {
			b.pipelines.Add(1)
			b.sent.Add(uint64(len(calls)))
			// Each call's reply or error is in its cmd.
			b.s.runPipelined(ctx, b.rdb, calls)
		}
		for i, c := range batch {
			close(c.done)
			batch[i] = nil
		}
		clear(calls)
	}
}
