package gateway

import (
	"net/http"

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
		res, err := s.rights.AddOrInvite(r.Context(), me.actor(), gid, username)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if res.Invite != nil {
			writeJSON(w, http.StatusAccepted, inviteResponse{*res.Invite})
			return
		}
		writeJSON(w, http.StatusCreated, memberResponse{*res.Member})
	})
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
			if _, err := s.rights.DeclineInvite(r.Context(), me.actor(), id); err != nil {
				s.writeError(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		g, m, err := s.rights.AcceptInvite(r.Context(), me.actor(), id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
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
		if _, err := s.rights.CancelInvite(r.Context(), me.actor(), id); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
