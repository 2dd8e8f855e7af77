package gateway_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"webchat/store"
)

func TestPastConversations(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, carol, dan, eve := e.signup("alice"), e.signup("bob"), e.signup("carol"), e.signup("dan"), e.signup("eve")
	befriend(alice, bob)
	befriend(carol, alice)
	befriend(alice, dan)
	bob.send(alice.User.ID, "single", "hello from bob")
	last := alice.send(bob.User.ID, "single", "bye bob")
	carol.send(alice.User.ID, "single", "still friends")
	alice.mustDo("DELETE", fmt.Sprintf("/api/friends/%d", bob.User.ID), nil, 204, nil)
	dan.mustDo("DELETE", fmt.Sprintf("/api/friends/%d", alice.User.ID), nil, 204, nil) // no message: nothing to list
	eve.mustDo("POST", "/api/friend-requests", map[string]any{"username": "alice"}, 201, nil)

	var out struct {
		Conversations []struct {
			Conv        string
			Peer        store.User
			Unread      int64
			LastMessage store.Message `json:"last_message"`
		}
	}
	alice.mustDo("GET", "/api/conversations/past", nil, 200, &out)
	if len(out.Conversations) != 1 {
		t.Fatalf("alice's past conversations: %+v, want bob's only", out.Conversations)
	}
	c := out.Conversations[0]
	if c.Conv != store.DirectConv(alice.User.ID, bob.User.ID).String() || c.Peer != bob.User || c.LastMessage.Seq != last.Seq || c.Unread != 1 {
		t.Fatalf("alice's past conversation with bob: %+v (last sent %+v)", c, last)
	}
	bob.mustDo("GET", "/api/conversations/past", nil, 200, &out)
	if len(out.Conversations) != 1 || out.Conversations[0].Peer != alice.User {
		t.Fatalf("bob's past conversations: %+v", out.Conversations)
	}
	eve.mustDo("GET", "/api/conversations/past", nil, 200, &out)
	if out.Conversations == nil || len(out.Conversations) != 0 {
		t.Fatalf("eve's past conversations: %+v, want none", out.Conversations)
	}
	if r := e.newClient().do("GET", "/api/conversations/past", nil); r.Status != 401 {
		t.Fatalf("logged out: %d %s", r.Status, r.Body)
	}
}

func TestSenders(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, carol, dan := e.signup("alice"), e.signup("bob"), e.signup("carol"), e.signup("dan")
	var g struct{ Group store.Group }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "trip"}, 201, &g)
	members := fmt.Sprintf("/api/groups/%d/members", g.Group.ID)
	for _, u := range []*client{bob, carol} {
		alice.join(int64(g.Group.ID), u)
	}
	m1 := bob.send(g.Group.ID, "group", "bob was here")
	m2 := carol.send(g.Group.ID, "group", "carol too")
	m3 := bob.send(g.Group.ID, "group", "bob again")
	bob.mustDo("DELETE", fmt.Sprintf("%s/%d", members, bob.User.ID), nil, 204, nil)
	// Dan joins after bob left: he reads bob's messages, so may know his name.
	alice.join(int64(g.Group.ID), dan)
	path := func(conv, seqs string) string { return "/api/conversations/" + conv + "/senders?seq=" + seqs }
	senders := func(c *client, conv, seqs string) []store.User {
		t.Helper()
		var out struct{ Users []store.User }
		c.mustDo("GET", path(conv, seqs), nil, 200, &out)
		return out.Users
	}

	e.run(t, "members learn the authors", func(t *testing.T) {
		seqs := fmt.Sprintf("%d,%d,%d,%d,999", m3.Seq, m1.Seq, m2.Seq, m1.Seq)
		for _, c := range []*client{alice, dan} {
			got := senders(c, g.Group.Conv, seqs)
			if want := []store.User{bob.User, carol.User}; !slices.Equal(got, want) {
				t.Fatalf("%s: got %+v, want %+v", c.User.Username, got, want)
			}
		}
		if got := senders(alice, g.Group.Conv, "999"); got == nil || len(got) != 0 {
			t.Fatalf("no such message: got %#v, want none", got)
		}
	})
	e.run(t, "anyone else gets 404", func(t *testing.T) {
		// Bob left: group history is for current members only.
		for _, c := range []*client{bob, e.signup("erin")} {
			if r := c.do("GET", path(g.Group.Conv, fmt.Sprint(m1.Seq)), nil); r.Status != 404 {
				t.Fatalf("%s: %d %s", c.User.Username, r.Status, r.Body)
			}
		}
		d := store.DirectConv(alice.User.ID, bob.User.ID).String()
		if r := carol.do("GET", path(d, "1"), nil); r.Status != 404 {
			t.Fatalf("carol in alice and bob's conversation: %d %s", r.Status, r.Body)
		}
		if r := carol.do("GET", path("nonsense", "1"), nil); r.Status != 404 {
			t.Fatalf("malformed conversation: %d %s", r.Status, r.Body)
		}
	})
	e.run(t, "malformed seqs are 400", func(t *testing.T) {
		many := "1"
		for i := 2; i <= 101; i++ {
			many += fmt.Sprintf(",%d", i)
		}
		for _, q := range []string{"", "0", "-1", "x", "1,,2", "1.5", "9007199254740992", many} {
			r := alice.do("GET", path(g.Group.Conv, q), nil)
			if r.Status != 400 || r.errorCode() != "invalid_query" {
				t.Fatalf("seq=%q: %d %s", q, r.Status, r.Body)
			}
		}
	})
	e.run(t, "a direct conversation's reader", func(t *testing.T) {
		befriend(alice, carol)
		m := carol.send(alice.User.ID, "single", "hi")
		got := senders(alice, m.Conv, fmt.Sprint(m.Seq))
		if len(got) != 1 || got[0] != carol.User {
			t.Fatalf("got %+v", got)
		}
		var raw json.RawMessage
		alice.mustDo("GET", path(m.Conv, fmt.Sprint(m.Seq)), nil, 200, &raw)
		if string(raw) != fmt.Sprintf(`{"users":[{"id":%d,"username":"carol","display_name":"Carol"}]}`, carol.User.ID) {
			t.Fatalf("answer %s", raw)
		}
	})
}
