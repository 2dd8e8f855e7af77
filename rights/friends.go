package rights

import (
	"context"

	"webchat/store"
	"webchat/store/sqlgraph"
)

// RequestFriend asks the user named username to be a's friend: a new
// request is a friend_request to both (the asker's other devices list
// it); if they had asked a already, the two are friends at once
// (befriend).
func (s *Service) RequestFriend(ctx context.Context, a Actor, username string) (sqlgraph.FriendResult, error) {
	res, err := s.graph.RequestFriend(ctx, a.User, username)
	if err != nil {
		return res, err
	}
	switch {
	case res.Friend != nil:
		s.befriend(ctx, a, res.Request)
	case res.Created:
		s.publish(ctx, a, "friend_request", "request", res.Request, res.Request.To.ID, a.User)
	}
	return res, nil
}

// befriend writes an accepted request's friendship through to Redis and
// tells both people.
func (s *Service) befriend(ctx context.Context, a Actor, req store.FriendRequest) {
	s.grantWarn(ctx, "friendship", s.plane.GrantPair(ctx, req.From.ID, req.To.ID))
	s.publish(ctx, a, "friend_added", "friend", req.To, req.From.ID)
	s.publish(ctx, a, "friend_added", "friend", req.From, req.To.ID)
}

// AcceptRequest accepts the friend request id made to a: the two are
// friends, and both hear of it.
func (s *Service) AcceptRequest(ctx context.Context, a Actor, id int64) (store.FriendRequest, error) {
	req, err := s.graph.AcceptRequest(ctx, a.User, id)
	if err != nil {
		return req, err
	}
	s.befriend(ctx, a, req)
	return req, nil
}

// DeclineRequest declines the friend request id made to a: the asker
// stops waiting, and a's other devices drop a request they can no longer
// answer (friend_request_declined).
func (s *Service) DeclineRequest(ctx context.Context, a Actor, id int64) (store.FriendRequest, error) {
	req, err := s.graph.DeclineRequest(ctx, a.User, id)
	if err != nil {
		return req, err
	}
	s.publish(ctx, a, "friend_request_declined", "request", req, req.From.ID, a.User)
	return req, nil
}

// Unfriend ends the friendship of a and other: neither can write in their
// conversation from the moment it answers, and both hear of it
// (friend_removed). Ending one that does not exist is no error.
func (s *Service) Unfriend(ctx context.Context, a Actor, other store.UserID) error {
	if other == a.User {
		return store.ErrUserNotFound
	}
	removed := false
	err := s.plane.Revoke(ctx, store.DirectConv(a.User, other), a.User, func(ctx context.Context) (bool, error) {
		var err error
		removed, err = s.graph.Unfriend(ctx, a.User, other)
		return false, err
	})
	if err != nil || !removed {
		return err
	}
	ctx = context.WithoutCancel(ctx) // committed: the news goes out whatever the caller does
	if them, err := s.graph.UserByID(ctx, other); err == nil {
		s.publish(ctx, a, "friend_removed", "friend", them, a.User)
	}
	if mine, err := s.graph.UserByID(ctx, a.User); err == nil {
		s.publish(ctx, a, "friend_removed", "friend", mine, other)
	}
	return nil
}
