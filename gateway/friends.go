package gateway

import (
	"context"
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
		res, err := s.graph.RequestFriend(r.Context(), me.user, username)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		switch {
		case res.Friend != nil:
			// They had asked us: friends at once.
			s.befriend(r, res.Request)
			writeJSON(w, http.StatusOK, friendResponse{*res.Friend})
		case res.Created:
			s.publish(r, "friend_request", "request", res.Request, res.Request.To.ID, me.user)
			writeJSON(w, http.StatusCreated, requestResponse{res.Request})
		default:
			writeJSON(w, http.StatusOK, requestResponse{res.Request})
		}
	})
}

// befriend writes an accepted request's friendship through to Redis and
// tells both people.
func (s *Server) befriend(r *http.Request, req store.FriendRequest) {
	s.grantWarn(r, "friendship", s.plane.GrantPair(r.Context(), req.From.ID, req.To.ID))
	s.publish(r, "friend_added", "friend", req.To, req.From.ID)
	s.publish(r, "friend_added", "friend", req.From, req.To.ID)
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
			req, err := s.graph.DeclineRequest(r.Context(), me.user, id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			// The asker stops waiting, and the decliner's other devices
			// drop a request they can no longer answer.
			s.publish(r, "friend_request_declined", "request", req, req.From.ID, me.user)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		req, err := s.graph.AcceptRequest(r.Context(), me.user, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.befriend(r, req)
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
		other := store.UserID(id)
		removed := false
		err := s.plane.Revoke(r.Context(), store.DirectConv(me.user, other), me.user, func(ctx context.Context) (bool, error) {
			var err error
			removed, err = s.graph.Unfriend(ctx, me.user, other)
			return false, err
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if removed {
			if them, err := s.graph.UserByID(r.Context(), other); err == nil {
				s.publish(r, "friend_removed", "friend", them, me.user)
			}
			if mine, err := s.graph.UserByID(r.Context(), me.user); err == nil {
				s.publish(r, "friend_removed", "friend", mine, other)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
