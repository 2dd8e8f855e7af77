package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"webchat/gateway"
	"webchat/store/plane"
	"webchat/store/storetest"
)

func TestDirectMessageReachesWaitingPoll(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()

	done := make(chan response, 1)
	go func() { done <- bob.do("GET", "/api/poll?timeout=30&cursor="+bob.cursor, nil) }()
	e.waitPolls(1)
	start := time.Now()
	sent := alice.send(bob.User.ID, "single", "hello bob")
	r := <-done
	t.Logf("send→poll answer latency: %v", time.Since(start))
	// The send woke the wait (the poll's timeout and the test's slice are
	// far longer): a broken wake-up would answer only at the timeout.
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("poll answered %v after the send", d)
	}
	if r.Status != 200 {
		t.Fatalf("poll: %d %s", r.Status, r.Body)
	}
	var a pollAnswer
	mustJSON(t, r.Body, &a)
	if len(a.Events) != 1 || a.Events[0].Type != "message" {
		t.Fatalf("events = %s", r.Body)
	}
	m := a.Events[0].Message
	if m.From != alice.User.ID || m.To != int64(bob.User.ID) || m.Seq != 1 || m.Conv != sent.Conv || m.Body != "hello bob" || m.Type != "single" {
		t.Fatalf("message = %+v", m)
	}
	if m.TS < start.Add(-time.Minute).UnixMilli() || m.TS > time.Now().Add(time.Minute).UnixMilli() {
		t.Fatalf("ts %d is not the server's time", m.TS)
	}
}

func TestFromComesFromTheSession(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	r := alice.do("POST", "/api/messages", map[string]any{"to": bob.User.ID, "type": "single", "body": "x", "from": bob.User.ID})
	if r.Status != 400 || r.errorCode() != "unknown_field" {
		t.Fatalf("a from field: %d %s", r.Status, r.Body)
	}
	m := alice.send(bob.User.ID, "single", "x")
	if m.From != alice.User.ID {
		t.Fatalf("from = %d", m.From)
	}
}

func TestOfflineMessagesArriveInOrderOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	const n = 200
	for i := 1; i <= n; i++ {
		alice.send(bob.User.ID, "single", fmt.Sprint("m", i))
	}
	got := bob.messages(n, 30*time.Second)
	for i, m := range got {
		if m.Seq != int64(i+1) || m.Body != fmt.Sprint("m", i+1) {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
	if a := bob.poll(0); len(a.Events) != 0 {
		t.Fatalf("after acknowledging, got %d more events", len(a.Events))
	}
}

func TestUnacknowledgedAnswerIsGivenAgain(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	alice.send(bob.User.ID, "single", "one")
	first := bob.poll(0)
	if len(first.Events) != 1 {
		t.Fatalf("first = %+v", first)
	}
	// The answer "never arrived": poll again with the old cursor.
	old := first.Events[0].ID
	bob.cursor = fmt.Sprint(first.Cursor[:len(first.Cursor)-len(fmt.Sprint(old))], old-1)
	again := bob.poll(0)
	if len(again.Events) != 1 || again.Events[0].ID != old {
		t.Fatalf("again = %+v", again)
	}
	// Acknowledge, then repeat the old cursor: nothing newer is deleted.
	ack := again.Cursor
	bob.poll(0)
	alice.send(bob.User.ID, "single", "two")
	bob.cursor = ack
	if a := bob.poll(0); len(a.Events) != 1 || a.Events[0].Message.Body != "two" {
		t.Fatalf("after repeating an old cursor: %+v", a)
	}
	bob.cursor = ack
	if a := bob.poll(0); len(a.Events) != 1 || a.Events[0].Message.Body != "two" {
		t.Fatalf("repeating the cursor again deleted the newer event: %+v", a)
	}
}

func TestAbandonedPollLosesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bob.doCtx(ctx, "GET", "/api/poll?timeout=20&cursor="+bob.cursor, nil); close(done) }()
	e.waitPolls(1)
	cancel()
	<-done
	// The server may still be waiting for the abandoned client; whatever
	// it takes now must reach the next poll.
	alice.send(bob.User.ID, "single", "while abandoned")
	start := time.Now()
	got := bob.messages(1, 10*time.Second)
	t.Logf("next poll got it after %v", time.Since(start))
	if got[0].Body != "while abandoned" {
		t.Fatalf("got %+v", got)
	}
	// The abandoned poll stops waiting within a slice or so.
	e.waitPolls(0)
	alice.send(bob.User.ID, "single", "after")
	if got := bob.messages(1, 10*time.Second); got[0].Body != "after" {
		t.Fatalf("got %+v", got)
	}
}

