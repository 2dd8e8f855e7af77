package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"webchat/store"
)

func TestGroups(t *testing.T) {
	e := newEnv(t, envOpts{})
	owner, admin, member, outsider := e.signup("owner"), e.signup("admin"), e.signup("member"), e.signup("outsider")
	// Friends are added at once (anyone else is invited: TestGroupInvites).
	befriend(owner, admin)
	befriend(admin, member)
	befriend(owner, outsider)
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "Team", "brief": "we chat", "max_members": 4}, 201, &g)
	if g.Group.OwnerID != owner.User.ID || g.Group.MemberCount != 1 || g.Group.MaxMembers != 4 || g.Group.Conv != fmt.Sprint("g", g.Group.ID) {
		t.Fatalf("group = %+v", g.Group)
	}
	path := fmt.Sprintf("/api/groups/%d", g.Group.ID)
	owner.mustDo("POST", path+"/members", map[string]any{"username": "admin"}, 201, nil)
	owner.mustDo("PATCH", fmt.Sprintf("%s/members/%d", path, admin.User.ID), map[string]any{"role": "admin"}, 200, nil)
	member.drain()
	admin.mustDo("POST", path+"/members", map[string]any{"username": "member"}, 201, nil)

	e.run(t, "the new member hears of it", func(t *testing.T) {
		a := member.poll(2)
		if len(a.Events) != 1 || a.Events[0].Type != "group_joined" || a.Events[0].Group.ID != g.Group.ID {
			t.Fatalf("events = %+v", a.Events)
		}
	})
	e.run(t, "rules", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			c      *client
			method string
			path   string
			body   any
			status int
			code   string
		}{
			{"a member may not add", member, "POST", path + "/members", map[string]any{"username": "outsider"}, 403, "forbidden"},
			{"already a member", owner, "POST", path + "/members", map[string]any{"username": "member"}, 409, "already_member"},
			{"unknown user", owner, "POST", path + "/members", map[string]any{"username": "ghost"}, 404, "user_not_found"},
			{"an outsider sees no group", outsider, "GET", path, nil, 404, "group_not_found"},
			{"an outsider cannot add", outsider, "POST", path + "/members", map[string]any{"username": "outsider"}, 404, "group_not_found"},
			{"an outsider cannot send", outsider, "POST", "/api/messages", map[string]any{"to": g.Group.ID, "type": "group", "body": "hi"}, 403, "not_member"},
			{"sending to a group that does not exist", outsider, "POST", "/api/messages", map[string]any{"to": 999999, "type": "group", "body": "hi"}, 403, "not_member"},
			{"an outsider cannot read history", outsider, "GET", "/api/conversations/" + g.Group.Conv + "/messages", nil, 404, "conversation_not_found"},
			{"an admin cannot remove the owner", admin, "DELETE", fmt.Sprintf("%s/members/%d", path, owner.User.ID), nil, 403, "forbidden"},
			{"a member cannot remove another", member, "DELETE", fmt.Sprintf("%s/members/%d", path, admin.User.ID), nil, 403, "forbidden"},
			{"only the owner sets roles", admin, "PATCH", fmt.Sprintf("%s/members/%d", path, member.User.ID), map[string]any{"role": "admin"}, 403, "forbidden"},
			{"the owner cannot leave while others remain", owner, "DELETE", fmt.Sprintf("%s/members/%d", path, owner.User.ID), nil, 409, "owner_must_transfer"},
			{"a bad role", owner, "PATCH", fmt.Sprintf("%s/members/%d", path, member.User.ID), map[string]any{"role": "king"}, 400, "invalid_field"},
			{"max_members too small", owner, "POST", "/api/groups", map[string]any{"name": "x", "max_members": 1}, 400, "invalid_field"},
			{"max_members too large", owner, "POST", "/api/groups", map[string]any{"name": "x", "max_members": 2001}, 400, "invalid_field"},
			{"blank name", owner, "POST", "/api/groups", map[string]any{"name": "  "}, 400, "invalid_field"},
			{"malformed group id", owner, "GET", "/api/groups/abc", nil, 404, "group_not_found"},
		} {
			r := tc.c.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status || r.errorCode() != tc.code {
				t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
			}
		}
	})
	e.run(t, "group_full", func(t *testing.T) {
		owner.mustDo("POST", path+"/members", map[string]any{"username": "outsider"}, 201, nil)
		extra := e.signup("extra")
		r := owner.do("POST", path+"/members", map[string]any{"username": extra.User.Username})
		if r.Status != 409 || r.errorCode() != "group_full" {
			t.Fatalf("fifth member: %d %s", r.Status, r.Body)
		}
	})
	var detail struct {
		Group   store.Group
		Members []store.Member
	}
	member.mustDo("GET", path, nil, 200, &detail)
	if detail.Group.MemberCount != 4 || len(detail.Members) != 4 || detail.Members[0].Role != store.RoleOwner {
		t.Fatalf("detail = %+v", detail)
	}

	e.run(t, "removal stops delivery at once", func(t *testing.T) {
		outsider.drain()
		admin.mustDo("DELETE", fmt.Sprintf("%s/members/%d", path, outsider.User.ID), nil, 204, nil)
		owner.send(g.Group.ID, "group", "after removal")
		var left bool
		for _, ev := range outsider.poll(1).Events {
			if ev.Type == "message" {
				t.Fatalf("the removed member got %+v", ev.Message)
			}
			left = left || ev.Type == "group_left"
		}
		if !left {
			t.Fatal("no group_left event")
		}
		if r := outsider.do("POST", "/api/messages", map[string]any{"to": g.Group.ID, "type": "group", "body": "hi"}); r.Status != 403 {
			t.Fatalf("removed member sending: %d", r.Status)
		}
		if r := outsider.do("GET", "/api/conversations/"+g.Group.Conv+"/messages", nil); r.Status != 404 {
			t.Fatalf("removed member reading: %d", r.Status)
		}
	})
	e.run(t, "leave", func(t *testing.T) {
		member.mustDo("DELETE", fmt.Sprintf("%s/members/%d", path, member.User.ID), nil, 204, nil)
		if r := member.do("GET", path, nil); r.Status != 404 {
			t.Fatalf("after leaving: %d", r.Status)
		}
	})
	e.run(t, "transfer, then the last member leaving deletes the group", func(t *testing.T) {
		owner.mustDo("PATCH", fmt.Sprintf("%s/members/%d", path, admin.User.ID), map[string]any{"role": "owner"}, 200, nil)
		owner.mustDo("DELETE", fmt.Sprintf("%s/members/%d", path, owner.User.ID), nil, 204, nil)
		admin.mustDo("DELETE", fmt.Sprintf("%s/members/%d", path, admin.User.ID), nil, 204, nil)
		if r := admin.do("GET", path, nil); r.Status != 404 {
			t.Fatalf("deleted group: %d", r.Status)
		}
		if r := admin.do("POST", "/api/messages", map[string]any{"to": g.Group.ID, "type": "group", "body": "x"}); r.Status != 403 {
			t.Fatalf("sending to a deleted group: %d", r.Status)
		}
	})
}

func TestNewMemberReadsEarlierGroupHistory(t *testing.T) {
	e := newEnv(t, envOpts{})
	owner, late := e.signup("owner"), e.signup("late")
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "g"}, 201, &g)
	owner.send(g.Group.ID, "group", "before you came")
	owner.join(int64(g.Group.ID), late)
	var h struct{ Messages []store.Message }
	late.mustDo("GET", "/api/conversations/"+g.Group.Conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("history = %+v", h)
	}
	late.drain()
	owner.send(g.Group.ID, "group", "welcome")
	if got := late.messages(1, 5*time.Second); got[0].Body != "welcome" {
		t.Fatalf("got %+v", got)
	}
}
