package sqlgraph_test

import (
	"testing"

	"webchat/store/sqlgraph"

	"webchat/store"
)

// A friend is added at once; anyone else is invited, once, and is a member
// only after accepting; a declined or foreign invitation cannot be
// answered; a full group takes no invitations and an accept into it waits.
func TestAddOrInvite(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		ctx := t.Context()
		owner, friend, stranger, other := mkUser(t, g, "owner"), mkUser(t, g, "friend"), mkUser(t, g, "stranger"), mkUser(t, g, "other")
		befriend(t, g, owner, friend)
		grp, err := g.CreateGroup(ctx, owner.ID, "g", "", 3)
		checkErr(t, "create group", err, nil)

		res, err := g.AddOrInvite(ctx, owner.ID, grp.ID, "friend")
		checkErr(t, "add a friend", err, nil)
		if res.Member == nil || res.Invite != nil || res.Member.ID != friend.ID || res.Group.MemberCount != 2 {
			t.Fatalf("adding a friend: %+v", res)
		}
		res, err = g.AddOrInvite(ctx, owner.ID, grp.ID, "Stranger")
		checkErr(t, "invite a stranger", err, nil)
		if res.Member != nil || res.Invite == nil || !res.Created || res.Invite.To.ID != stranger.ID || res.Invite.From.ID != owner.ID || res.Invite.Group.ID != grp.ID {
			t.Fatalf("inviting a stranger: %+v", res)
		}
		again, err := g.AddOrInvite(ctx, owner.ID, grp.ID, "stranger")
		checkErr(t, "invite again", err, nil)
		if again.Created || again.Invite == nil || again.Invite.ID != res.Invite.ID {
			t.Fatalf("inviting again: %+v", again)
		}
		ids, err := g.MemberIDs(ctx, grp.ID)
		checkErr(t, "member ids", err, nil)
		if len(ids) != 2 {
			t.Fatalf("members before the accept: %v", ids)
		}
		invites, err := g.GroupInvites(ctx, stranger.ID)
		checkErr(t, "invites", err, nil)
		if len(invites) != 1 || invites[0].ID != res.Invite.ID {
			t.Fatalf("the stranger's invitations: %+v", invites)
		}
		_, _, _, err = g.AcceptInvite(ctx, other.ID, res.Invite.ID)
		checkErr(t, "someone else accepts", err, store.ErrInviteNotFound)

		// Another invitation, declined.
		res2, err := g.AddOrInvite(ctx, owner.ID, grp.ID, "other")
		checkErr(t, "invite other", err, nil)
		declined, err := g.DeclineInvite(ctx, other.ID, res2.Invite.ID)
		checkErr(t, "decline", err, nil)
		if declined.ID != res2.Invite.ID || declined.From.ID != owner.ID {
			t.Fatalf("declined %+v", declined)
		}
		_, _, _, err = g.AcceptInvite(ctx, other.ID, res2.Invite.ID)
		checkErr(t, "accept a declined invitation", err, store.ErrInviteNotFound)

		m, after, iv, err := g.AcceptInvite(ctx, stranger.ID, res.Invite.ID)
		checkErr(t, "accept", err, nil)
		if m.ID != stranger.ID || m.Role != store.RoleMember || after.MemberCount != 3 || iv.ID != res.Invite.ID {
			t.Fatalf("accepted: %+v %+v %+v", m, after, iv)
		}
		if invites, _ := g.GroupInvites(ctx, stranger.ID); len(invites) != 0 {
			t.Fatalf("invitations left after the accept: %+v", invites)
		}
		// Full now (3 of 3): no invitation, and an earlier one cannot get in.
		_, err = g.AddOrInvite(ctx, owner.ID, grp.ID, "other")
		checkErr(t, "invite into a full group", err, store.ErrGroupFull)
		_, err = g.AddOrInvite(ctx, friend.ID, grp.ID, "other")
		checkErr(t, "a plain member invites", err, store.ErrNotAllowed)
	})
}

// An invitation accepted into a group that filled up meanwhile is kept for
// later.
func TestAcceptIntoAFullGroupKeepsTheInvitation(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		ctx := t.Context()
		owner, a, b := mkUser(t, g, "owner"), mkUser(t, g, "aaa"), mkUser(t, g, "bbb")
		grp, err := g.CreateGroup(ctx, owner.ID, "g", "", 2)
		checkErr(t, "create group", err, nil)
		ra, err := g.AddOrInvite(ctx, owner.ID, grp.ID, "aaa")
		checkErr(t, "invite a", err, nil)
		rb, err := g.AddOrInvite(ctx, owner.ID, grp.ID, "bbb")
		checkErr(t, "invite b", err, nil)
		_, _, _, err = g.AcceptInvite(ctx, a.ID, ra.Invite.ID)
		checkErr(t, "a accepts", err, nil)
		_, _, _, err = g.AcceptInvite(ctx, b.ID, rb.Invite.ID)
		checkErr(t, "b accepts into a full group", err, store.ErrGroupFull)
		if invites, _ := g.GroupInvites(ctx, b.ID); len(invites) != 1 {
			t.Fatalf("b's invitation after the refused accept: %+v", invites)
		}
	})
}

