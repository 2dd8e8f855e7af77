package gateway_test

// Redis round trips per request, counted by a go-redis hook that credits each command to the request that made it (TestRedisRoundTrips, and make bench's table).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"webchat/gateway"
	"webchat/store/plane"
	"webchat/store/storetest"
)

// rtTally counts the Redis round trips of one request: one per command
// and one per pipeline, with the commands' names.
type rtTally struct {
	mu    sync.Mutex
	trips int
	cmds  int
	names []string
}

type rtKey struct{}

// rtHook credits each round trip to the tally in the request's context
// (the gateway passes the request's context, or one derived from it, to
// Redis), and to a global count.
type rtHook struct{ total atomic.Int64 }

func (h *rtHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *rtHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.total.Add(1)
		if t, ok := ctx.Value(rtKey{}).(*rtTally); ok {
			t.mu.Lock()
			t.trips++
			t.cmds++
			t.names = append(t.names, rtName(cmd))
			t.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *rtHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.total.Add(1)
		if callers := plane.BatchedCallers(ctx); callers != nil {
			// The plane's batcher sent several requests' calls together:
			// the pipeline is one round trip for each request in it.
			mine := map[*rtTally][]redis.Cmder{}
			for i, c := range callers {
				if t, ok := c.Value(rtKey{}).(*rtTally); ok {
					mine[t] = append(mine[t], cmds[i])
				}
			}
			for t, cs := range mine {
				t.credit(cs)
			}
		} else if t, ok := ctx.Value(rtKey{}).(*rtTally); ok {
			t.credit(cmds)
		}
		return next(ctx, cmds)
	}
}

// credit counts one round trip of cmds.
func (t *rtTally) credit(cmds []redis.Cmder) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trips++
	t.cmds += len(cmds)
	t.names = append(t.names, rtPipelineName(cmds))
}

func rtName(c redis.Cmder) string { return strings.ToUpper(c.Name()) }

// rtPipelineName is "pipeline[3× HGETALL]", or "pipeline[GET, PTTL]".
func rtPipelineName(cmds []redis.Cmder) string {
	names := make([]string, len(cmds))
	same := true
	for i, c := range cmds {
		names[i] = rtName(c)
		same = same && names[i] == names[0]
	}
	if same {
		return fmt.Sprintf("pipeline[%d× %s]", len(cmds), names[0])
	}
	return "pipeline[" + strings.Join(names, ", ") + "]"
}

// rtNode is one gateway node over the shared redis-server and a SQLite file.
type rtNode struct {
	srv   *gateway.Server
	plane *plane.Plane
	hook  *rtHook
}

func newRTNode(tb testing.TB) *rtNode {
	tb.Helper()
	rs := storetest.Redis(tb)
	hook := &rtHook{}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1, ReadTimeout: 3 * time.Second})
	block := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1, PoolSize: 64, ReadBufferSize: 4096, WriteBufferSize: 4096})
	rdb.AddHook(hook)
	block.AddHook(hook)
	tb.Cleanup(func() { rdb.Close(); block.Close() })
	prefix := storetest.Prefix(tb)
	graph := storetest.NewGraph(tb)
	plane := plane.New(rdb, block, graph, plane.Options{Prefix: prefix, InboxCap: 1 << 30, CreditCallers: true})
	tb.Cleanup(plane.Close)
	if err := plane.LoadScripts(context.Background()); err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	// As cmd/webchat runs by default: polls wait on the node's
	// subscription, which also keeps the session cache current.
	sessions, wakeups := nodeSubscription(tb, plane, "subscribe")
	srv := gateway.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), graph, plane, sessions,
		fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}},
		gateway.Options{BcryptCost: 4, PollSlice: time.Second, PollTimeout: 5 * time.Second, Registry: reg, Gatherer: reg, Wakeups: wakeups})
	return &rtNode{srv: srv, plane: plane, hook: hook}
}

// rtUser is one signed-up user with one session (device).
type rtUser struct {
	n      *rtNode
	id     int64
	name   string
	cookie string
	cursor string
}

