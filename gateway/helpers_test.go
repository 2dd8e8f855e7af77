package gateway_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"webchat/gateway"
	"webchat/store"
	"webchat/store/plane"
	"webchat/store/session"
	"webchat/store/sqlgraph"
	"webchat/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// useCluster runs the whole suite against a three-master Redis Cluster
// (WEBCHAT_TEST_REDIS=cluster; make test runs the package both ways).
var useCluster = os.Getenv("WEBCHAT_TEST_REDIS") == "cluster"

// pollWait is how polls wait, as POLL_WAIT: on each node's wake-up
// subscription (the default), or in BLMOVE (WEBCHAT_TEST_POLL_WAIT=blmove;
// make test runs the package both ways).
var pollWait = cmp.Or(os.Getenv("WEBCHAT_TEST_POLL_WAIT"), "subscribe")

// env is one gateway node over a real redis-server and a SQLite file.
type env struct {
	t      *testing.T
	srv    *gateway.Server
	http   *httptest.Server
	rdb    redis.UniversalClient
	block  redis.UniversalClient
	plane  *plane.Plane
	graph  *sqlgraph.Graph
	prefix string
	reg    *prometheus.Registry
	opts   envOpts
	logger *slog.Logger
}

type envOpts struct {
	redis    *storetest.RedisServer // default: the shared server, or the shared cluster (see useCluster)
	cluster  bool                   // use the shared Redis Cluster whatever the environment says
	graph    *sqlgraph.Graph        // default: a fresh SQLite file
	plane    plane.Options
	gateway  gateway.Options
	hook     redis.Hook // added to the command client
	pollWait string     // "subscribe" or "blmove" whatever the environment says
	logs     io.Writer  // where the node logs (default: nowhere, or stderr with -v); must be safe for concurrent use
}

// testBlockingPool is the blocking client's pool in the tests, as
// MAX_POLLS_PER_NODE would size it for the most polls a test holds.
const testBlockingPool = 4096

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	addrs := []string{}
	clusterMode := o.cluster || (o.redis == nil && useCluster)
	switch {
	case clusterMode:
		addrs = storetest.Cluster(t).Addrs
	case o.redis == nil:
		addrs = append(addrs, storetest.Redis(t).Addr)
	default:
		addrs = append(addrs, o.redis.Addr)
	}
	// The same client settings as cmd/webchat's openRedis.
	cmdOpts, blockOpts := plane.ClientOptions(testBlockingPool)
	for _, u := range []*redis.UniversalOptions{cmdOpts, blockOpts} {
		u.Addrs, u.IsClusterMode = addrs, clusterMode
	}
	rdb, block := redis.NewUniversalClient(cmdOpts), redis.NewUniversalClient(blockOpts)
	t.Cleanup(func() { rdb.Close(); block.Close() })
	if o.hook != nil {
		rdb.AddHook(o.hook)
	}
	offload := plane.NewCommandOffloadHook(cmdOpts)
	rdb.AddHook(offload)
	t.Cleanup(func() { offload.Close() }) // once the plane, which sends through it, is closed
	prefix := storetest.Prefix(t)
	o.plane.Prefix = prefix
	graph := o.graph
	if graph == nil {
		graph = storetest.NewGraph(t)
	}
	pl := plane.New(rdb, block, graph, o.plane)
	t.Cleanup(pl.Close)
	o.pollWait = cmp.Or(o.pollWait, pollWait)
	var sessions *session.Store
	sessions, o.gateway.Wakeups = nodeSubscription(t, pl, o.pollWait)
	reg := prometheus.NewRegistry()
	o.gateway.Registry, o.gateway.Gatherer = reg, reg
	if o.gateway.BcryptCost == 0 {
		o.gateway.BcryptCost = 4
	}
	if o.gateway.PollSlice == 0 {
		// Longer than any poll here: a wait must end because something woke
		// it (an event, a newer poll, log-out, drain, a hang-up), never
		// because a slice ran out and hid a lost wake-up.
		o.gateway.PollSlice = time.Minute
	}
	if o.gateway.PollTimeout == 0 {
		o.gateway.PollTimeout = 5 * time.Second
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.logs != nil {
		logger = slog.New(slog.NewTextHandler(o.logs, nil))
	}
	static := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>webchat</title>")}}
	srv := gateway.NewServer(logger, graph, pl, sessions, static, o.gateway)
	t.Cleanup(func() { srv.Close(context.Background()) }) // after the HTTP server (cleanups run last first)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, http: hs, rdb: rdb, block: block, plane: pl, graph: graph, prefix: prefix, reg: reg, opts: o, logger: logger}
}

