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
