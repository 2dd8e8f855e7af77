package gateway

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"webchat/store"
)

type createGroupRequest struct {
	Name       *string `json:"name"`
	Brief      *string `json:"brief"`
	MaxMembers *int64  `json:"max_members"`
}

type groupResponse struct {
	Group store.Group `json:"group"`
}

type groupDetail struct {
	Group   store.Group    `json:"group"`
	Members []store.Member `json:"members"`
}

type memberResponse struct {
	Member store.Member `json:"member"`
}

type setRoleRequest struct {
	Role *string `json:"role"`
}

// maxGroupMembers is the most members a group may allow (max_members).
const maxGroupMembers = 2000

func (s *Server) handleCreateGroup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		var req createGroupRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("name", req.Name); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := validName("name", *req.Name, 64); err != nil {
			s.writeError(w, r, err)
			return
		}
		brief := ""
		if req.Brief != nil {
			brief = *req.Brief
		}
		if f := scanText(brief, true); utf8.RuneCountInString(brief) > 500 || f.control || f.override {
			s.writeError(w, r, badRequest("invalid_field", "About must be at most 500 characters of text"))
			return
		}
		maxMembers := int64(200)
		if req.MaxMembers != nil {
			maxMembers = *req.MaxMembers
		}
		if maxMembers < 2 || maxMembers > maxGroupMembers {
			s.writeError(w, r, badRequest("invalid_field", "Max members must be from 2 to 2000"))
			return
		}
		g, err := s.rights.CreateGroup(r.Context(), me.actor(), strings.TrimSpace(*req.Name), brief, int(maxMembers))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, groupResponse{g})
	})
}

// groupID parses the route's group id; a malformed one is a group that
// does not exist.
func groupID(r *http.Request) (store.GroupID, bool) {
	id, ok := pathID(r, "id")
	return store.GroupID(id), ok
}

func (s *Server) handleGetGroup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		gid, ok := groupID(r)
		if !ok {
			s.writeError(w, r, store.ErrGroupNotFound)
			return
		}
		g, _, err := s.graph.GroupForMember(r.Context(), gid, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		members, err := s.graph.GroupMembers(r.Context(), gid)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, groupDetail{g, members})
	})
}

func (s *Server) handleSetRole() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		gid, ok := groupID(r)
		uid, ok2 := pathID(r, "user_id")
		if !ok || !ok2 {
			s.writeError(w, r, store.ErrGroupNotFound)
			return
		}
		var req setRoleRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("role", req.Role); err != nil {
			s.writeError(w, r, err)
			return
		}
		role := store.Role(*req.Role)
		if role != store.RoleAdmin && role != store.RoleMember && role != store.RoleOwner {
			s.writeError(w, r, badRequest("invalid_field", "Role must be admin or member, or owner to hand the group over"))
			return
		}
		m, err := s.rights.SetRole(r.Context(), me.actor(), gid, store.UserID(uid), role)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, memberResponse{m})
	})
}

func (s *Server) handleRemoveMember() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		gid, ok := groupID(r)
		uid, ok2 := pathID(r, "user_id")
		if !ok || !ok2 {
			s.writeError(w, r, store.ErrGroupNotFound)
			return
		}
		if err := s.rights.RemoveMember(r.Context(), me.actor(), gid, store.UserID(uid)); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
