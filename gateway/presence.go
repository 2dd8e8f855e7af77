package gateway

import (
	"errors"
	"net/http"
	"time"

	"webchat/store"
	"webchat/store/plane"
)

type presenceRequest struct {
	Status *string `json:"status"`
}

// handleSetPresence is PUT /api/me/presence: the status the user's friends
// see (invisible shows as offline).
func (s *Server) handleSetPresence() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		var req presenceRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("status", req.Status); err != nil {
			s.writeError(w, r, err)
			return
		}
		if !store.ValidStatus(*req.Status) {
			s.writeError(w, r, badRequest("invalid_field", `Status must be "online", "away" or "invisible"`))
			return
		}
		if err := s.graph.SetStatus(r.Context(), me.user, *req.Status); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.plane.SetPresence(r.Context(), me.user, *req.Status, nil); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

type settingsRequest struct {
	Receipts *bool `json:"receipts"`
}

// handleSettings is PATCH /api/me: whether the user's reads send
// receipts. It answers 200 {user}, as the account's other settings will.
// SQL, the truth, first; then Redis.
func (s *Server) handleSettings() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := currentSession(ctx)
		var req settingsRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("receipts", req.Receipts); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.graph.SetReceipts(ctx, me.user, *req.Receipts); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.plane.SetPresence(ctx, me.user, "", req.Receipts); err != nil {
			s.writeError(w, r, err)
			return
		}
		user, err := s.graph.UserByID(ctx, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]store.User{"user": user})
	})
}

type typingRequest struct {
	Typing *bool `json:"typing"`
}

// handleTyping is POST /api/conversations/{conv}/typing: the other
// participants' polling devices learn it, at most once per 2 s.
func (s *Server) handleTyping() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		conv, err := convParam(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var req typingRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("typing", req.Typing); err != nil {
			s.writeError(w, r, err)
			return
		}
		if !conv.IsGroup() && !conv.Has(me.user) {
			s.writeError(w, r, store.ErrConvNotFound)
			return
		}
		sent, err := s.plane.Typing(r.Context(), me.user, conv, *req.Typing)
		if errors.Is(err, store.ErrNotMember) {
			err = store.ErrConvNotFound // what a non-member may not read is not there
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if sent {
			s.metrics.typing.Inc()
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

type receiptsResponse struct {
	Count   int            `json:"count"`
	UserIDs []store.UserID `json:"user_ids"`
}

// handleReceipts is GET /api/conversations/{conv}/receipts?seq=: who else
// has read up to seq.
func (s *Server) handleReceipts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		conv, err := convParam(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		seq, ok, err := queryInt(r, "seq")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			s.writeError(w, r, badRequest("invalid_query", "Message number (seq) is required"))
			return
		}
		ids, err := s.plane.Readers(r.Context(), me.user, conv, seq)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, receiptsResponse{Count: len(ids), UserIDs: ids})
	})
}

// dropExpired leaves out of a poll's answer the ephemeral events whose
// time passed while they waited (typing after its until).
func dropExpired(events []string) []string {
	now := time.Now().UnixMilli()
	var out []string // nil until an event is dropped
	for i, ev := range events {
		if plane.Expired(ev, now) {
			if out == nil {
				out = make([]string, i, len(events))
				copy(out, events[:i])
			}
			continue
		}
		if out != nil {
			out = append(out, ev)
		}
	}
	if out == nil {
		return events
	}
	return out
}