// do serves one request in-process and returns the answer; tally, if
// given, collects the request's round trips.
func (n *rtNode) do(tb testing.TB, method, path, cookie string, body any, tally *rtTally) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx := context.Background()
	if tally != nil {
		ctx = context.WithValue(ctx, rtKey{}, tally)
	}
	req := httptest.NewRequestWithContext(ctx, method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	n.srv.ServeHTTP(w, req)
	return w
}

func (n *rtNode) must(tb testing.TB, want int, method, path, cookie string, body, out any) *httptest.ResponseRecorder {
	tb.Helper()
	w := n.do(tb, method, path, cookie, body, nil)
	if w.Code != want {
		tb.Fatalf("%s %s: %d, want %d: %s", method, path, w.Code, want, w.Body)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return w
}

func (n *rtNode) signup(tb testing.TB, name string) *rtUser {
	tb.Helper()
	var out struct{ User struct{ ID int64 } }
	w := n.must(tb, 201, "POST", "/api/signup", "", map[string]string{"username": name, "password": "password-" + name, "display_name": name}, &out)
	var cookies []string
	for _, c := range w.Result().Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	return &rtUser{n: n, id: out.User.ID, name: name, cookie: strings.Join(cookies, "; ")}
}

func rtBefriend(tb testing.TB, a, b *rtUser) {
	tb.Helper()
	var req struct{ Request struct{ ID int64 } }
	a.n.must(tb, 201, "POST", "/api/friend-requests", a.cookie, map[string]string{"username": b.name}, &req)
	b.n.must(tb, 200, "POST", fmt.Sprintf("/api/friend-requests/%d/accept", req.Request.ID), b.cookie, nil, nil)
}

type rtPoll struct {
	Events []json.RawMessage `json:"events"`
	Cursor string            `json:"cursor"`
}

// poll polls with the user's cursor and keeps the new one.
func (u *rtUser) poll(tb testing.TB, timeout int, tally *rtTally) rtPoll {
	tb.Helper()
	path := fmt.Sprintf("/api/poll?timeout=%d", timeout)
	if u.cursor != "" {
		path += "&cursor=" + u.cursor
	}
	w := u.n.do(tb, "GET", path, u.cookie, nil, tally)
	if w.Code != 200 {
		tb.Fatalf("poll: %d %s", w.Code, w.Body)
	}
	var a rtPoll
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		tb.Fatal(err)
	}
	u.cursor = a.Cursor
	return a
}

func (u *rtUser) drain(tb testing.TB) {
	for range 100 {
		if len(u.poll(tb, 0, nil).Events) == 0 {
			return
		}
	}
	tb.Fatal("events kept coming")
}

func (u *rtUser) send(tb testing.TB, to *rtUser, body, clientID string, tally *rtTally) {
	tb.Helper()
	w := u.n.do(tb, "POST", "/api/messages", u.cookie, map[string]any{"to": to.id, "type": "single", "body": body, "client_id": clientID}, tally)
	if w.Code != 201 {
		tb.Fatalf("send: %d %s", w.Code, w.Body)
	}
}

// rtPair is two friends, with the pair's rights warm, a blocking
// connection open and inboxes empty.
func rtPair(tb testing.TB) (*rtNode, *rtUser, *rtUser) {
	n := newRTNode(tb)
	a, b := n.signup(tb, "rt_alice"), n.signup(tb, "rt_bob")
	rtBefriend(tb, a, b)
	a.send(tb, b, "warm up", "warm", nil)
	a.drain(tb)
	b.drain(tb)
	rtWaitedPoll(tb, n, a, b, "warm2", nil)
	return n, a, b
}

