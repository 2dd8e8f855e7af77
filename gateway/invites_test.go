package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"webchat/gateway"
	"webchat/store"
)

// Adding someone who is not a friend of the one adding makes an invitation:
// 202 {invite}, a group_invite event, listed in /api/me; they are no member
// (no history, no sends) until they accept; a decline tells the one who
// invited; nobody else can answer it.
func TestGroupInvites(t *testing.T) {
	e := newEnv(t, envOpts{})
	owner, stranger, other := e.signup("owner"), e.signup("stranger"), e.signup("other")
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "club"}, 201, &g)
	gid := g.Group.ID
	owner.send(gid, "group", "before the invitation")
	stranger.drain()
	owner.drain()

	var iv struct{ Invite store.GroupInvite }
	owner.mustDo("POST", fmt.Sprintf("/api/groups/%d/members", gid), map[string]any{"username": "stranger"}, 202, &iv)
	if iv.Invite.ID == 0 || iv.Invite.To.ID != stranger.User.ID || iv.Invite.From.ID != owner.User.ID || iv.Invite.Group.ID != gid {
		t.Fatalf("invite = %+v", iv.Invite)
	}
	// Asking again answers the same invitation, with no second event.
	var again struct{ Invite store.GroupInvite }
	owner.mustDo("POST", fmt.Sprintf("/api/groups/%d/members", gid), map[string]any{"username": "stranger"}, 202, &again)
	if again.Invite.ID != iv.Invite.ID {
		t.Fatalf("a second invitation %d, want %d", again.Invite.ID, iv.Invite.ID)
	}
	a := stranger.poll(2)
	if len(a.Events) != 1 || a.Events[0].Type != "group_invite" || a.Events[0].Invite == nil || a.Events[0].Invite.ID != iv.Invite.ID {
		t.Fatalf("the stranger's events: %+v", a.Events)
	}
	var me struct {
		GroupInvites []store.GroupInvite `json:"group_invites"`
	}
	stranger.mustDo("GET", "/api/me", nil, 200, &me)
	if len(me.GroupInvites) != 1 || me.GroupInvites[0].ID != iv.Invite.ID {
		t.Fatalf("/api/me group_invites = %+v", me.GroupInvites)
	}
	if r := stranger.do("GET", "/api/conversations/"+g.Group.Conv+"/messages", nil); r.Status != 404 {
		t.Fatalf("an invitee reads the history: %d", r.Status)
	}
	if r := stranger.do("POST", "/api/messages", map[string]any{"to": gid, "type": "group", "body": "hi"}); r.errorCode() != "not_member" {
		t.Fatalf("an invitee sends: %d %s", r.Status, r.Body)
	}
	accept := fmt.Sprintf("/api/group-invites/%d/accept", iv.Invite.ID)
	if r := other.do("POST", accept, nil); r.Status != 404 || r.errorCode() != "invite_not_found" {
		t.Fatalf("someone else accepts: %d %s", r.Status, r.Body)
	}

	var joined struct {
		Group  store.Group
		Member store.Member
	}
	stranger.mustDo("POST", accept, nil, 200, &joined)
	if joined.Group.ID != gid || joined.Group.MemberCount != 2 || joined.Member.ID != stranger.User.ID || joined.Member.Role != store.RoleMember {
		t.Fatalf("accepted: %+v", joined)
	}
	var h struct{ Messages []store.Message }
	stranger.mustDo("GET", "/api/conversations/"+g.Group.Conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("the new member's history: %+v", h)
	}
	stranger.send(gid, "group", "thanks for having me")
	if r := stranger.do("POST", accept, nil); r.Status != 404 {
		t.Fatalf("accepting twice: %d %s", r.Status, r.Body)
	}
	// The owner hears the count once the news window ends.
	got := owner.eventsUntil(t, 5*time.Second, func(ev event) bool { return ev.Type == "group_updated" })
	if last := got[len(got)-1]; last.Group.MemberCount != 2 {
		t.Fatalf("group_updated %+v", last.Group)
	}

	// A declined invitation goes, and the one who invited hears of it.
	owner.drain()
	var iv2 struct{ Invite store.GroupInvite }
	owner.mustDo("POST", fmt.Sprintf("/api/groups/%d/members", gid), map[string]any{"username": "other"}, 202, &iv2)
	other.mustDo("POST", fmt.Sprintf("/api/group-invites/%d/decline", iv2.Invite.ID), nil, 204, nil)
	got = owner.eventsUntil(t, 5*time.Second, func(ev event) bool { return ev.Type == "group_invite_declined" })
	if ev := got[len(got)-1]; ev.Invite == nil || ev.Invite.ID != iv2.Invite.ID {
		t.Fatalf("declined event %+v", ev)
	}
	if r := other.do("POST", fmt.Sprintf("/api/group-invites/%d/accept", iv2.Invite.ID), nil); r.Status != 404 {
		t.Fatalf("accepting a declined invitation: %d", r.Status)
	}
}

