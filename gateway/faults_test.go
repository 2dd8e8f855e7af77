package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/storetest"
)

// sender sends numbered messages with client ids, retrying each on
// failure with the same client_id until it is answered 201 or 200.
type sender struct {
	c        *client
	to       store.UserID
	answered atomic.Int64 // sends answered 201/200
	failures atomic.Int64 // 5xx answers and transport errors along the way
	slowest  atomic.Int64 // longest failed request, ns
}

func (s *sender) run(stop <-chan struct{}, max int) {
	for i := 1; i <= max; i++ {
		body := map[string]any{"to": s.to, "type": "single", "body": fmt.Sprint(i), "client_id": fmt.Sprint(s.c.User.Username, "-", i)}
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			r := s.c.do("POST", "/api/messages", body)
			if r.Status == 201 || r.Status == 200 {
				s.answered.Add(1)
				break
			}
			s.failures.Add(1)
			if d := time.Since(start).Nanoseconds(); d > s.slowest.Load() {
				s.slowest.Store(d)
			}
			time.Sleep(50 * time.Millisecond) // a client's retry pace
		}
	}
}

// receiver polls until it has want distinct messages, dropping repeats by
// (conv, seq) as clients do, and reports any seen twice after its cursor
// acknowledged them.
type receiver struct {
	c      *client
	mu     sync.Mutex
	seen   map[int64]bool
	repeat int
}