// rtWaitedPoll has b poll (5 s) until the poll waits in Redis, then a
// sends to b; the poll must answer that one message.
func rtWaitedPoll(tb testing.TB, n *rtNode, a, b *rtUser, clientID string, tally *rtTally) {
	tb.Helper()
	done := make(chan *httptest.ResponseRecorder, 1)
	path := "/api/poll?timeout=5&cursor=" + b.cursor
	go func() { done <- n.do(tb, "GET", path, b.cookie, nil, tally) }() // Fatal stays on the test's goroutine
	storetest.WaitFor(tb, 10*time.Second, "a waiting poll", func() bool { return n.srv.WaitingPolls() == 1 })
	a.send(tb, b, "while waiting", clientID, nil)
	var got rtPoll
	if w := <-done; w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil || len(got.Events) != 1 {
		tb.Fatalf("waiting poll answered %d %s, want one event", w.Code, w.Body)
	}
	b.cursor = got.Cursor
}

// TestRedisRoundTrips counts the Redis round trips of each hot request
// (limits off, session load included) and writes them to the file named
// by WEBCHAT_ROUNDTRIPS_JSON, for docs/benchmarks.md. DESIGN targets: a
// 1:1 send ≤ 4 (session, history script, one pipelined delivery, the
// client_id completion), a poll that returns events ≤ 4. Over target
// fails, as does a request that reaches Redis with none counted.
func TestRedisRoundTrips(t *testing.T) {
	n, a, b := rtPair(t)
	type row struct {
		Request  string   `json:"request"`
		Trips    int      `json:"round_trips"`
		Commands int      `json:"commands"`
		Target   int      `json:"target,omitempty"`
		Calls    []string `json:"calls"`
	}
	var rows []row
	add := func(name string, target int, tl *rtTally) {
		rows = append(rows, row{Request: name, Trips: tl.trips, Commands: tl.cmds, Target: target, Calls: tl.names})
	}

	var send rtTally
	a.send(t, b, "hello", "c1", &send)
	add("POST /api/messages (1:1, client_id)", 4, &send)

	var evPoll rtTally
	if got := b.poll(t, 0, &evPoll); len(got.Events) != 1 {
		t.Fatalf("poll answered %d events, want 1", len(got.Events))
	}
	add("GET /api/poll, events waiting", 4, &evPoll)

	// A session this node has not read in the last seconds costs one more.
	w := n.must(t, 200, "POST", "/api/login", "", map[string]string{"username": a.name, "password": "password-" + a.name}, nil)
	fresh := &rtUser{n: n, id: a.id, name: a.name}
	for _, c := range w.Result().Cookies() {
		fresh.cookie = c.Name + "=" + c.Value
	}
	var cold rtTally
	fresh.send(t, b, "hello again", "c1b", &cold)
	add("POST /api/messages, session not in the node's cache", 4, &cold)
	b.drain(t)

	var waited rtTally
	rtWaitedPoll(t, n, a, b, "c2", &waited)
	add("GET /api/poll, waits, then one event arrives", 4, &waited)

	var empty rtTally
	b.poll(t, 0, &empty)
	add("GET /api/poll?timeout=0, nothing waiting", 0, &empty)

	var afterEmpty rtTally
	rtWaitedPoll(t, n, a, b, "c3", &afterEmpty)
	add("the same waiting poll, after a timeout=0 poll", 0, &afterEmpty)

	var me rtTally
	if w := n.do(t, "GET", "/api/me", a.cookie, nil, &me); w.Code != 200 {
		t.Fatalf("me: %d", w.Code)
	}
	add("GET /api/me (1 friend)", 0, &me)

	var sb strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&sb, "%-45s %2d round trips, %2d commands: %s\n", r.Request, r.Trips, r.Commands, strings.Join(r.Calls, ", "))
	}
	t.Logf("Redis round trips per request:\n%s", sb.String())
	if path := os.Getenv("WEBCHAT_ROUNDTRIPS_JSON"); path != "" {
		j, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(path, j, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		// Every row but the last two reaches Redis: none can be free.
		if r.Target > 0 && r.Trips == 0 {
			t.Errorf("%s: no round trip counted: the hook misses some of Redis's traffic", r.Request)
		}
		if r.Target > 0 && r.Trips > r.Target {
			t.Errorf("%s: %d round trips, target %d", r.Request, r.Trips, r.Target)
		}
	}
}
