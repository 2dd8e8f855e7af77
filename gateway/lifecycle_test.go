package gateway_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"webchat/gateway"
)

func TestReadinessAndDrain(t *testing.T) {
	e := newEnv(t, envOpts{})
	anon := e.newClient()
	if r := anon.do("GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("/readyz: %d %s", r.Status, r.Body)
	}
	bob := e.signup("bob")
	bob.drain()
	done := make(chan response, 1)
	go func() { done <- bob.do("GET", "/api/poll?timeout=30&cursor="+bob.cursor, nil) }()
	e.waitPolls(1)
	start := time.Now()
	e.srv.Drain(context.Background())
	select {
	case r := <-done:
		if r.Status != 200 || !r.Close {
			t.Fatalf("drained poll: %d %v %s", r.Status, r.Header, r.Body)
		}
		t.Logf("waiting poll answered %v after drain", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting poll was not answered at once")
	}
	if r := anon.do("GET", "/readyz", nil); r.Status != 503 || !strings.Contains(string(r.Body), "draining") {
		t.Fatalf("/readyz while draining: %d %s", r.Status, r.Body)
	}
	r := bob.do("GET", "/api/me", nil)
	if r.Status != 503 || r.errorCode() != "draining" || r.Header.Get("Retry-After") != "0" {
		t.Fatalf("new request while draining: %d %v %s", r.Status, r.Header, r.Body)
	}
}

func TestMetricsExposeTheCore(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	alice.send(bob.User.ID, "single", "x")
	bob.messages(1, 5*time.Second)
	r := e.newClient().do("GET", "/metrics", nil)
	for _, want := range []string{
		"webchat_polls_waiting 0",
		`webchat_messages_sent_total{type="single"} 1`,
		`webchat_poll_answers_total{outcome="events"}`,
		"webchat_delivery_latency_seconds_count 1",
		"webchat_message_fanout_count 1",
		`webchat_http_requests_total{route="/api/messages",status="201"} 1`,
		"webchat_redis_calls_abandoned_total 0",
		"webchat_redis_calls_queued 0",
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The send and the polls went to Redis in the plane's pipelines.
	counter := func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(r.Body)
		if m == nil {
			t.Fatalf("/metrics lacks %s", name)
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	if pipes, calls := counter("webchat_redis_pipelines_total"), counter("webchat_redis_pipelined_calls_total"); pipes < 1 || calls < 3 || calls < pipes {
		t.Errorf("%v pipelines of %v script calls after a send and two polls", pipes, calls)
	}
}

func TestWaitingPollsAreBoundedPerNodeAndPerUser(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{MaxPolls: 2}})
	a, b, c := e.signup("aaa"), e.signup("bbb"), e.signup("ccc")
	for _, cl := range []*client{a, b, c} {
		cl.drain()
	}
	for _, cl := range []*client{a, b} {
		go cl.do("GET", "/api/poll?timeout=3&cursor="+cl.cursor, nil)
	}
	e.waitPolls(2)
	r := c.do("GET", "/api/poll?timeout=10&cursor="+c.cursor, nil)
	if r.Status != 503 || r.errorCode() != "overloaded" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a third waiting poll on a node that allows two: %d %s", r.Status, r.Body)
	}

	// Per user: one poll per device, at most 10 devices and 10 sessions; an
	// eleventh log-in drops the least recently seen device and ends the
	// oldest session, whose next poll answers 401 (TestSessionsPerUserAreCapped).
	u := e.signup("many")
	devices := []*client{u}
	for range 10 {
		devices = append(devices, u.login())
	}
	n, err := e.rdb.ZCard(context.Background(), e.prefix+"devices:{u:"+itoa(int64(u.User.ID))+"}").Result()
	if err != nil || n != 10 {
		t.Fatalf("devices = %d, %v", n, err)
	}
	if r := devices[0].do("GET", "/api/poll?timeout=0", nil); r.Status != 401 {
		t.Fatalf("the oldest session after an eleventh log-in: %d %s", r.Status, r.Body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
