package main

// Partial outages through the shipped deploy/nginx.conf: a dependency that
// fails one route must not take healthy nodes out of rotation, and what
// reaches the client is always the API's JSON (issue 15, item 1).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"webchat/store/storetest"
)

// apiError reads an answer as the API's error shape; "" if it is not one.
func apiErrorCode(a wireAnswer) string {
	var e struct {
		Error struct{ Code string }
	}
	if json.Unmarshal(a.Body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// sender sends alice's messages to bob through the balancer until stop,
// each with its client_id, and counts what was not answered 201.
type sender struct {
	from      *wireClient
	to        int64
	lb        string
	sent, bad atomic.Int64
	mu        sync.Mutex
	failures  []string
}

func (s *sender) run(stop <-chan struct{}, every time.Duration) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
		a, err := s.from.do("POST", s.lb+"/api/messages", map[string]any{"to": s.to, "type": "single", "body": fmt.Sprint("m", i), "client_id": fmt.Sprint("c", i)})
		s.sent.Add(1)
		if err != nil || a.Status != 201 {
			s.bad.Add(1)
			s.mu.Lock()
			if len(s.failures) < 5 {
				s.failures = append(s.failures, fmt.Sprintf("%v %d %.200s", err, a.Status, a.Body))
			}
			s.mu.Unlock()
		}
	}
}