func TestNewerPollSupersedesOlder(t *testing.T) {
	e := newEnv(t, envOpts{})
	bob := e.signup("bob")
	bob.drain()
	old := make(chan response, 1)
	go func() { old <- bob.do("GET", "/api/poll?timeout=20", nil) }()
	e.waitPolls(1)
	start := time.Now()
	newer := make(chan response, 1)
	go func() { newer <- bob.do("GET", "/api/poll?timeout=2", nil) }()
	r := <-old
	if r.Status != http.StatusConflict || r.errorCode() != "superseded" {
		t.Fatalf("older poll: %d %s", r.Status, r.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("older poll answered after %v, want at once", d)
	}
	if r := <-newer; r.Status != 200 {
		t.Fatalf("newer poll: %d %s", r.Status, r.Body)
	}
}

func TestLogoutDuringPollAnswers401(t *testing.T) {
	e := newEnv(t, envOpts{})
	bob := e.signup("bob")
	bob.drain()
	done := make(chan response, 1)
	go func() { done <- bob.do("GET", "/api/poll?timeout=20", nil) }()
	e.waitPolls(1)
	// Log out from the same session (the cookie jar is shared).
	bob.mustDo("POST", "/api/logout", nil, 204, nil)
	select {
	case r := <-done:
		if r.Status != 401 {
			t.Fatalf("poll after log-out: %d %s", r.Status, r.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("poll still waiting 5 s after log-out")
	}
	if r := bob.do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("/api/me after log-out: %d", r.Status)
	}
}

func TestTwoDevicesBothReceiveAndReadClearsTheOther(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	bob2 := bob.login()
	befriend(alice, bob)
	bob.drain()
	bob2.drain()
	m1 := alice.send(bob.User.ID, "single", "one")
	for _, d := range []*client{bob, bob2} {
		if got := d.messages(1, 10*time.Second); got[0].Seq != m1.Seq {
			t.Fatalf("device got %+v", got)
		}
	}
	if u := unreadOf(bob, m1.Conv); u != 1 {
		t.Fatalf("unread = %d, want 1", u)
	}
	m2 := alice.send(bob.User.ID, "single", "two")
	bob2.messages(1, 10*time.Second)
	// bob reads up to the first message only: the second stays unread.
	bob.mustDo("POST", "/api/conversations/"+m1.Conv+"/read", map[string]any{"seq": m1.Seq}, 204, nil)
	if u := unreadOf(bob, m1.Conv); u != 2 {
		t.Fatalf("unread after reading an older seq = %d, want 2 (kept)", u)
	}
	bob.mustDo("POST", "/api/conversations/"+m1.Conv+"/read", map[string]any{"seq": m2.Seq}, 204, nil)
	if u := unreadOf(bob, m1.Conv); u != 0 {
		t.Fatalf("unread after reading = %d", u)
	}
	// The other device hears of it.
	var read *event
	for end := time.Now().Add(10 * time.Second); read == nil && time.Now().Before(end); {
		for _, ev := range bob2.poll(1).Events {
			if ev.Type == "read" && ev.Conv == m1.Conv && ev.Seq == m2.Seq {
				read = &ev
			}
		}
	}
	if read == nil {
		t.Fatal("the other device got no read event")
	}
}

func unreadOf(c *client, conv string) int64 {
	c.e.t.Helper()
	var me struct {
		Friends []struct {
			Conv   string
			Unread int64
		}
		Groups []struct {
			Conv   string
			Unread int64
		}
	}
	c.mustDo("GET", "/api/me", nil, 200, &me)
	for _, f := range me.Friends {
		if f.Conv == conv {
			return f.Unread
		}
	}
	for _, g := range me.Groups {
		if g.Conv == conv {
			return g.Unread
		}
	}
	c.e.t.Fatalf("conversation %s not in /api/me", conv)
	return 0
}

func TestCursorErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	a := alice.poll(0)
	for name, path := range map[string]string{
		"malformed":        "/api/poll?timeout=0&cursor=zzz",
		"another device":   "/api/poll?timeout=0&cursor=" + a.Cursor,
		"never given":      "/api/poll?timeout=0&cursor=" + bob.poll(0).Cursor + "9999",
		"negative timeout": "/api/poll?timeout=-1",
		"timeout not int":  "/api/poll?timeout=1.5",
	} {
		e.run(t, name, func(t *testing.T) {
			r := bob.do("GET", path, nil)
			if r.Status != 400 {
				t.Fatalf("%s: %d %s", path, r.Status, r.Body)
			}
		})
	}
	if r := bob.do("GET", "/api/poll?timeout=0&cursor=zzz", nil); r.errorCode() != "invalid_cursor" {
		t.Fatalf("code = %s", r.errorCode())
	}
	if r := bob.do("GET", "/api/poll?timeout=0", nil); r.Status != 200 {
		t.Fatalf("timeout=0: %d", r.Status)
	}
}

func TestPollTimeoutAboveTheMaximumIsTakenAsTheMaximum(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{MaxPollTimeout: time.Second}})
	bob := e.signup("bob")
	bob.drain()
	start := time.Now()
	r := bob.do("GET", "/api/poll?timeout=60", nil)
	if r.Status != 200 || time.Since(start) > 10*time.Second {
		t.Fatalf("timeout=60 with a 1 s maximum: %d after %v", r.Status, time.Since(start))
	}
}

