package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"webchat/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// node is a webchat node run in-process by run(), as main runs it.
type node struct {
	URL  string
	out  *syncBuffer
	stop context.CancelFunc
	done chan error
}

// startNode runs a node with env (ADDR is chosen here) until the test ends.
// Without REDIS_URL in env it uses the embedded Redis.
func startNode(t *testing.T, env map[string]string) *node {
	t.Helper()
	port, err := storetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	full := map[string]string{
		"ADDR":           fmt.Sprintf("127.0.0.1:%d", port),
		"DATABASE_URL":   "sqlite:" + filepath.Join(t.TempDir(), "webchat.db"),
		"BCRYPT_COST":    "4",
		"RATE_SEND":      "0",
		"RATE_AUTH":      "0",
		"RATE_AUTH_USER": "0",
		"RATE_ADD":       "0",
		"RATE_FANOUT":    "0",
		"POLL_SLICE":     "1",
		"DRAIN_WINDOW":   "0",
	}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{URL: "http://" + full["ADDR"], out: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() { n.done <- run(ctx, nil, func(k string) string { return full[k] }, n.out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			t.Errorf("node did not stop")
		}
	})
	storetest.WaitFor(t, 20*time.Second, "the node to answer /healthz", func() bool {
		resp, err := http.Get(n.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return n
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// user is a cookie-jar client of a node.
type user struct {
	t    *testing.T
	base string
	hc   *http.Client
	ID   int64
}

func newUser(t *testing.T, base, name string) *user {
	jar, _ := cookiejar.New(nil)
	u := &user{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	var out struct{ User struct{ ID int64 } }
	u.call("POST", "/api/signup", map[string]any{"username": name, "password": "password1", "display_name": name}, 201, &out)
	u.ID = out.User.ID
	return u
}

func (u *user) call(method, path string, body any, want int, out any) {
	u.t.Helper()
	if err := u.try(method, path, body, want, out); err != nil {
		u.t.Fatal(err)
	}
}

// try is call for another goroutine than the test's: it returns what call
// would fail the test with.
func (u *user) try(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode %s: %v", b, err)
		}
	}
	return nil
}

// roundTrip makes two friends and sends one message to a waiting poll.
func roundTrip(t *testing.T, base string) {
	alice, bob := newUser(t, base, "alice"), newUser(t, base, "bob")
	var req struct{ Request struct{ ID int64 } }
	alice.call("POST", "/api/friend-requests", map[string]any{"username": "bob"}, 201, &req)
	bob.call("POST", fmt.Sprintf("/api/friend-requests/%d/accept", req.Request.ID), nil, 200, nil)
	var first struct{ Cursor string }
	bob.call("GET", "/api/poll?timeout=0", nil, 200, &first)
	type answer struct {
		Events []struct {
			Type    string
			Message struct {
				From int64
				Body string
			}
		}
	}
	type result struct {
		a   answer
		err error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		r.err = bob.try("GET", "/api/poll?timeout=30&cursor="+first.Cursor, nil, 200, &r.a)
		got <- r
	}()
	storetest.WaitFor(t, 5*time.Second, "bob's poll to wait", func() bool { return pollsWaiting(t, base) == 1 })
	alice.call("POST", "/api/messages", map[string]any{"to": bob.ID, "type": "single", "body": "hello"}, 201, nil)
	select {
	case r := <-got:
		a := r.a
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(a.Events) != 1 || a.Events[0].Message.Body != "hello" || a.Events[0].Message.From != alice.ID {
			t.Fatalf("poll answer = %+v", a)
		}
	case <-time.After(8 * time.Second):
		// Far below the poll's timeout: only a wake-up answers this soon.
		t.Fatal("the message did not arrive")
	}
}

// MAX_POLLS_PER_NODE defaults to what the open-file limit allows: one
// descriptor per waiting poll, two under POLL_WAIT=blmove.
func TestMaxPollsDefaultFollowsTheOpenFileLimit(t *testing.T) {
	if got := autoMaxPolls(20000, "subscribe"); got != 18976 {
		t.Errorf("subscribe, 20,000 files: %d", got)
	}
	if got := autoMaxPolls(20000, "blmove"); got != 9488 {
		t.Errorf("blmove, 20,000 files: %d", got)
	}
	if got := autoMaxPolls(1024, "subscribe"); got != 1024 {
		t.Errorf("a tiny limit: %d", got)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(map[string]string{"POLL_WAIT": "blmove"}), io.Discard)
	if err != nil || c.MaxPolls != autoMaxPolls(openFileLimit(), "blmove") {
		t.Errorf("default under blmove: %d, %v", c.MaxPolls, err)
	}
	c, err = parseConfig(nil, env(nil), io.Discard)
	if err != nil || c.MaxPolls != autoMaxPolls(openFileLimit(), "subscribe") || c.MaxPolls < 1024 {
		t.Errorf("default: %d, %v", c.MaxPolls, err)
	}
	for v, want := range map[string]int{"0": 0, "500": 500} {
		if c, err := parseConfig(nil, env(map[string]string{"MAX_POLLS_PER_NODE": v}), io.Discard); err != nil || c.MaxPolls != want {
			t.Errorf("MAX_POLLS_PER_NODE=%s: %d, %v", v, c.MaxPolls, err)
		}
	}
	if _, err := parseConfig(nil, env(map[string]string{"MAX_POLLS_PER_NODE": "lots"}), io.Discard); err == nil {
		t.Error("MAX_POLLS_PER_NODE=lots was accepted")
	}
}

func TestEmbeddedDefaultServesARoundTrip(t *testing.T) {
	n := startNode(t, nil)
	roundTrip(t, n.URL)
	if !strings.Contains(n.out.String(), "NOT durable") {
		t.Fatalf("the embedded mode did not warn; log:\n%s", n.out)
	}
}

func TestRealRedisRoundTripAndNodeHeader(t *testing.T) {
	srv := storetest.Redis(t)
	n := startNode(t, map[string]string{"REDIS_URL": srv.URL(), "REDIS_PREFIX": storetest.Prefix(t), "NODE_NAME": "node-a"})
	roundTrip(t, n.URL)
	resp, err := http.Get(n.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Webchat-Node"); got != "node-a" {
		t.Fatalf("X-Webchat-Node = %q", got)
	}
}

func TestShutdownAnswersWaitingPollsAtOnce(t *testing.T) {
	srv := storetest.Redis(t)
	n := startNode(t, map[string]string{"REDIS_URL": srv.URL(), "REDIS_PREFIX": storetest.Prefix(t), "POLL_SLICE": "20"})
	const polls = 20
	var users []*user
	for i := range polls {
		users = append(users, newUser(t, n.URL, fmt.Sprintf("user%d", i)))
	}
	answers := make(chan error, polls)
	for _, u := range users {
		go func() {
			var a struct{ Events []any }
			answers <- u.try("GET", "/api/poll?timeout=50", nil, 200, &a)
		}()
	}
	storetest.WaitFor(t, 10*time.Second, "polls to wait", func() bool { return strings.Count(metrics(t, n.URL), "webchat_polls_waiting 20") == 1 })
	start := time.Now()
	n.stop()
	for range polls {
		select {
		case err := <-answers:
			if err != nil {
				t.Fatalf("a waiting poll on shutdown: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiting poll was not answered at once on shutdown")
		}
	}
	select {
	case err := <-n.done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		n.done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("the node did not exit")
	}
	t.Logf("drained %d polls and stopped in %v", polls, time.Since(start))
}

func metrics(t *testing.T, base string) string {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		ok   bool
	}{
		{"defaults", nil, nil, true},
		{"flag wins", map[string]string{"POLL_TIMEOUT": "10"}, []string{"-poll-timeout", "20"}, true},
		{"poll timeout too long", map[string]string{"POLL_TIMEOUT": "56"}, nil, false},
		{"prefix with a brace", map[string]string{"REDIS_PREFIX": "wc{"}, nil, false},
		{"not a number", map[string]string{"INBOX_CAP": "many"}, nil, false},
		{"rate with burst", map[string]string{"RATE_SEND": "5,10"}, nil, true},
		{"bad proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, nil, false},
		{"proxies", map[string]string{"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}, nil, true},
		{"session lifetime in seconds", map[string]string{"SESSION_LIFETIME": "3600"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
	c, _ := parseConfig([]string{"-poll-timeout", "20"}, func(k string) string { return map[string]string{"POLL_TIMEOUT": "10", "RATE_SEND": "5,10"}[k] }, io.Discard)
	if c.PollTimeout != 20*time.Second || c.RateSend != 5 || c.RateSendBurst != 10 {
		t.Fatalf("config = %+v", c)
	}
	var help bytes.Buffer
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, name := range []string{"ADDR", "REDIS_URL", "REDIS_CLUSTER_ADDRS", "DATABASE_URL", "POLL_TIMEOUT", "REDIS_PREFIX", "NODE_NAME",
		"COOKIE_SECURE", "DEVICE_TTL", "INBOX_CAP", "HISTORY_CAP", "SESSION_LIFETIME", "SESSION_IDLE", "BCRYPT_COST",
		"TRUSTED_PROXIES", "MAX_POLLS_PER_NODE", "RATE_SEND", "RATE_AUTH", "RATE_AUTH_USER", "RATE_ADD", "RATE_FANOUT", "POLL_WAIT", "POLL_SLICE"} {
		if !strings.Contains(help.String(), "("+name+")") {
			t.Errorf("-h does not list %s", name)
		}
	}
}

// A node started on a Redis that can lose data says so at start, naming
// the setting, and /readyz's body says it too.
func TestNodeWarnsOfAnUnsafeRedisAtStart(t *testing.T) {
	srv := storetest.StartRedis(t, "--maxmemory-policy", "allkeys-lru", "--appendonly", "yes")
	n := startNode(t, map[string]string{"REDIS_URL": srv.URL(), "REDIS_PREFIX": storetest.Prefix(t)})
	storetest.WaitFor(t, 10*time.Second, "the warning", func() bool {
		return strings.Contains(n.out.String(), "Redis can lose data") && strings.Contains(n.out.String(), "setting=maxmemory-policy value=allkeys-lru")
	})
	if strings.Contains(n.out.String(), "setting=appendonly") {
		t.Fatalf("AOF is on, yet:\n%s", n.out.String())
	}
	resp, err := http.Get(n.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "unsafe: maxmemory-policy=allkeys-lru") {
		t.Fatalf("/readyz: %d %s", resp.StatusCode, b)
	}
}

// A node logs through the logger run made, never the process's default:
// in-process test nodes would overwrite each other's.
func TestNodeLeavesTheDefaultLoggerAlone(t *testing.T) {
	before := slog.Default()
	srv := storetest.Redis(t)
	startNode(t, map[string]string{"REDIS_URL": srv.URL(), "REDIS_PREFIX": storetest.Prefix(t)})
	if slog.Default() != before {
		t.Fatal("run replaced slog's default logger")
	}
}