// An invitation lives only while it means something: a member added
// another way has none left (else, once removed, they could accept their
// way back in); an admin who is demoted takes their invitations' authority
// along; the one who invited, or an owner, withdraws it; a deleted group
// says which invitations went with it.
func TestInvitationsDieWithTheirAuthority(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		ctx := t.Context()
		owner, admin, u, v, w := mkUser(t, g, "owner"), mkUser(t, g, "admin"), mkUser(t, g, "uuu"), mkUser(t, g, "vvv"), mkUser(t, g, "www")
		befriend(t, g, owner, admin)
		befriend(t, g, owner, u)
		grp, err := g.CreateGroup(ctx, owner.ID, "g", "", 10)
		checkErr(t, "create group", err, nil)
		_, err = g.AddOrInvite(ctx, owner.ID, grp.ID, "admin")
		checkErr(t, "add admin", err, nil)
		_, _, err = g.SetRole(ctx, owner.ID, grp.ID, admin.ID, store.RoleAdmin)
		checkErr(t, "make admin", err, nil)

		// u: invited by the admin, then added by the owner, then removed.
		iu, err := g.AddOrInvite(ctx, admin.ID, grp.ID, "uuu")
		checkErr(t, "admin invites u", err, nil)
		_, err = g.AddOrInvite(ctx, owner.ID, grp.ID, "uuu")
		checkErr(t, "owner adds u", err, nil)
		_, err = g.RemoveMember(ctx, owner.ID, grp.ID, u.ID)
		checkErr(t, "owner removes u", err, nil)
		_, _, _, err = g.AcceptInvite(ctx, u.ID, iu.Invite.ID)
		checkErr(t, "u accepts the old invitation after the removal", err, store.ErrInviteNotFound)

		// v: invited by the admin, who is then demoted.
		iv, err := g.AddOrInvite(ctx, admin.ID, grp.ID, "vvv")
		checkErr(t, "admin invites v", err, nil)
		_, _, err = g.SetRole(ctx, owner.ID, grp.ID, admin.ID, store.RoleMember)
		checkErr(t, "demote the admin", err, nil)
		if got, _ := g.GroupInvites(ctx, v.ID); len(got) != 0 {
			t.Fatalf("v still sees the demoted admin's invitation: %+v", got)
		}
		_, _, _, err = g.AcceptInvite(ctx, v.ID, iv.Invite.ID)
		checkErr(t, "v accepts the demoted admin's invitation", err, store.ErrInviteNotFound)
		again, err := g.AddOrInvite(ctx, owner.ID, grp.ID, "vvv")
		checkErr(t, "the owner invites v again", err, nil)
		if !again.Created || again.Invite.From.ID != owner.ID {
			t.Fatalf("the renewed invitation: %+v", again)
		}
		got, _ := g.GroupInvites(ctx, v.ID)
		if len(got) != 1 || got[0].From.ID != owner.ID {
			t.Fatalf("v's invitations after the renewal: %+v", got)
		}

		// w: invited, withdrawn by someone else (refused), then by the owner.
		iw, err := g.AddOrInvite(ctx, owner.ID, grp.ID, "www")
		checkErr(t, "invite w", err, nil)
		_, err = g.CancelInvite(ctx, admin.ID, iw.Invite.ID) // a plain member now
		checkErr(t, "a plain member withdraws", err, store.ErrInviteNotFound)
		cancelled, err := g.CancelInvite(ctx, owner.ID, iw.Invite.ID)
		checkErr(t, "the owner withdraws", err, nil)
		if cancelled.To.ID != w.ID {
			t.Fatalf("withdrew %+v", cancelled)
		}
		if got, _ := g.GroupInvites(ctx, w.ID); len(got) != 0 {
			t.Fatalf("w's invitations after the withdrawal: %+v", got)
		}

		// The group goes: v's invitation with it, and the result says so.
		_, err = g.RemoveMember(ctx, owner.ID, grp.ID, admin.ID)
		checkErr(t, "remove the former admin", err, nil)
		res, err := g.RemoveMember(ctx, owner.ID, grp.ID, owner.ID)
		checkErr(t, "the last member leaves", err, nil)
		if !res.Deleted || len(res.Cancelled) != 1 || res.Cancelled[0].To.ID != v.ID {
			t.Fatalf("deleting the group: %+v", res)
		}
	})
}