// secondNode is another gateway node over the same Redis, prefix and SQL,
// as a second process behind a balancer would be.
func (e *env) secondNode() *env { return e.secondNodeWaiting(e.opts.pollWait) }

// secondNodeWaiting is a second node whose polls wait as pollWait says.
func (e *env) secondNodeWaiting(pollWait string) *env {
	o := e.opts
	o.pollWait = pollWait
	reg := prometheus.NewRegistry()
	o.gateway.Registry, o.gateway.Gatherer = reg, reg
	var sessions *session.Store
	sessions, o.gateway.Wakeups = nodeSubscription(e.t, e.plane, o.pollWait)
	static := fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}}
	srv := gateway.NewServer(e.logger, e.graph, e.plane, sessions, static, o.gateway)
	e.t.Cleanup(func() { srv.Close(context.Background()) })
	hs := httptest.NewServer(srv)
	e.t.Cleanup(hs.Close)
	n := *e
	n.srv, n.http, n.reg = srv, hs, reg
	return &n
}

// nodeSubscription sets a node up as cmd/webchat does: its subscription
// feeds its session cache, and with pollWait "subscribe" its waiting polls
// (wakeups is nil otherwise).
func nodeSubscription(t testing.TB, pl *plane.Plane, pollWait string) (sessions *session.Store, wakeups *plane.Wakeups) {
	sessions = session.New(pl, nil, true)
	sub := subscribe(t, pl, sessions.News())
	if pollWait == "subscribe" {
		wakeups = sub
	}
	return sessions, wakeups
}

// subscribe starts a node's wake-up subscription, closed with the test.
func subscribe(t testing.TB, pl *plane.Plane, chans ...plane.Channel) *plane.Wakeups {
	t.Helper()
	w, err := pl.Subscribe(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), chans...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// client is one browser session: its own cookie jar, so its own device.
type client struct {
	e    *env
	hc   *http.Client
	User store.User
	// cursor is the last poll cursor, sent with the next poll.
	cursor string
}

func (e *env) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, Timeout: 70 * time.Second}}
}

// signup makes a user (name also as display name) and returns its client.
func (e *env) signup(name string) *client {
	e.t.Helper()
	c := e.newClient()
	var out struct{ User store.User }
	c.mustDo("POST", "/api/signup", map[string]any{"username": name, "password": "password-" + name, "display_name": strings.ToUpper(name[:1]) + name[1:]}, 201, &out)
	c.User = out.User
	return c
}

// login opens another session (device) of the same user.
func (c *client) login() *client {
	c.e.t.Helper()
	d := c.e.newClient()
	var out struct{ User store.User }
	d.mustDo("POST", "/api/login", map[string]any{"username": c.User.Username, "password": "password-" + c.User.Username}, 200, &out)
	d.User = out.User
	return d
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
	Close  bool // the server asked to close the connection
}

func (r response) errorCode() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// do sends a request; body is JSON-encoded unless it is a string or []byte.
func (c *client) do(method, path string, body any) response {
	return c.doCtx(context.Background(), method, path, body)
}

func (c *client) doCtx(ctx context.Context, method, path string, body any) response {
	c.e.t.Helper()
	return c.doFull(ctx, method, path, body, nil)
}