func (r *receiver) run(stop <-chan struct{}) {
	cursor := ""
	acked := int64(0)
	for {
		select {
		case <-stop:
			return
		default:
		}
		path := "/api/poll?timeout=1"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp := r.c.do("GET", path, nil)
		if resp.Status != 200 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var a pollAnswer
		if json.Unmarshal(resp.Body, &a) != nil {
			continue
		}
		r.mu.Lock()
		for _, ev := range a.Events {
			if ev.ID <= acked {
				r.repeat++
			}
			if ev.Type == "message" {
				r.seen[ev.Message.Seq] = true
			}
		}
		if len(a.Events) > 0 {
			acked = max(acked, a.Events[len(a.Events)-1].ID)
		}
		r.mu.Unlock()
		cursor = a.Cursor
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func TestRedisRestartUnderLoadLosesNothing(t *testing.T) {
	srv := storetest.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	e := newEnv(t, envOpts{redis: srv})
	baseline := runtime.NumGoroutine()
	const pairs, perSender = 3, 150
	var senders []*sender
	var receivers []*receiver
	for i := range pairs {
		a, b := e.signup(fmt.Sprint("sender", i)), e.signup(fmt.Sprint("receiver", i))
		befriend(a, b)
		b.drain()
		senders = append(senders, &sender{c: a, to: b.User.ID})
		receivers = append(receivers, &receiver{c: b, seen: map[int64]bool{}})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pairs {
		wg.Add(2)
		go func() { defer wg.Done(); senders[i].run(stop, perSender) }()
		go func() { defer wg.Done(); receivers[i].run(stop) }()
	}
	answered := func() (n int64) {
		for _, s := range senders {
			n += s.answered.Load()
		}
		return n
	}
	storetest.WaitFor(t, 30*time.Second, "some sends before the restart", func() bool { return answered() >= pairs*30 })
	srv.Stop(t)
	// While Redis is down, requests fail fast with 503 unavailable.
	c := e.newClient()
	start := time.Now()
	r := c.do("POST", "/api/login", map[string]any{"username": "sender0", "password": "password-sender0"})
	if r.Status != 503 || r.errorCode() != "unavailable" || time.Since(start) > 10*time.Second {
		t.Fatalf("while Redis is down: %d %s after %v", r.Status, r.Body, time.Since(start))
	}
	before := answered()
	time.Sleep(time.Second) // Redis stays down a while under load: the condition under test
	srv.Start(t)
	storetest.WaitFor(t, 60*time.Second, "every send answered", func() bool { return answered() == pairs*perSender })
	for i, rc := range receivers {
		storetest.WaitFor(t, 30*time.Second, fmt.Sprintf("receiver %d to get %d messages", i, perSender), func() bool { return rc.count() >= perSender })
	}
	close(stop)
	wg.Wait()
	var failures int64
	for i, s := range senders {
		failures += s.failures.Load()
		rc := receivers[i]
		if rc.count() != perSender || rc.repeat != 0 {
			t.Fatalf("receiver %d: %d distinct messages, %d repeats after acknowledgement", i, rc.count(), rc.repeat)
		}
		for seq := int64(1); seq <= perSender; seq++ {
			if !rc.seen[seq] {
				t.Fatalf("receiver %d lacks seq %d", i, seq)
			}
		}
	}
	// Stored once each: the highest seq equals the number of sends.
	for _, s := range senders {
		var h struct{ Messages []store.Message }
		s.c.mustDo("GET", "/api/conversations/"+store.DirectConv(s.c.User.ID, s.to).String()+"/messages?limit=1", nil, 200, &h)
		if len(h.Messages) != 1 || h.Messages[0].Seq != perSender {
			t.Fatalf("last stored message %+v, want seq %d (a send stored twice or lost)", h.Messages, perSender)
		}
	}
	t.Logf("%d sends answered before the stop, all %d after; %d failed attempts retried", before, pairs*perSender, failures)
	e.http.CloseClientConnections()
	for _, s := range senders {
		s.c.hc.CloseIdleConnections()
	}
	for _, r := range receivers {
		r.c.hc.CloseIdleConnections()
	}
	storetest.WaitFor(t, 15*time.Second, "goroutines back to their baseline", func() bool { return runtime.NumGoroutine() <= baseline+10 })
}

func TestRedisGoneFailsReadinessAndNothingPanics(t *testing.T) {
	srv := storetest.StartRedis(t)
	e := newEnv(t, envOpts{redis: srv})
	alice := e.signup("alice")
	srv.Stop(t)
	anon := e.newClient()
	if r := anon.do("GET", "/readyz", nil); r.Status != 503 || !strings.Contains(string(r.Body), `"redis":"unavailable"`) {
		t.Fatalf("/readyz: %d %s", r.Status, r.Body)
	}
	if r := anon.do("GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("/healthz: %d", r.Status)
	}
	for _, rt := range [][2]string{{"GET", "/api/me"}, {"GET", "/api/poll?timeout=1"}, {"POST", "/api/messages"}, {"POST", "/api/logout"}} {
		if r := alice.do(rt[0], rt[1], `{"to":2,"type":"single","body":"x"}`); r.Status != 503 || r.errorCode() != "unavailable" {
			t.Errorf("%s %s: %d %s", rt[0], rt[1], r.Status, r.Body)
		}
	}
}

func TestSlowRedisTimesOutWithoutRunningAScriptTwice(t *testing.T) {
	srv := storetest.StartRedis(t)
	// No archiver: its reads would take connections too, and the test
	// counts the send's.
	e := newEnv(t, envOpts{redis: srv, noArchive: true})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	admin := srv.Client(t)
	// A probe connected beforehand, with a short read timeout, tells when
	// Redis has stalled.
	probe := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1, PoolSize: 1})
	defer probe.Close()
	if err := probe.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// Redis stalls for 5 s, longer than the clients' 3 s read timeout. The
	// sleeper neither times out nor retries: a retried DEBUG SLEEP would
	// stall Redis a second time.
	sleeper := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 10 * time.Second, MaxRetries: -1})
	defer sleeper.Close()
	go sleeper.Do(context.Background(), "DEBUG", "SLEEP", "5")
	storetest.WaitFor(t, 5*time.Second, "Redis to stall", func() bool { return probe.Ping(context.Background()).Err() != nil })
	req := map[string]any{"to": bob.User.ID, "type": "single", "body": "during the stall", "client_id": "slow-1"}
	// The send goes first, so that its script (its session may be in the
	// node's cache) is written into the stall and times out before Redis
	// runs it; then the crowd.
	taken := func() uint32 { // connections handed out, by either pool
		st := e.rdb.PoolStats()
		n := st.Hits + st.Misses
		if p := st.PipelineStats; p != nil {
			n += p.Hits + p.Misses
		}
		return n
	}
	before := taken()
	sent := make(chan response, 1)
	start := time.Now()
	go func() { sent <- alice.do("POST", "/api/messages", req) }()
	storetest.WaitFor(t, 2*time.Second, "the send to take a connection", func() bool { return taken() > before })
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	durations := make([]time.Duration, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			statuses[i] = alice.do("GET", "/api/me", nil).Status
			durations[i] = time.Since(start)
		}()
	}
	r := <-sent
	took := time.Since(start)
	wg.Wait()
	if r.Status != 503 || took > 8*time.Second {
		t.Fatalf("send during the stall: %d %s after %v", r.Status, r.Body, took)
	}
	for i := range n {
		if statuses[i] != 503 && statuses[i] != 200 || durations[i] > 8*time.Second {
			t.Fatalf("request %d during the stall: %d after %v", i, statuses[i], durations[i])
		}
	}
	// Once Redis answers again the retry gets the one stored message.
	storetest.WaitFor(t, 10*time.Second, "Redis to answer", func() bool { return admin.Ping(context.Background()).Err() == nil })
	var again struct{ Message store.Message }
	rr := alice.do("POST", "/api/messages", req)
	if rr.Status != 200 && rr.Status != 201 {
		t.Fatalf("retry: %d %s", rr.Status, rr.Body)
	}
	json.Unmarshal(rr.Body, &again)
	var h struct{ Messages []store.Message }
	alice.mustDo("GET", "/api/conversations/"+again.Message.Conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 1 || h.Messages[0].Seq != 1 {
		t.Fatalf("stored %+v: the send script ran twice", h.Messages)
	}
	if got := bob.messages(1, 5*time.Second); got[0].Body != "during the stall" {
		t.Fatalf("bob got %+v", got)
	}
}

