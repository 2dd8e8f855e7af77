package gateway_test

import (
	"testing"
	"time"

	"webchat/store/storetest"
)

// pollWoken starts a 30 s poll for c, runs act once the poll waits, and
// returns the answer, failing unless it came well before the timeout:
// only a wake-up can answer it that soon.
func pollWoken(t *testing.T, e *env, c *client, act func()) response {
	t.Helper()
	done := make(chan response, 1)
	go func() { done <- c.do("GET", "/api/poll?timeout=30&cursor="+c.cursor, nil) }()
	e.waitPolls(1)
	start := time.Now()
	act()
	select {
	case r := <-done:
		t.Logf("answered %v after the wake-up", time.Since(start))
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting poll was not woken")
		return response{}
	}
}

// With wake-up subscriptions, a poll waiting on one node is woken by a
// send through another, and superseded at once by a newer poll there.
func TestWakeupsAcrossNodes(t *testing.T) {
	a := newEnv(t, envOpts{pollWait: "subscribe"})
	b := a.secondNode()
	alice, bob := a.signup("alice"), a.signup("bob")
	befriend(alice, bob)
	bob.drain()
	aliceOnB := *alice
	aliceOnB.e = b

	r := pollWoken(t, a, bob, func() { aliceOnB.send(bob.User.ID, "single", "across nodes") })
	var ans pollAnswer
	mustJSON(t, r.Body, &ans)
	if r.Status != 200 || len(ans.Events) != 1 || ans.Events[0].Message.Body != "across nodes" {
		t.Fatalf("poll: %d %s", r.Status, r.Body)
	}
	bob.cursor = ans.Cursor

	bobOnB := *bob
	bobOnB.e = b
	newer := make(chan response, 1)
	r = pollWoken(t, a, bob, func() {
		go func() { newer <- bobOnB.do("GET", "/api/poll?timeout=1&cursor="+bob.cursor, nil) }()
	})
	if r.Status != 409 || r.errorCode() != "superseded" {
		t.Fatalf("older poll: %d %s", r.Status, r.Body)
	}
	if r := <-newer; r.Status != 200 {
		t.Fatalf("newer poll: %d %s", r.Status, r.Body)
	}
}

// A lost subscription connection loses no wake-up: what was published
// while it was gone is made up for by waking every waiter once the
// subscription is renewed, and later sends wake polls again.
func TestWakeupsSurviveALostSubscription(t *testing.T) {
	srv := storetest.StartRedis(t)
	e := newEnv(t, envOpts{redis: srv, pollWait: "subscribe"})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	admin := srv.Client(t)
	for i, body := range []string{"sent as the subscription dies", "sent after it came back"} {
		r := pollWoken(t, e, bob, func() {
			if i == 0 {
				if n, err := admin.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Result(); err != nil || n != 1 {
					t.Fatalf("kill the subscription: %d, %v", n, err)
				}
			}
			alice.send(bob.User.ID, "single", body)
		})
		var ans pollAnswer
		mustJSON(t, r.Body, &ans)
		if r.Status != 200 || len(ans.Events) != 1 || ans.Events[0].Message.Body != body {
			t.Fatalf("poll %d: %d %s", i, r.Status, r.Body)
		}
		bob.cursor = ans.Cursor
	}
}

// Nodes of both kinds share one Redis (during a change of POLL_WAIT, say):
// every script wakes a poll the way its pollgen says it waits.
func TestNodesWaitingBothWaysShareARedis(t *testing.T) {
	sub := newEnv(t, envOpts{pollWait: "subscribe"})
	blm := sub.secondNodeWaiting("blmove")
	alice, bob := sub.signup("alice"), sub.signup("bob")
	befriend(alice, bob)
	bob.drain()
	on := func(c *client, e *env) *client { d := *c; d.e = e; return &d }

	// bob waits on each node in turn; alice sends through the other.
	for _, tc := range []struct {
		name       string
		wait, send *env
	}{{"poll in BLMOVE, send from a subscribe node", blm, sub}, {"poll on a subscription, send from a BLMOVE node", sub, blm}} {
		b := on(bob, tc.wait)
		r := pollWoken(t, tc.wait, b, func() { on(alice, tc.send).send(bob.User.ID, "single", tc.name) })
		var ans pollAnswer
		mustJSON(t, r.Body, &ans)
		if r.Status != 200 || len(ans.Events) != 1 || ans.Events[0].Message.Body != tc.name {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		bob.cursor = ans.Cursor
	}

	// A newer poll on the other kind of node supersedes the older at once.
	newer := make(chan response, 1)
	r := pollWoken(t, blm, on(bob, blm), func() {
		go func() { newer <- on(bob, sub).do("GET", "/api/poll?timeout=1&cursor="+bob.cursor, nil) }()
	})
	if r.Status != 409 || r.errorCode() != "superseded" {
		t.Fatalf("older poll in BLMOVE: %d %s", r.Status, r.Body)
	}
	if r := <-newer; r.Status != 200 {
		t.Fatalf("newer poll: %d %s", r.Status, r.Body)
	}
}