func TestDroppedDeviceGetsResync(t *testing.T) {
	t.Run("inbox overflow", func(t *testing.T) {
		e := newEnv(t, envOpts{plane: plane.Options{InboxCap: 5}})
		alice, bob := e.signup("alice"), e.signup("bob")
		befriend(alice, bob)
		bob.drain()
		for i := range 6 {
			alice.send(bob.User.ID, "single", fmt.Sprint(i))
		}
		a := bob.poll(0)
		if !a.Resync || len(a.Events) != 0 {
			t.Fatalf("after overflow: %+v", a)
		}
		// Fresh and working again.
		alice.send(bob.User.ID, "single", "after")
		if got := bob.messages(1, 10*time.Second); got[0].Body != "after" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("device ttl", func(t *testing.T) {
		e := newEnv(t, envOpts{plane: plane.Options{DeviceTTL: 2 * time.Second}})
		alice, bob := e.signup("alice"), e.signup("bob")
		befriend(alice, bob)
		bob.drain()
		alice.send(bob.User.ID, "single", "before")
		time.Sleep(2500 * time.Millisecond)                // the TTL itself is the condition under test
		alice.send(bob.User.ID, "single", "after the ttl") // prunes bob's device
		if a := bob.poll(0); !a.Resync {
			t.Fatalf("after the ttl: %+v", a)
		}
		n, err := e.rdb.Exists(context.Background(), e.prefix+"inbox:{u:"+fmt.Sprint(bob.User.ID)+"}:x").Result()
		if err != nil || n != 0 {
			t.Fatalf("exists = %d, %v", n, err)
		}
	})
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// A hang-up ends the server's wait at once, however long the slice: the
// abandoned wait is woken rather than left to take the next event.
func TestHangUpEndsTheWaitAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{PollSlice: 30 * time.Second, PollTimeout: 30 * time.Second}})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bob.doCtx(ctx, "GET", "/api/poll?timeout=30&cursor="+bob.cursor, nil); close(done) }()
	e.waitPolls(1)
	start := time.Now()
	cancel()
	<-done
	storetest.WaitFor(t, 5*time.Second, "the abandoned wait to end", func() bool { return e.srv.WaitingPolls() == 0 })
	t.Logf("the server stopped waiting %v after the hang-up", time.Since(start))
	// Nothing sent afterwards went into the abandoned poll's hands: the
	// next poll finds it waiting in the inbox.
	alice.send(bob.User.ID, "single", "after the hang-up")
	if got := bob.messages(1, 5*time.Second); got[0].Body != "after the hang-up" {
		t.Fatalf("got %+v", got)
	}
}