func TestThousandsOfCancelledPollsLeaveNothingBehind(t *testing.T) {
	srv := storetest.StartRedis(t)
	e := newEnv(t, envOpts{redis: srv})
	const users, devicesEach = 200, 10
	var clients []*client
	for i := range users {
		u := e.signup(fmt.Sprint("user", i))
		clients = append(clients, u)
		for range devicesEach - 1 {
			clients = append(clients, u.login())
		}
	}
	admin := srv.Client(t)
	redisClients := func() int {
		s, _ := admin.ClientList(context.Background()).Result()
		return strings.Count(s, "\n")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: -1}
	hc := &http.Client{Transport: tr}
	settle := func() {
		tr.CloseIdleConnections()
		for _, c := range clients {
			c.hc.CloseIdleConnections()
		}
	}
	settle()
	baseGoroutines, baseRedis := runtime.NumGoroutine(), redisClients()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/api/poll?timeout=30", nil)
			for _, ck := range c.hc.Jar.Cookies(req.URL) {
				req.AddCookie(ck)
			}
			if resp, err := hc.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	e.waitPolls(len(clients))
	peak := redisClients()
	cancel()
	wg.Wait()
	storetest.WaitFor(t, 15*time.Second, "the server to notice every cancelled poll", func() bool { return e.srv.WaitingPolls() == 0 })
	settle()
	storetest.WaitFor(t, 15*time.Second, "goroutines back to their baseline", func() bool { return runtime.NumGoroutine() <= baseGoroutines+10 })
	// What stays open is the bounded idle pools: at most MaxIdleConns idle
	// blocking connections, the command pool and go-redis's separate
	// pipeline pools; nothing outside them.
	_, blockOpts := plane.ClientOptions(testBlockingPool)
	maxIdle := blockOpts.MaxIdleConns
	pooled := func(s *redis.PoolStats) int {
		n := int(s.TotalConns)
		if s.PipelineStats != nil {
			n += int(s.PipelineStats.TotalConns)
		}
		return n
	}
	var detail string
	ok := false
	for end := time.Now().Add(20 * time.Second); !ok && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		block, cmd := e.block.PoolStats(), e.rdb.PoolStats()
		n := redisClients()
		// go-redis dials asynchronously: a dial that completes after its
		// caller stopped waiting (pool timeout under the burst) lands in the
		// idle pool past MaxIdleConns, so allow a few beyond it.
		ok = int(block.TotalConns) <= maxIdle+32 && n <= baseRedis+pooled(block)+pooled(cmd)
		detail = fmt.Sprintf("Redis clients %d, base %d, blocking pool %d (+%d), command pool %d (+%d)", n, baseRedis,
			block.TotalConns, pooled(block)-int(block.TotalConns), cmd.TotalConns, pooled(cmd)-int(cmd.TotalConns))
	}
	if !ok {
		list, _ := admin.ClientList(context.Background()).Result()
		t.Fatalf("Redis connections not back to the idle pools: %s\n%s", detail, tail(list, 3000))
	}
	t.Logf("%d polls: Redis clients %d → %d → %d; goroutines %d → %d", len(clients), baseRedis, peak, redisClients(), baseGoroutines, runtime.NumGoroutine())
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// sessionReads counts the commands that read a session, alone or in a
// pipeline.
type sessionReads struct{ n atomic.Int64 }

func (h *sessionReads) count(cmd redis.Cmder) {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.Contains(s, "session:") {
			h.n.Add(1)
			return
		}
	}
}
func (h *sessionReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *sessionReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.count(cmd); return next(ctx, cmd) }
}
func (h *sessionReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.count(c)
		}
		return next(ctx, cmds)
	}
}

// With Redis gone, a send whose session no cache holds asks for it once
// and answers 503 as any request would, not twice (once past scs, once
// through it), which would double its wait.
func TestSendReadsItsSessionOnceWhenRedisIsGone(t *testing.T) {
	srv := storetest.StartRedis(t)
	reads := &sessionReads{}
	e := newEnv(t, envOpts{redis: srv, hook: reads})
	alice := e.signup("alice")
	alice.e = e.secondNode() // its session cache has not seen alice's session
	srv.Stop(t)
	reads.n.Store(0)
	r := alice.do("POST", "/api/messages", `{"to":2,"type":"single","body":"x"}`)
	if r.Status != 503 || r.errorCode() != "unavailable" || r.Header.Get("Vary") != "Cookie" {
		t.Fatalf("send with Redis gone: %d %s, Vary %q", r.Status, r.Body, r.Header.Get("Vary"))
	}
	if n := reads.n.Load(); n != 1 {
		t.Fatalf("the send asked for its session %d times, want 1", n)
	}
}
