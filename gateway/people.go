package gateway

// Names of people the caller no longer shares a friendship or a group with
// but still shares a conversation with: past friends, whose direct history
// stays readable, and the authors of messages in a conversation the caller
// may read (a group's former members). Nobody learns the name of someone
// they share no conversation with.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"webchat/store"
)

// maxSenderSeqs bounds the messages one senders request names.
const maxSenderSeqs = 100

type pastConversation struct {
	Conv        string          `json:"conv"`
	Peer        store.User      `json:"peer"`
	Unread      int64           `json:"unread"`
	LastMessage json.RawMessage `json:"last_message"`
}

type pastConversations struct {
	Conversations []pastConversation `json:"conversations"`
}

// handlePastConversations lists the caller's direct conversations with
// people who are no longer friends, those that hold a message, by the
// peer's id, each with its last message and unread count.
func (s *Server) handlePastConversations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := currentSession(ctx)
		past, err := s.graph.PastFriends(ctx, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		convs := make([]string, len(past))
		for i, u := range past {
			convs[i] = store.DirectConv(me.user, u.ID).String()
		}
		sum, err := s.plane.Summary(ctx, me.user, nil, convs, false)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := pastConversations{Conversations: []pastConversation{}}
		for i, u := range past {
			last, ok := sum.Last[convs[i]]
			if !ok {
				continue // nothing to read
			}
			out.Conversations = append(out.Conversations, pastConversation{Conv: convs[i], Peer: u, Unread: sum.Unread[convs[i]], LastMessage: last})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

type sendersResponse struct {
	Users []store.User `json:"users"`
}

// handleSenders answers the authors of the messages with the given seqs in
// a conversation the caller may read (404 otherwise, as for its history):
// whoever can read a message may know who wrote it. Seqs with no message
// (trimmed from history, or not yet sent) are skipped.
func (s *Server) handleSenders() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := currentSession(ctx)
		conv, err := convParam(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		seqs, err := parseSeqs(r.URL.Query().Get("seq"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var ids []store.UserID
		seen := map[store.UserID]bool{}
		for _, seq := range seqs {
			msgs, _, err := s.plane.History(ctx, me.user, conv, seq+1, 1)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if len(msgs) != 1 {
				continue
			}
			var m struct {
				Seq  int64        `json:"seq"`
				From store.UserID `json:"from"`
			}
			if json.Unmarshal(msgs[0], &m) != nil || m.Seq != seq || seen[m.From] {
				continue
			}
			seen[m.From] = true
			ids = append(ids, m.From)
		}
		users, err := s.graph.UsersByID(ctx, ids)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, sendersResponse{users})
	})
}

// parseSeqs reads "3,17,40": 1 to maxSenderSeqs positive integers,
// repeats dropped.
func parseSeqs(v string) ([]int64, error) {
	bad := badRequest("invalid_query", "Message numbers must be 1 to "+strconv.Itoa(maxSenderSeqs)+" whole numbers, separated by commas")
	if v == "" {
		return nil, bad
	}
	parts := strings.Split(v, ",")
	if len(parts) > maxSenderSeqs {
		return nil, bad
	}
	out := make([]int64, 0, len(parts))
	seen := map[int64]bool{}
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		// A seq is far below 2^53; the bound keeps seq+1 from overflowing.
		if err != nil || n <= 0 || n >= 1<<53 {
			return nil, bad
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}
