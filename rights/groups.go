package rights

import (
	"context"
	"time"

	"webchat/store"
	"webchat/store/sqlgraph"
)

// CreateGroup creates a group owned by a, writes its one member through
// to Redis and tells a's devices (group_joined).
func (s *Service) CreateGroup(ctx context.Context, a Actor, name, brief string, maxMembers int) (store.Group, error) {
	g, err := s.graph.CreateGroup(ctx, a.User, name, brief, maxMembers)
	if err != nil {
		return g, err
	}
	s.grantWarn(ctx, "new group", s.plane.InitGroup(ctx, g.ID, a.User))
	s.publish(ctx, a, "group_joined", "group", g, a.User)
	return g, nil
}

// AddOrInvite adds a friend of a to group gid at once, or invites anyone
// else (group_invite to them when the invitation is new): nobody can fill
// a stranger's devices with a group they never chose.
func (s *Service) AddOrInvite(ctx context.Context, a Actor, gid store.GroupID, username string) (sqlgraph.AddResult, error) {
	res, err := s.graph.AddOrInvite(ctx, a.User, gid, username)
	if err != nil {
		return res, err
	}
	if res.Invite != nil {
		if res.Created {
			s.publish(ctx, a, "group_invite", "invite", res.Invite, res.Invite.To.ID)
		}
		return res, nil
	}
	s.joined(ctx, a, res.Group, *res.Member)
	return res, nil
}

// joined writes a new member through to Redis and tells them, and the
// others (batched, groupNews), of the change.
func (s *Service) joined(ctx context.Context, a Actor, g store.Group, m store.Member) {
	s.grantWarn(ctx, "membership", s.plane.GrantMember(ctx, g.ID, m.ID))
	s.publish(ctx, a, "group_joined", "group", g, m.ID)
	s.groupNews(ctx, g.ID)
}

// AcceptInvite makes a a member of the group invitation id is for.
func (s *Service) AcceptInvite(ctx context.Context, a Actor, id int64) (store.Group, store.Member, error) {
	m, g, _, err := s.graph.AcceptInvite(ctx, a.User, id)
	if err != nil {
		return g, m, err
	}
	s.joined(ctx, a, g, m)
	return g, m, nil
}

// DeclineInvite declines invitation id: the one who invited stops
// waiting; a's other devices drop an invitation they can no longer answer
// (group_invite_declined).
func (s *Service) DeclineInvite(ctx context.Context, a Actor, id int64) (store.GroupInvite, error) {
	iv, err := s.graph.DeclineInvite(ctx, a.User, id)
	if err != nil {
		return iv, err
	}
	s.publish(ctx, a, "group_invite_declined", "invite", iv, iv.From.ID, a.User)
	return iv, nil
}

// CancelInvite withdraws invitation id, on behalf of whoever made it or an
// owner or admin of its group; the invitee's devices are told
// (group_invite_cancelled).
func (s *Service) CancelInvite(ctx context.Context, a Actor, id int64) (store.GroupInvite, error) {
	iv, err := s.graph.CancelInvite(ctx, a.User, id)
	if err != nil {
		return iv, err
	}
	s.publish(ctx, a, "group_invite_cancelled", "invite", iv, iv.To.ID)
	return iv, nil
}

// SetRole gives target the role in group gid (an owner hands the group
// over by making someone else owner); every member hears of the group's
// new state (group_updated).
func (s *Service) SetRole(ctx context.Context, a Actor, gid store.GroupID, target store.UserID, role store.Role) (store.Member, error) {
	m, g, err := s.graph.SetRole(ctx, a.User, gid, target, role)
	if err != nil {
		return m, err
	}
	ctx = context.WithoutCancel(ctx) // committed: the news goes out whatever the caller does
	ids, err := s.graph.MemberIDs(ctx, g.ID)
	if err != nil {
		s.log.Warn("list members for group_updated", "group", g.ID, "request_id", s.requestID(ctx), "err", err)
		return m, nil
	}
	s.publish(ctx, a, "group_updated", "group", g, ids...)
	return m, nil
}

// RemoveMember takes target out of group gid: themselves, or by an owner
// or admin. From the moment it answers, target reads and writes nothing
// more there. Target hears of it (group_left); the last member's leaving
// deletes the group and its invitations (group_invite_cancelled to each
// invitee); the others hear of the new member count (batched, groupNews).
func (s *Service) RemoveMember(ctx context.Context, a Actor, gid store.GroupID, target store.UserID) error {
	// Check the actor's rights before touching Redis, so that a refused
	// removal does not invalidate the members key.
	_, role, err := s.graph.GroupForMember(ctx, gid, a.User)
	if err != nil {
		return err
	}
	if target != a.User && role == store.RoleMember {
		return store.ErrNotAllowed
	}
	var res sqlgraph.RemoveResult
	err = s.plane.Revoke(ctx, store.GroupConv(gid), target, func(ctx context.Context) (bool, error) {
		var err error
		res, err = s.graph.RemoveMember(ctx, a.User, gid, target)
		return res.Deleted, err
	})
	if err != nil {
		return err
	}
	s.publish(ctx, a, "group_left", "group", res.Group, target)
	// Who left reads no more: their marker leaves the group's read counts.
	if err := s.plane.ForgetReader(context.WithoutCancel(ctx), gid, target); err != nil {
		s.log.Warn("forget a former member's reads", "group", gid, "request_id", s.requestID(ctx), "err", err)
	}
	for _, iv := range res.Cancelled {
		s.publish(ctx, a, "group_invite_cancelled", "invite", iv, iv.To.ID)
	}
	if !res.Deleted {
		s.groupNews(ctx, gid)
	}
	return nil
}

// groupNews tells the members of g, once per GroupNewsWindow whatever the
// number of joins and leaves in it, of the group's state (its member
// count): one event per member per change would be members² events to
// build a group. The first change in a window claims it in Redis, so one
// node, whichever, sends it, reading the group and its members when the
// window ends. A node that stops inside its window leaves that window's
// news to the next change; /api/me has the count either way.
func (s *Service) groupNews(ctx context.Context, g store.GroupID) {
	ctx = context.WithoutCancel(ctx)
	claimed, err := s.plane.ClaimGroupNews(ctx, g, GroupNewsWindow)
	if err != nil {
		s.log.Warn("claim group news", "group", g, "request_id", s.requestID(ctx), "err", err)
		return
	}
	if !claimed {
		return // this window's news is another request's, on some node
	}
	s.newsWG.Add(1)
	time.AfterFunc(GroupNewsWindow, func() {
		defer s.newsWG.Done()
		ctx, cancel := context.WithTimeout(ctx, groupNewsBound)
		defer cancel()
		grp, err := s.graph.GroupByID(ctx, g)
		if err != nil {
			return // gone: group_left told everyone
		}
		ids, err := s.graph.MemberIDs(ctx, g)
		if err != nil {
			s.log.Warn("list members for group_updated", "group", g, "err", err)
			return
		}
		s.deliver(ctx, Actor{}, "group_updated", "group", grp, ids...) // within groupNewsBound
	})
}