// Twenty friends added one after another: the members already in the group
// get a couple of group_updated events with the final count, not one per
// add (which, for a group built member by member, is members² events).
func TestMemberCountNewsIsBatched(t *testing.T) {
	e := newEnv(t, envOpts{})
	owner, first := e.signup("owner"), e.signup("first")
	befriend(owner, first)
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "big"}, 201, &g)
	gid := int64(g.Group.ID)
	owner.join(gid, first)
	time.Sleep(1500 * time.Millisecond) // let the first add's window pass: the batching is what is under test
	var friends []*client
	for i := range 20 {
		f := e.signup(fmt.Sprint("friend", i))
		befriend(owner, f)
		friends = append(friends, f)
	}
	first.drain()
	start := time.Now()
	for _, f := range friends {
		owner.join(gid, f)
	}
	// One event per window the adds spanned, and one more at most.
	most := int(time.Since(start)/time.Second) + 2
	// Everything that arrives in the two windows after the last add.
	n, count := 0, 0
	for end := time.Now().Add(2*time.Second + 500*time.Millisecond); time.Now().Before(end); {
		for _, ev := range first.poll(1).Events {
			if ev.Type == "group_updated" {
				n++
				count = ev.Group.MemberCount
			}
		}
	}
	if n == 0 || n > most || n >= 20 || count != 22 {
		t.Fatalf("%d group_updated events for 20 adds, the last with %d members; want at most %d, the last with 22", n, count, most)
	}
}

// A group message is weighed by what it costs Redis, its size times its
// recipients: one that takes the sender past the fan-out burst makes their
// next group sends wait (429), while direct messages go on.
func TestGroupSendsAreLimitedByFanout(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{RateFanout: 1000, RateFanoutBurst: 8000}})
	owner := e.signup("owner")
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "big"}, 201, &g)
	var friend *client
	for i := range 4 {
		f := e.signup(fmt.Sprint("member", i))
		befriend(owner, f)
		owner.join(int64(g.Group.ID), f)
		friend = f
	}
	long := strings.Repeat("x", 2000) // about 2.1 KB an event, to 5 users: 10.5 KB, past the 8 KB burst
	owner.mustDo("POST", "/api/messages", map[string]any{"to": g.Group.ID, "type": "group", "body": long}, 201, nil)
	r := owner.do("POST", "/api/messages", map[string]any{"to": g.Group.ID, "type": "group", "body": "and one more"})
	if r.Status != 429 || r.errorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the next group send: %d %s", r.Status, r.Body)
	}
	owner.mustDo("POST", "/api/messages", map[string]any{"to": friend.User.ID, "type": "single", "body": "direct is fine"}, 201, nil)
}

