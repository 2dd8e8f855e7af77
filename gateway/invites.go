package gateway

import (
	"context"
	"net/http"
	"time"

	"webchat/store"
	"webchat/store/plane"
)

type inviteResponse struct {
	Invite store.GroupInvite `json:"invite"`
}

type joinedResponse struct {
	Group  store.Group  `json:"group"`
	Member store.Member `json:"member"`
}

// handleAddMember adds a friend of the one adding at once (201 {member});
// anyone else gets an invitation (202 {invite}, a group_invite event) and
// joins only when they accept it: nobody can fill a stranger's devices
// with a group they never chose.
func (s *Server) handleAddMember() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		gid, ok := groupID(r)
		if !ok {
			s.writeError(w, r, store.ErrGroupNotFound)
			return
		}
		username, err := readUsername(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.allow(r, plane.AddRateKey(me.user), s.addLimit); err != nil {
			s.writeError(w, r, err)
			return
		}
		res, err := s.graph.AddOrInvite(r.Context(), me.user, gid, username)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if res.Invite != nil {
			if res.Created {
				s.publish(r, "group_invite", "invite", res.Invite, res.Invite.To.ID)
			}
			writeJSON(w, http.StatusAccepted, inviteResponse{*res.Invite})
			return
		}
		s.joined(r, res.Group, *res.Member)
		writeJSON(w, http.StatusCreated, memberResponse{*res.Member})
	})
}

// joined writes a new member through to Redis and tells them, and the
// others (batched, groupNews), of the change.
func (s *Server) joined(r *http.Request, g store.Group, m store.Member) {
	s.grantWarn(r, "membership", s.plane.GrantMember(r.Context(), g.ID, m.ID))
	s.publish(r, "group_joined", "group", g, m.ID)
	s.groupNews(r, g.ID)
}

func (s *Server) handleAnswerInvite(accept bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		id, ok := pathID(r, "id")
		if !ok {
			s.writeError(w, r, store.ErrInviteNotFound)
			return
		}
		if !accept {
			iv, err := s.graph.DeclineInvite(r.Context(), me.user, id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			// The one who invited stops waiting; the invitee's other devices
			// drop an invitation they can no longer answer.
			s.publish(r, "group_invite_declined", "invite", iv, iv.From.ID, me.user)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		m, g, _, err := s.graph.AcceptInvite(r.Context(), me.user, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.joined(r, g, m)
		writeJSON(w, http.StatusOK, joinedResponse{g, m})
	})
}

// handleCancelInvite withdraws an invitation, on behalf of whoever made it
// or an owner or admin of its group; the invitee's devices are told.
func (s *Server) handleCancelInvite() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		id, ok := pathID(r, "id")
		if !ok {
			s.writeError(w, r, store.ErrInviteNotFound)
			return
		}
		iv, err := s.graph.CancelInvite(r.Context(), me.user, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.publish(r, "group_invite_cancelled", "invite", iv, iv.To.ID)
		w.WriteHeader(http.StatusNoContent)
	})
}

// cancelled tells the invitees of a deleted group that their invitations
// went with it.
func (s *Server) cancelled(r *http.Request, invites []store.GroupInvite) {
	for _, iv := range invites {
		s.publish(r, "group_invite_cancelled", "invite", iv, iv.To.ID)
	}
}

// groupNewsWindow is how long member-count news of one group is gathered
// before one group_updated goes to its members.
const groupNewsWindow = time.Second

// groupNewsBound bounds one window's fan-out (its SQL reads and delivery),
// so that a dependency that hangs cannot hold a node's shutdown.
const groupNewsBound = 10 * time.Second

// groupNews tells the members of g, once per groupNewsWindow whatever the
// number of joins and leaves in it, of the group's state (its member
// count): one event per member per change would be members² events to
// build a group. The first change in a window claims it in Redis, so one
// node, whichever, sends it, reading the group and its members when the
// window ends. A node that stops inside its window leaves that window's
// news to the next change; /api/me has the count either way.
func (s *Server) groupNews(r *http.Request, g store.GroupID) {
	ctx := context.WithoutCancel(r.Context())
	claimed, err := s.plane.ClaimGroupNews(ctx, g, groupNewsWindow)
	if err != nil {
		s.log.Warn("claim group news", "group", g, "request_id", requestID(ctx), "err", err)
		return
	}
	if !claimed {
		return // this window's news is another request's, on some node
	}
	s.newsWG.Add(1)
	time.AfterFunc(groupNewsWindow, func() {
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
		s.publishTo(ctx, 0, "", "group_updated", "group", grp, ids...)
	})
}
