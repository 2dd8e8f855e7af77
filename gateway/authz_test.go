package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"webchat/store"
)

// Every route that touches a conversation, group or request, walked as an
// outsider, a non-friend, a removed member and a logged-out client: each
// gets 401, 403 or 404, never the data, and the answer for something that
// exists is the same as for something that does not.
func TestAuthorizationEverywhere(t *testing.T) {
	e := newEnv(t, envOpts{})
	owner, member, removed, outsider := e.signup("owner"), e.signup("member"), e.signup("removed"), e.signup("outsider")
	befriend(owner, member)
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "secret"}, 201, &g)
	gid := g.Group.ID
	for _, c := range []*client{member, removed} {
		owner.join(int64(gid), c)
	}
	removed.drain()
	owner.send(gid, "group", "before the removal")
	owner.mustDo("DELETE", fmt.Sprintf("/api/groups/%d/members/%d", gid, removed.User.ID), nil, 204, nil)
	owner.send(gid, "group", "after the removal")
	direct := store.DirectConv(owner.User.ID, member.User.ID).String()
	var req struct{ Request store.FriendRequest }
	owner.mustDo("POST", "/api/friend-requests", map[string]any{"username": "outsider"}, 201, &req)
	loggedOut := e.newClient()

	missingGroup := int64(gid) + 1000
	routes := []struct {
		name, method, path, missing string // missing: the same route on something that does not exist
		body                        any
	}{
		{"group detail", "GET", fmt.Sprintf("/api/groups/%d", gid), fmt.Sprintf("/api/groups/%d", missingGroup), nil},
		{"add member", "POST", fmt.Sprintf("/api/groups/%d/members", gid), fmt.Sprintf("/api/groups/%d/members", missingGroup), map[string]any{"username": "outsider"}},
		{"set role", "PATCH", fmt.Sprintf("/api/groups/%d/members/%d", gid, member.User.ID), fmt.Sprintf("/api/groups/%d/members/%d", missingGroup, member.User.ID), map[string]any{"role": "admin"}},
		{"remove member", "DELETE", fmt.Sprintf("/api/groups/%d/members/%d", gid, member.User.ID), fmt.Sprintf("/api/groups/%d/members/%d", missingGroup, member.User.ID), nil},
		{"group history", "GET", "/api/conversations/" + g.Group.Conv + "/messages", fmt.Sprintf("/api/conversations/g%d/messages", missingGroup), nil},
		{"group read", "POST", "/api/conversations/" + g.Group.Conv + "/read", fmt.Sprintf("/api/conversations/g%d/read", missingGroup), map[string]any{"seq": 1}},
		{"direct history", "GET", "/api/conversations/" + direct + "/messages", "/api/conversations/d999998-999999/messages", nil},
		{"direct read", "POST", "/api/conversations/" + direct + "/read", "/api/conversations/d999998-999999/read", map[string]any{"seq": 1}},
		{"accept someone else's request", "POST", fmt.Sprintf("/api/friend-requests/%d/accept", req.Request.ID), "/api/friend-requests/999999/accept", nil},
		{"decline someone else's request", "POST", fmt.Sprintf("/api/friend-requests/%d/decline", req.Request.ID), "/api/friend-requests/999999/decline", nil},
		{"send to the group", "POST", "/api/messages", "/api/messages", nil},
	}
	for _, who := range []struct {
		name string
		c    *client
	}{{"outsider", outsider}, {"removed member", removed}, {"logged out", loggedOut}} {
		for _, rt := range routes {
			e.run(t, who.name+"/"+rt.name, func(t *testing.T) {
				body, missingBody := rt.body, rt.body
				if rt.name == "send to the group" {
					body = map[string]any{"to": gid, "type": "group", "body": "let me in"}
					missingBody = map[string]any{"to": missingGroup, "type": "group", "body": "let me in"}
				}
				if who.name == "outsider" && strings.Contains(rt.name, "request") {
					return // the outsider is the one asked: covered by TestFriendRequests
				}
				r := who.c.do(rt.method, rt.path, body)
				if r.Status != 401 && r.Status != 403 && r.Status != 404 {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if strings.Contains(string(r.Body), "secret") || strings.Contains(string(r.Body), "after the removal") {
					t.Fatalf("leaked: %s", r.Body)
				}
				m := who.c.do(rt.method, rt.missing, missingBody)
				if m.Status != r.Status || m.errorCode() != r.errorCode() || m.errorMessage() != r.errorMessage() {
					t.Fatalf("tells existing (%d %s) from missing (%d %s)", r.Status, r.Body, m.Status, m.Body)
				}
			})
		}
	}
	e.run(t, "the removed member keeps what was delivered before", func(t *testing.T) {
		var bodies []string
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
			a := removed.poll(1)
			for _, ev := range a.Events {
				if ev.Type == "message" {
					bodies = append(bodies, ev.Message.Body)
				}
			}
			if len(a.Events) == 0 {
				break
			}
		}
		if len(bodies) != 1 || bodies[0] != "before the removal" {
			t.Fatalf("removed member got %q", bodies)
		}
	})
	e.run(t, "unfriended: history stays, sending stops", func(t *testing.T) {
		owner.send(member.User.ID, "single", "hello friend")
		member.mustDo("DELETE", fmt.Sprintf("/api/friends/%d", owner.User.ID), nil, 204, nil)
		var h struct{ Messages []store.Message }
		owner.mustDo("GET", "/api/conversations/"+direct+"/messages", nil, 200, &h)
		if len(h.Messages) != 1 {
			t.Fatalf("history after unfriending: %+v", h)
		}
		if r := owner.do("POST", "/api/messages", map[string]any{"to": member.User.ID, "type": "single", "body": "x"}); r.Status != 403 {
			t.Fatalf("send after unfriending: %d", r.Status)
		}
	})
}