// PostgreSQL refusing connections makes the routes that need SQL answer
// 503 in JSON, on every node, while sends (which need none) go on through
// nginx: no node leaves rotation for a dependency's 503.
func TestPostgresDownThroughNginxFailsOnlyTheRoutesThatNeedIt(t *testing.T) {
	pg := storetest.Postgres(t)
	dsn := pg.NewDatabase(t)
	c := startCluster(t, map[string]string{"DATABASE_URL": dsn})
	alice, bob := newWireClient(), newWireClient()
	alice.signup(t, c.lb, "alice")
	bob.signup(t, c.lb, "bob")
	befriendWire(t, c.lb, alice, bob, "bob")
	alice.must(t, "POST", c.lb+"/api/messages", map[string]any{"to": bob.ID, "type": "single", "body": "warm"}, 201, nil)

	u, _ := url.Parse(dsn)
	name := strings.TrimPrefix(u.Path, "/")
	admin := storetest.SQL(t, pg.AdminURL)
	exec := func(q string) {
		t.Helper()
		if _, err := admin.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(fmt.Sprintf(`ALTER DATABASE %q ALLOW_CONNECTIONS false`, name))
	exec(fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()`, name))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	s := &sender{from: alice, to: bob.ID, lb: c.lb}
	wg.Add(1)
	go func() { defer wg.Done(); s.run(stop, 20*time.Millisecond) }()
	var meCalls, meBad atomic.Int64
	var meFailure atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, err := bob.do("GET", c.lb+"/api/me", nil)
				meCalls.Add(1)
				if err != nil || a.Status != 503 || apiErrorCode(a) != "unavailable" {
					meBad.Add(1)
					meFailure.Store(fmt.Sprintf("%v %d %.200s", err, a.Status, a.Body))
				}
			}
		}()
	}
	time.Sleep(8 * time.Second) // the outage under test lasts this long
	close(stop)
	wg.Wait()
	if s.bad.Load() > 0 || s.sent.Load() < 50 {
		t.Errorf("sends while SQL was down: %d of %d not 201, e.g. %q", s.bad.Load(), s.sent.Load(), s.failures)
	}
	if meBad.Load() > 0 {
		t.Errorf("/api/me while SQL was down: %d of %d not a JSON 503 unavailable, e.g. %v", meBad.Load(), meCalls.Load(), meFailure.Load())
	}
	t.Logf("SQL down 8 s: %d sends, %d failed; %d /api/me, %d not JSON 503", s.sent.Load(), s.bad.Load(), meCalls.Load(), meBad.Load())

	exec(fmt.Sprintf(`ALTER DATABASE %q ALLOW_CONNECTIONS true`, name))
	storetest.WaitFor(t, 15*time.Second, "/api/me through nginx again", func() bool {
		a, err := bob.do("GET", c.lb+"/api/me", nil)
		return err == nil && a.Status == 200
	})
}

// A Redis restart fails every request while it lasts, in JSON; once Redis
// answers again, sends through nginx succeed at once, not after nginx's
// fail_timeout has let the nodes back in.
func TestRedisRestartThroughNginxRecoversAtOnce(t *testing.T) {
	rs := storetest.StartRedis(t, "--appendonly", "yes")
	c := startCluster(t, map[string]string{"REDIS_URL": rs.URL()})
	alice, bob := newWireClient(), newWireClient()
	alice.signup(t, c.lb, "alice")
	bob.signup(t, c.lb, "bob")
	befriendWire(t, c.lb, alice, bob, "bob")

	rs.Stop(t)
	// Four clients ask for /api/me for the 3.5 s Redis is gone, as people
	// reloading a page would.
	var (
		mu     sync.Mutex
		during []string
		calls  atomic.Int64
		wg     sync.WaitGroup
	)
	end := time.Now().Add(3500 * time.Millisecond)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				a, err := bob.do("GET", c.lb+"/api/me", nil)
				calls.Add(1)
				if err != nil || a.Status == 200 || apiErrorCode(a) == "" {
					mu.Lock()
					during = append(during, fmt.Sprintf("%v %d %.100s", err, a.Status, a.Body))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(during) > 0 {
		t.Errorf("answers while Redis was down that were not the API's JSON errors: %d of %d, e.g. %q", len(during), calls.Load(), during[0])
	}
	rs.Start(t)
	back := time.Now()
	var first time.Duration
	for i := 0; ; i++ {
		a, err := alice.do("POST", c.lb+"/api/messages", map[string]any{"to": bob.ID, "type": "single", "body": fmt.Sprint("back ", i), "client_id": fmt.Sprint("b", i)})
		if err == nil && a.Status == 201 {
			first = time.Since(back)
			break
		}
		if time.Since(back) > 15*time.Second {
			t.Fatalf("no send succeeded in 15 s after Redis was back: %v %d %s", err, a.Status, a.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// go-redis redials on the next command; nginx's fail_timeout is 5 s.
	if first > 2*time.Second {
		t.Fatalf("the first send succeeded %v after Redis was back", first)
	}
	t.Logf("first send %v after Redis answered again", first)
}

// SIGTERM to a node while sends go through nginx: the draining node closes
// the requests it gets from nginx unanswered, nginx retries them on the
// other nodes, and not one send fails.
func TestSigtermThroughNginxFailsNoSend(t *testing.T) {
	c := startCluster(t, map[string]string{"DRAIN_WINDOW": "2"})
	alice, bob := newWireClient(), newWireClient()
	alice.signup(t, c.lb, "alice")
	bob.signup(t, c.lb, "bob")
	befriendWire(t, c.lb, alice, bob, "bob")
	stop := make(chan struct{})
	s := &sender{from: alice, to: bob.ID, lb: c.lb}
	done := make(chan struct{})
	go func() { s.run(stop, 10*time.Millisecond); close(done) }()
	time.Sleep(500 * time.Millisecond) // sends before the signal
	c.nodes[1].cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.nodes[1].done:
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not exit")
	}
	time.Sleep(500 * time.Millisecond) // and after it
	close(stop)
	<-done
	if s.bad.Load() > 0 {
		t.Fatalf("%d of %d sends failed across the drain, e.g. %q", s.bad.Load(), s.sent.Load(), s.failures)
	}
	t.Logf("%d sends across the drain, none failed", s.sent.Load())
}

// What nginx answers itself is the API's JSON too: a body over its
// client_max_body_size, and no node left to answer.
func TestNginxOwnAnswersAreJSON(t *testing.T) {
	c := startCluster(t, nil)
	alice := newWireClient()
	alice.signup(t, c.lb, "alice")
	big := map[string]any{"to": 1, "type": "single", "body": strings.Repeat("x", 70<<10)}
	if a, err := alice.do("POST", c.lb+"/api/messages", big); err != nil || a.Status != 413 || apiErrorCode(a) != "too_large" {
		t.Fatalf("a 70 KiB body: %v %d %s", err, a.Status, a.Body)
	}
	for _, n := range c.nodes {
		n.cmd.Process.Kill()
		<-n.done
	}
	a, err := alice.do("GET", c.lb+"/api/me", nil)
	if err != nil || a.Status != 503 || apiErrorCode(a) != "unavailable" {
		t.Fatalf("no node left: %v %d %s", err, a.Status, a.Body)
	}
}

// Nodes behind the shipped nginx without TRUSTED_PROXIES say so in their
// log: every client would share nginx's address and its limits.
func TestNodesBehindNginxWithoutTrustedProxiesWarn(t *testing.T) {
	c := startCluster(t, map[string]string{"TRUSTED_PROXIES": ""})
	cl := newWireClient()
	for range 6 { // round-robin: every node sees some
		cl.do("GET", c.lb+"/api/me", nil)
	}
	for _, n := range c.nodes {
		storetest.WaitFor(t, 5*time.Second, n.Name+"'s warning", func() bool {
			b, _ := os.ReadFile(n.log)
			return strings.Contains(string(b), "not a trusted proxy") && strings.Contains(string(b), "TRUSTED_PROXIES")
		})
	}
}

// A browser that sends Origin but not Sec-Fetch-Site (older ones) is let
// through nginx on a port that is not 80: nginx passes the Host with its
// port, which the node's cross-origin check compares with Origin.
func TestSameOriginPostThroughNginxOnAnotherPort(t *testing.T) {
	c := startCluster(t, nil)
	alice := newWireClient()
	req, _ := http.NewRequest("POST", c.lb+"/api/signup", strings.NewReader(`{"username":"alice","password":"password1","display_name":"Alice"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.lb)
	resp, err := alice.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("a same-origin sign-up with Origin %s: %d %s", c.lb, resp.StatusCode, b)
	}
	req, _ = http.NewRequest("POST", c.lb+"/api/logout", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err = alice.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("a cross-origin log-out: %d", resp.StatusCode)
	}
}

// A write to an SQLite file another process holds locked answers 503 after
// one node's busy timeout (10 s), not after nginx has tried it on every
// node in turn (30 s behind three nodes, before).
func TestLockedSQLiteThroughNginxAnswersOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	c := startCluster(t, map[string]string{"DATABASE_URL": "sqlite:" + path})
	alice := newWireClient()
	alice.signup(t, c.lb, "alice")
	locker := storetest.SQL(t, "sqlite:"+path)
	conn, err := locker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a, err := alice.do("POST", c.lb+"/api/groups", map[string]any{"name": "while locked"})
	took := time.Since(start)
	conn.ExecContext(context.Background(), "ROLLBACK")
	if err != nil || a.Status != 503 || apiErrorCode(a) != "unavailable" {
		t.Fatalf("a write while SQLite is locked: %v %d %s", err, a.Status, a.Body)
	}
	if took > 15*time.Second {
		t.Fatalf("the 503 took %v: nginx tried more than one node", took)
	}
	t.Logf("503 after %v", took)
}