// doFull sends a request with extra headers.
func (c *client) doFull(ctx context.Context, method, path string, body any, headers map[string]string) response {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatalf("encode %v: %v", body, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.e.http.URL+path, rd)
	if err != nil {
		c.e.t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{Status: -1, Body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b, Close: resp.Close}
}

// mustDo sends a request and fails the test unless the status is want;
// out, if given, receives the decoded answer.
func (c *client) mustDo(method, path string, body any, want int, out any) response {
	c.e.t.Helper()
	r := c.do(method, path, body)
	if r.Status != want {
		c.e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			c.e.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
	return r
}

// event is a poll event as clients see it.
type event struct {
	ID      int64              `json:"id"`
	Type    string             `json:"type"`
	Message *store.Message     `json:"message"`
	Friend  *store.User        `json:"friend"`
	Group   *store.Group       `json:"group"`
	Request *json.RawMessage   `json:"request"`
	Invite  *store.GroupInvite `json:"invite"`
	Conv    string             `json:"conv"`
	Seq     int64              `json:"seq"`
}

type pollAnswer struct {
	Events []event `json:"events"`
	Cursor string  `json:"cursor"`
	Resync bool    `json:"resync"`
}

// poll polls once with the client's cursor and keeps the new cursor.
func (c *client) poll(timeout int) pollAnswer {
	c.e.t.Helper()
	var a pollAnswer
	c.mustDo("GET", c.pollPath(timeout), nil, 200, &a)
	c.cursor = a.Cursor
	return a
}

func (c *client) pollPath(timeout int) string {
	p := fmt.Sprintf("/api/poll?timeout=%d", timeout)
	if c.cursor != "" {
		p += "&cursor=" + c.cursor
	}
	return p
}

// messages polls until n messages arrived or the deadline passes, and
// returns them in arrival order, failing on a repeat of (conv, seq).
func (c *client) messages(n int, deadline time.Duration) []store.Message {
	c.e.t.Helper()
	var got []store.Message
	seen := map[string]bool{}
	end := time.Now().Add(deadline)
	for len(got) < n {
		if time.Now().After(end) {
			c.e.t.Fatalf("%s got %d of %d messages before the deadline", c.User.Username, len(got), n)
		}
		for _, ev := range c.poll(2).Events {
			if ev.Type != "message" {
				continue
			}
			k := fmt.Sprint(ev.Message.Conv, "/", ev.Message.Seq)
			if seen[k] {
				c.e.t.Fatalf("%s got %s twice", c.User.Username, k)
			}
			seen[k] = true
			got = append(got, *ev.Message)
		}
	}
	return got
}

// befriend makes a and b friends through the API.
func befriend(a, b *client) {
	a.e.t.Helper()
	var req struct{ Request struct{ ID int64 } }
	a.mustDo("POST", "/api/friend-requests", map[string]any{"username": b.User.Username}, 201, &req)
	b.mustDo("POST", fmt.Sprintf("/api/friend-requests/%d/accept", req.Request.ID), nil, 200, nil)
}

// send sends a message and returns it.
func (c *client) send(to any, typ, body string) store.Message {
	c.e.t.Helper()
	var out struct{ Message store.Message }
	c.mustDo("POST", "/api/messages", map[string]any{"to": to, "type": typ, "body": body}, 201, &out)
	return out.Message
}

// drain polls at once until nothing waits, acknowledging everything.
func (c *client) drain() {
	c.e.t.Helper()
	for range 100 {
		if len(c.poll(0).Events) == 0 {
			return
		}
	}
	c.e.t.Fatal("events kept coming")
}

// waitPolls waits until n polls wait on the node.
func (e *env) waitPolls(n int) {
	e.t.Helper()
	storetest.WaitFor(e.t, 10*time.Second, fmt.Sprintf("%d waiting polls", n), func() bool { return e.srv.WaitingPolls() == n })
}

// newEnvRate is a node that allows one message per second with a burst of two.
func newEnvRate(t *testing.T) *env {
	return newEnv(t, envOpts{gateway: gateway.Options{RateSend: 1, RateSendBurst: 2}})
}

// run runs a subtest whose helpers fail the subtest, not the parent
// (helpers report through e.t; subtests here never run in parallel).
func (e *env) run(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		parent := e.t
		e.t = t
		defer func() { e.t = parent }()
		f(t)
	})
}

// join puts m in group gid on c's behalf: at once if they are friends,
// else through the invitation m accepts (as a person would).
func (c *client) join(gid int64, m *client) {
	c.e.t.Helper()
	r := c.do("POST", fmt.Sprintf("/api/groups/%d/members", gid), map[string]any{"username": m.User.Username})
	switch r.Status {
	case 201:
	case 202:
		var iv struct{ Invite struct{ ID int64 } }
		if err := json.Unmarshal(r.Body, &iv); err != nil || iv.Invite.ID == 0 {
			c.e.t.Fatalf("invite %s: %v", r.Body, err)
		}
		m.mustDo("POST", fmt.Sprintf("/api/group-invites/%d/accept", iv.Invite.ID), nil, 200, nil)
	default:
		c.e.t.Fatalf("add %s to group %d: %d %s", m.User.Username, gid, r.Status, r.Body)
	}
}

// eventsUntil polls until an event satisfies done, or fails the test at
// the deadline, and returns every event it got, the last one done's.
func (c *client) eventsUntil(t *testing.T, deadline time.Duration, done func(event) bool) []event {
	t.Helper()
	var got []event
	for end := time.Now().Add(deadline); time.Now().Before(end); {
		for _, ev := range c.poll(1).Events {
			got = append(got, ev)
			if done(ev) {
				return got
			}
		}
	}
	t.Fatalf("%s: no such event before the deadline; got %+v", c.User.Username, got)
	return nil
}
