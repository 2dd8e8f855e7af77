package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store/storetest"
)

// Tests for the findings of issue 14's review.

// logBuffer collects a node's log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// served returns how many requests to route the node has answered (any
// status), as its /metrics counts them once the handler has returned.
func served(e *env, route string) int {
	e.t.Helper()
	r := e.newClient().do("GET", "/metrics", nil)
	re := regexp.MustCompile(`(?m)^webchat_http_requests_total\{route="` + regexp.QuoteMeta(route) + `",status="\d+"\} (\S+)$`)
	n := 0
	for _, m := range re.FindAllSubmatch(r.Body, -1) {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		n += int(v)
	}
	return n
}

// holdSummary holds /api/me's read of unread counts and presence, while
// armed, until its request ends: the client hangs up while the node waits
// for Redis, and the pipeline then fails as go-redis fails it, with the
// request's context.Canceled.
type holdSummary struct {
	armed atomic.Bool
	held  chan struct{}
}

func (h *holdSummary) DialHook(next redis.DialHook) redis.DialHook          { return next }
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
