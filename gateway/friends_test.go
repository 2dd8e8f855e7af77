package gateway_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"webchat/store"
)

func TestFriendRequests(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	bob.drain()

	var req struct{ Request store.FriendRequest }
	alice.mustDo("POST", "/api/friend-requests", map[string]any{"username": "BOB"}, 201, &req)
	if req.Request.From.ID != alice.User.ID || req.Request.To.ID != bob.User.ID || req.Request.CreatedAt == 0 {
		t.Fatalf("request = %+v", req.Request)
	}
	e.run(t, "the asked hears of it", func(t *testing.T) {
		a := bob.poll(2)
		if len(a.Events) != 1 || a.Events[0].Type != "friend_request" {
			t.Fatalf("bob got %+v", a.Events)
		}
	})
	e.run(t, "asking twice answers the same request", func(t *testing.T) {
		var again struct{ Request store.FriendRequest }
		alice.mustDo("POST", "/api/friend-requests", map[string]any{"username": "bob"}, 200, &again)
		if again.Request.ID != req.Request.ID {
			t.Fatalf("again = %+v", again)
		}
	})
	e.run(t, "only the asked may answer", func(t *testing.T) {
		for _, c := range []*client{alice, carol} {
			if r := c.do("POST", fmt.Sprintf("/api/friend-requests/%d/accept", req.Request.ID), nil); r.Status != 404 {
				t.Fatalf("%s accepting: %d %s", c.User.Username, r.Status, r.Body)
			}
		}
	})
	e.run(t, "errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, username string
			status         int
			code           string
		}{
			{"unknown user", "nobody", 404, "user_not_found"},
			{"malformed name is unknown", "no way!", 404, "user_not_found"},
			{"yourself", "alice", 400, "self"},
		} {
			r := alice.do("POST", "/api/friend-requests", map[string]any{"username": tc.username})
			if r.Status != tc.status || r.errorCode() != tc.code {
				t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
	})
	var fr struct{ Friend store.User }
	bob.mustDo("POST", fmt.Sprintf("/api/friend-requests/%d/accept", req.Request.ID), nil, 200, &fr)
	if fr.Friend.ID != alice.User.ID {
		t.Fatalf("friend = %+v", fr.Friend)
	}
	if r := alice.do("POST", "/api/friend-requests", map[string]any{"username": "bob"}); r.Status != 409 || r.errorCode() != "already_friends" {
		t.Fatalf("asking a friend: %d %s", r.Status, r.Body)
	}
	e.run(t, "decline", func(t *testing.T) {
		var r2 struct{ Request store.FriendRequest }
		carol.mustDo("POST", "/api/friend-requests", map[string]any{"username": "alice"}, 201, &r2)
		alice.mustDo("POST", fmt.Sprintf("/api/friend-requests/%d/decline", r2.Request.ID), nil, 204, nil)
		if r := carol.do("POST", "/api/messages", map[string]any{"to": alice.User.ID, "type": "single", "body": "hi"}); r.Status != 403 || r.errorCode() != "not_friends" {
			t.Fatalf("send after decline: %d %s", r.Status, r.Body)
		}
	})
}

func TestCrossingRequestsMakeFriendsAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	alice.mustDo("POST", "/api/friend-requests", map[string]any{"username": "bob"}, 201, nil)
	var fr struct{ Friend store.User }
	bob.mustDo("POST", "/api/friend-requests", map[string]any{"username": "alice"}, 200, &fr)
	if fr.Friend.ID != alice.User.ID {
		t.Fatalf("friend = %+v", fr)
	}
	alice.send(bob.User.ID, "single", "we are friends")

	e.run(t, "concurrently", func(t *testing.T) {
		for i := range 5 {
			a, b := e.signup(fmt.Sprint("xx", i)), e.signup(fmt.Sprint("yy", i))
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for j, pair := range [][2]*client{{a, b}, {b, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[j] = pair[0].do("POST", "/api/friend-requests", map[string]any{"username": pair[1].User.Username}).Status
				}()
			}
			wg.Wait()
			if statuses[0] == 500 || statuses[1] == 500 || statuses[0] < 0 || statuses[1] < 0 {
				t.Fatalf("statuses %v", statuses)
			}
			a.send(b.User.ID, "single", "friends")
			var me struct {
				Friends        []store.User
				FriendRequests struct{ Incoming, Outgoing []any } `json:"friend_requests"`
			}
			a.mustDo("GET", "/api/me", nil, 200, &me)
			if len(me.Friends) != 1 || len(me.FriendRequests.Incoming)+len(me.FriendRequests.Outgoing) != 0 {
				t.Fatalf("after crossing: %+v", me)
			}
		}
	})
}

func TestUnfriendStopsSendingAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	m := alice.send(bob.User.ID, "single", "before")
	bob.drain()
	alice.mustDo("DELETE", fmt.Sprintf("/api/friends/%d", bob.User.ID), nil, 204, nil)
	for _, c := range []*client{alice, bob} {
		other := alice.User.ID
		if c == alice {
			other = bob.User.ID
		}
		r := c.do("POST", "/api/messages", map[string]any{"to": other, "type": "single", "body": "after"})
		if r.Status != 403 || r.errorCode() != "not_friends" {
			t.Fatalf("%s sending after unfriend: %d %s", c.User.Username, r.Status, r.Body)
		}
	}
	// History stays readable by both.
	var h struct{ Messages []store.Message }
	bob.mustDo("GET", "/api/conversations/"+m.Conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("history after unfriend: %+v", h)
	}
	// bob hears of it.
	found := false
	for end := time.Now().Add(5 * time.Second); !found && time.Now().Before(end); {
		for _, ev := range bob.poll(1).Events {
			found = found || (ev.Type == "friend_removed" && ev.Friend.ID == alice.User.ID)
		}
	}
	if !found {
		t.Fatal("no friend_removed event")
	}
}