// An invitation can be withdrawn by whoever made it (or an owner or admin),
// and goes with its group; either way the invitee hears of it and can no
// longer accept it. Someone else cannot withdraw it.
func TestInvitationsCanBeWithdrawn(t *testing.T) {
	e := newEnv(t, envOpts{})
	owner, u, v, stranger := e.signup("owner"), e.signup("uuu"), e.signup("vvv"), e.signup("stranger")
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "club"}, 201, &g)
	invite := func(who string) int64 {
		var iv struct{ Invite store.GroupInvite }
		owner.mustDo("POST", fmt.Sprintf("/api/groups/%d/members", g.Group.ID), map[string]any{"username": who}, 202, &iv)
		return iv.Invite.ID
	}
	iu, iv := invite("uuu"), invite("vvv")
	u.drain()
	v.drain()
	if r := stranger.do("DELETE", fmt.Sprintf("/api/group-invites/%d", iu), nil); r.Status != 404 {
		t.Fatalf("a stranger withdraws: %d %s", r.Status, r.Body)
	}
	owner.mustDo("DELETE", fmt.Sprintf("/api/group-invites/%d", iu), nil, 204, nil)
	got := u.eventsUntil(t, 5*time.Second, func(ev event) bool { return ev.Type == "group_invite_cancelled" })
	if ev := got[len(got)-1]; ev.Invite == nil || ev.Invite.ID != iu {
		t.Fatalf("u's event %+v", ev)
	}
	if r := u.do("POST", fmt.Sprintf("/api/group-invites/%d/accept", iu), nil); r.Status != 404 {
		t.Fatalf("accepting a withdrawn invitation: %d", r.Status)
	}
	// The owner, alone in it, leaves: the group and v's invitation go.
	owner.mustDo("DELETE", fmt.Sprintf("/api/groups/%d/members/%d", g.Group.ID, owner.User.ID), nil, 204, nil)
	got = v.eventsUntil(t, 5*time.Second, func(ev event) bool { return ev.Type == "group_invite_cancelled" })
	if ev := got[len(got)-1]; ev.Invite == nil || ev.Invite.ID != iv {
		t.Fatalf("v's event %+v", ev)
	}
}

// A group send reserves its worst case before it is stored and gives back
// what it did not use, so small messages go one after another; what it
// costs is counted per device copy, not per user.
func TestFanoutIsReservedThenSettledByCopies(t *testing.T) {
	setup := func(t *testing.T, devicesEach int) (*client, int64) {
		e := newEnv(t, envOpts{gateway: gateway.Options{RateFanout: 1000, RateFanoutBurst: 8000}})
		owner := e.signup("owner")
		var g struct{ Group store.Group }
		owner.mustDo("POST", "/api/groups", map[string]any{"name": "g"}, 201, &g)
		for i := range 2 {
			m := e.signup(fmt.Sprint("member", i))
			befriend(owner, m)
			owner.join(int64(g.Group.ID), m)
			for range devicesEach - 1 {
				m.login()
			}
		}
		return owner, int64(g.Group.ID)
	}
	t.Run("small messages one after another", func(t *testing.T) {
		owner, gid := setup(t, 1)
		// Each reserves about 1 KB and uses a third of it: twelve would not
		// fit the 8 KB burst if the rest were not given back.
		for i := range 12 {
			owner.mustDo("POST", "/api/messages", map[string]any{"to": gid, "type": "group", "body": fmt.Sprint("hi ", i)}, 201, nil)
		}
	})
	body := strings.Repeat("y", 1000) // about 1.1 KB an event
	t.Run("three users, one device each: 3.3 KB, within the burst", func(t *testing.T) {
		owner, gid := setup(t, 1)
		owner.mustDo("POST", "/api/messages", map[string]any{"to": gid, "type": "group", "body": body}, 201, nil)
		owner.mustDo("POST", "/api/messages", map[string]any{"to": gid, "type": "group", "body": "next"}, 201, nil)
	})
	t.Run("the same users with four devices each: 12 KB copies, past it", func(t *testing.T) {
		owner, gid := setup(t, 4)
		owner.mustDo("POST", "/api/messages", map[string]any{"to": gid, "type": "group", "body": body}, 201, nil)
		if r := owner.do("POST", "/api/messages", map[string]any{"to": gid, "type": "group", "body": "next"}); r.Status != 429 {
			t.Fatalf("the next group send: %d %s", r.Status, r.Body)
		}
	})
}
