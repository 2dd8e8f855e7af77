package plane

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher runs the plane's script calls for all requests together: a
// long-lived flusher (Options.Flushers, one by default) takes every
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
// would for a pool connection), and is then dropped unsent: the flusher
// checks both as it takes the call, so a caller waits on one channel only
// (a select over its context, a timer and the plane's closing cost about
// 7% of the node's CPU at 4,000 msg/s) and learns it was dropped when the
// flusher reaches it, within a round trip. Once sent, a call is waited for
// whatever its context does, bounded by the client's read timeout: its
// caller learns what Redis answered. Each call's reply and error are its
// own; a failed round trip fails every call in it, as it would have failed
// each alone.
//
// The flushers' go-redis call stacks stay on the flushers, so they also do
// what OffloadHook does for other commands: a waiting poll's goroutine
// never grows a deep stack.
type batcher struct {
	s       *scripts
	rdb     redis.UniversalClient
	calls   chan *batchCall
	maxWait time.Duration
	credit  bool // hand hooks the callers' contexts (Options.CreditCallers)
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	// mu orders enqueueing against close: once closed is set, no call
	// enters the queue, and the flushers answer those already in it.
	mu     sync.RWMutex
	closed bool

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

// stats reads the pipelines before the calls (flush adds them the other
// way round), so that a reader never sees more pipelines than calls.
func (b *batcher) stats() BatchStats {
	return BatchStats{Pipelines: b.pipelines.Load(), Calls: b.sent.Load(), Abandoned: b.abandoned.Load(), Queued: len(b.calls)}
}

// maxBatch bounds the calls in one pipeline (a bigger backlog leaves in
// several) and the calls queued for the flushers.
const maxBatch = 256

// batchCall is one script call waiting for its reply.
type batchCall struct {
	evalCall
	queued time.Time
	err    error // set by the flusher that gave the call up unsent
	done   chan struct{}
}

var errPlaneClosed = errors.New("redis: the message plane is closed")

func newBatcher(s *scripts, rdb redis.UniversalClient, flushers int, maxWait time.Duration, credit bool) *batcher {
	b := &batcher{s: s, rdb: rdb, calls: make(chan *batchCall, maxBatch), maxWait: maxWait, quit: make(chan struct{}), credit: credit}
	b.wg.Add(max(flushers, 1))
	for range max(flushers, 1) {
		go b.flush()
	}
	return b
}

// close stops the flushers once the calls they hold are answered; a later
// call fails unsent.
func (b *batcher) close() {
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.quit)
		b.mu.Unlock()
	})
	b.wg.Wait()
}

// run runs one script call with the others waiting and returns its reply.
func (b *batcher) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	c := &batchCall{evalCall: evalCall{script: sc, keys: keys, args: args, caller: ctx}, queued: time.Now(), done: make(chan struct{})}
	if err := b.enqueue(ctx, c); err != nil {
		b.abandoned.Add(1)
		return nil, err
	}
	<-c.done
	if c.err != nil {
		return nil, c.err
	}
	return c.cmd.Result()
}

// enqueue hands c to the flushers; only when the queue is full does it
// wait, as long as a call may.
func (b *batcher) enqueue(ctx context.Context, c *batchCall) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errPlaneClosed
	}
	select {
	case b.calls <- c:
		return nil
	default:
	}
	t := time.NewTimer(b.maxWait)
	defer t.Stop()
	select {
	case b.calls <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errNoWorker
	}
}

// giveUp answers c unsent with err.
func (b *batcher) giveUp(c *batchCall, err error) {
	c.err = err
	b.abandoned.Add(1)
	close(c.done)
}

// flush sends the waiting calls, a pipeline at a time, until close; then
// it answers the calls still queued unsent.
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
		}
		select {
		case <-b.quit:
			// Closed: nothing more is sent, and no call is left waiting.
			if first != nil {
				b.giveUp(first, errPlaneClosed)
			}
			for {
				select {
				case c := <-b.calls:
					b.giveUp(c, errPlaneClosed)
				default:
					return
				}
			}
		default:
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
		// A call whose request ended, or that waited too long, is never sent.
		now := time.Now()
		calls = calls[:0]
		kept := batch[:0]
		for _, c := range batch {
			if err := c.caller.Err(); err != nil {
				b.giveUp(c, err)
			} else if now.Sub(c.queued) > b.maxWait {
				b.giveUp(c, errNoWorker)
			} else {
				calls = append(calls, &c.evalCall)
				kept = append(kept, c)
			}
		}
		if len(calls) > 0 {
			// Calls before the pipeline: stats reads the pipelines
			// first, so it never sees more pipelines than calls.
			b.sent.Add(uint64(len(calls)))
			b.pipelines.Add(1)
			// Each call's reply or error is in its cmd.
			b.s.runPipelined(ctx, b.rdb, calls, b.credit)
		}
		for _, c := range kept {
			close(c.done)
		}
		clear(batch[:cap(batch)])
		clear(calls)
	}
}
