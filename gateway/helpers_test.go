package gateway_test

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"webchat/gateway"
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
	t       *testing.T
	srv     *gateway.Server
	http    *httptest.Server
	rdb     redis.UniversalClient
	block   redis.UniversalClient
	plane   *plane.Plane
	graph   *sqlgraph.Graph
	prefix  string
	reg     *prometheus.Registry
	opts    envOpts
	logger  *slog.Logger
	serving *serving // what the node's HTTP server is doing
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
	// noArchive keeps history in Redis only (no archiver), as the plane
	// did before SQL kept messages.
	noArchive bool
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
	if !o.noArchive {
		o.plane.Archive = graph
		o.plane.ArchiveDelay = cmp.Or(o.plane.ArchiveDelay, 200*time.Millisecond)
	}
	o.plane.People = graph
	pl := plane.New(rdb, block, graph, o.plane)
	t.Cleanup(pl.Close)
	if !o.noArchive {
		startArchiver(t, pl)
	}
	startSweeper(t, pl)
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
	hs, sv := serve(t, srv)
	return &env{t: t, srv: srv, http: hs, rdb: rdb, block: block, plane: pl, graph: graph, prefix: prefix, reg: reg, opts: o, logger: logger, serving: sv}
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
	hs, sv := serve(e.t, srv)
	n := *e
	n.srv, n.http, n.reg, n.serving = srv, hs, reg, sv
	return &n
}

// serving counts what a node's HTTP server is doing.
type serving struct {
	polls  atomic.Int64 // polls being served now
	hungUp atomic.Int64 // requests whose client went away while the node served them
}

// serve serves a node over HTTP until the test ends, counting.
func serve(t *testing.T, srv http.Handler) (*httptest.Server, *serving) {
	sv := new(serving)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/poll" {
			sv.polls.Add(1)
			defer sv.polls.Add(-1)
		}
		stop := context.AfterFunc(r.Context(), func() { sv.hungUp.Add(1) })
		defer stop()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs, sv
}

// startArchiver runs an archiver over pl until the test ends.
func startArchiver(t testing.TB, pl *plane.Plane) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a := plane.NewArchiver(pl, "test", slog.New(slog.NewTextHandler(io.Discard, nil)), gateway.NewArchiveMetrics(prometheus.NewRegistry()))
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// startSweeper runs a presence and receipts sweeper over pl until the
// test ends.
func startSweeper(t testing.TB, pl *plane.Plane) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sw := plane.NewSweeper(pl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go func() { sw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
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
