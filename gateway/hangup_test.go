package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store/storetest"
)

// holdSummary holds /api/me's read of unread counts and presence, while
// armed, until its request ends: the client hangs up while the node waits
// for Redis, and the pipeline then fails as go-redis fails it, with the
// request's context.Canceled.
type holdSummary struct {
	armed atomic.Bool
	held  chan struct{}
}

func (h *holdSummary) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdSummary) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *holdSummary) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.armed.Load() && len(cmds) > 0 && cmds[0].Name() == "hgetall" && strings.Contains(fmt.Sprint(cmds[0].Args()...), "unread:") {
			h.armed.Store(false)
			h.held <- struct{}{}
			<-ctx.Done()
		}
		return next(ctx, cmds)
	}
}

func TestHangUpIsNotLoggedButARedisFailureIs(t *testing.T) {
	srv := storetest.StartRedis(t)
	logs := &logBuffer{}
	hook := &holdSummary{held: make(chan struct{}, 1)}
	e := newEnv(t, envOpts{redis: srv, hook: hook, logs: logs})
	alice := e.signup("alice")

	hook.armed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	answered := make(chan response, 1)
	go func() { answered <- alice.doCtx(ctx, "GET", "/api/me", nil) }()
	select {
	case <-hook.held:
	case <-time.After(10 * time.Second):
		t.Fatal("/api/me never read its summary")
	}
	cancel() // the client hangs up while the node waits for Redis
	if r := <-answered; r.Status != -1 {
		t.Fatalf("the hung-up request was answered: %d %s", r.Status, r.Body)
	}
	storetest.WaitFor(t, 10*time.Second, "the hung-up request to end", func() bool { return served(e, "/api/me") == 1 })
	if l := logs.String(); strings.Contains(l, "level=ERROR") {
		t.Fatalf("a hang-up was logged as an error:\n%s", l)
	}

	srv.Stop(t)
	if r := alice.do("GET", "/api/me", nil); r.Status != 503 || r.errorCode() != "unavailable" {
		t.Fatalf("/api/me with Redis gone: %d %s", r.Status, r.Body)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "status=503") {
		t.Fatalf("a Redis failure was not logged:\n%s", l)
	}
}

// holdNext holds the next pipeline with a send in it, sent after it is
// armed, until released: the plane's one flusher is busy, and later script
// calls queue behind it. Only a send's: the node's own background work
// (presence announcements, the sweeper's rounds) sends pipelines too.
type holdNext struct {
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdNext) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdNext) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *holdNext) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if slices.ContainsFunc(cmds, sendScript) && h.armed.CompareAndSwap(true, false) {
			h.held <- struct{}{}
			<-h.release
		}
		return next(ctx, cmds)
	}
}

// A poll whose client hangs up before its first step reached Redis counts
// as cancelled, not as an error.
func TestHungUpPollCountsAsCancelled(t *testing.T) {
	hook := &holdNext{held: make(chan struct{}, 1), release: make(chan struct{})}
	e := newEnv(t, envOpts{hook: hook})
	release := sync.OnceFunc(func() { close(hook.release) })
	t.Cleanup(release) // a failure below must not leave the node's flusher held
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.poll(0) // bob's session is in the node's cache from here on

	hook.armed.Store(true)
	sent := make(chan response, 1)
	go func() {
		sent <- alice.do("POST", "/api/messages", map[string]any{"to": bob.User.ID, "type": "single", "body": "hi"})
	}()
	<-hook.held // alice's send is out, and held
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan response, 1)
	go func() { polled <- bob.doCtx(ctx, "GET", bob.pollPath(0), nil) }()
	// At the node, behind the held pipeline. (The queue alone says
	// nothing: the node's own background work, bob's presence going out,
	// may be what waits there.)
	storetest.WaitFor(t, 10*time.Second, "bob's poll to queue", func() bool {
		return e.serving.polls.Load() == 1 && e.plane.BatchStats().Queued > 0
	})
	seen := e.serving.hungUp.Load()
	cancel()
	if r := <-polled; r.Status != -1 {
		t.Fatalf("the hung-up poll was answered: %d %s", r.Status, r.Body)
	}
	// The node learns of the hang-up a moment after the client gave up;
	// released before that, the poll's step would be sent and answered.
	storetest.WaitFor(t, 10*time.Second, "the node to see the hang-up", func() bool { return e.serving.hungUp.Load() > seen })
	release()
	if r := <-sent; r.Status != 201 {
		t.Fatalf("alice's send: %d %s", r.Status, r.Body)
	}
	storetest.WaitFor(t, 10*time.Second, "the poll to end", func() bool { return served(e, "/api/poll") == 2 })
	m := string(e.newClient().do("GET", "/metrics", nil).Body)
	if !strings.Contains(m, `webchat_poll_answers_total{outcome="cancelled"} 1`) || strings.Contains(m, `outcome="error"`) {
		t.Fatalf("poll outcomes:\n%s", grepLines(m, "webchat_poll_answers_total"))
	}
}
