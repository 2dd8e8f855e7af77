package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"webchat/store"
	"webchat/store/plane"
)

// usernameRequest is the body of a friend request and of adding a member.
type usernameRequest struct {
	Username *string `json:"username"`
}

// readUsername decodes {"username"} and lower-cases it, without one
// leading "@" (people write "@alice"); a name that cannot exist is an
// unknown user.
func readUsername(w http.ResponseWriter, r *http.Request) (string, error) {
	var req usernameRequest
	if err := decode(w, r, &req); err != nil {
		return "", err
	}
	if err := missing("username", req.Username); err != nil {
		return "", err
	}
	username := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(*req.Username), "@"))
	if !validUsername(username) {
		return "", store.ErrUserNotFound
	}
	return username, nil
}

type requestResponse struct {
	Request store.FriendRequest `json:"request"`
}

type friendResponse struct {
	Friend store.User `json:"friend"`
}

// pathID parses a positive id from the route; anything else is 404, as an
// id that does not exist.
func pathID(r *http.Request, name string) (int64, bool) {
	v := mux.Vars(r)[name]
	if v == "" || v[0] == '0' || len(v) > 19 {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}

func (s *Server) handleFriendRequest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		username, err := readUsername(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.allow(r, plane.AddRateKey(me.user), s.addLimit); err != nil {
			s.writeError(w, r, err)
			return
		}
		res, err := s.rights.RequestFriend(r.Context(), me.actor(), username)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		switch {
		case res.Friend != nil: // they had asked us: friends at once
			writeJSON(w, http.StatusOK, friendResponse{*res.Friend})
		case res.Created:
			writeJSON(w, http.StatusCreated, requestResponse{res.Request})
		default:
			writeJSON(w, http.StatusOK, requestResponse{res.Request})
		}
	})
}

func (s *Server) handleAnswerRequest(accept bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		id, ok := pathID(r, "id")
		if !ok {
			s.writeError(w, r, store.ErrRequestNotFound)
			return
		}
		if !accept {
			if _, err := s.rights.DeclineRequest(r.Context(), me.actor(), id); err != nil {
				s.writeError(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		req, err := s.rights.AcceptRequest(r.Context(), me.actor(), id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, friendResponse{req.From})
	})
}

func (s *Server) handleUnfriend() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		id, ok := pathID(r, "user_id")
		if !ok || store.UserID(id) == me.user {
			s.writeError(w, r, store.ErrUserNotFound)
			return
		}
		if err := s.rights.Unfriend(r.Context(), me.actor(), store.UserID(id)); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
