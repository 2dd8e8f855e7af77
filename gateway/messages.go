package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"webchat/store"
	"webchat/store/plane"
)

type sendRequest struct {
	To       *int64  `json:"to"`
	Type     *string `json:"type"`
	Body     *string `json:"body"`
	ClientID *string `json:"client_id"`
}

const maxBodyChars = 4000

// decodeSend reads a send's body.
func decodeSend(w http.ResponseWriter, r *http.Request) (sendRequest, error) {
	body, err := readBody(w, r)
	if err != nil {
		return sendRequest{}, err
	}
	var req sendRequest
	err = decodeBytes(body, &req)
	return req, err
}

func (req *sendRequest) validate(me store.UserID) (store.Conv, error) {
	if err := missing("to", req.To, "type", req.Type, "body", req.Body); err != nil {
		return store.Conv{}, err
	}
	if *req.To <= 0 {
		return store.Conv{}, badRequest("invalid_field", "Recipient must be a positive id")
	}
	body := *req.Body
	f := scanText(body, true)
	if !f.visible {
		return store.Conv{}, badRequest("invalid_field", "Message must not be blank")
	}
	if utf8.RuneCountInString(body) > maxBodyChars {
		return store.Conv{}, badRequest("invalid_field", "Message must be at most 4000 characters")
	}
	if f.control {
		return store.Conv{}, badRequest("invalid_field", "Message must not contain control characters")
	}
	if f.override {
		return store.Conv{}, badRequest("invalid_field", "Message"+errOverrideText)
	}
	if req.ClientID != nil && !validClientID(*req.ClientID) {
		return store.Conv{}, badRequest("invalid_field", "Message retry id must be 1–64 printable ASCII characters")
	}
	switch *req.Type {
	case store.TypeSingle:
		if store.UserID(*req.To) == me {
			return store.Conv{}, badRequest("invalid_field", "You cannot send a message to yourself")
		}
		return store.DirectConv(me, store.UserID(*req.To)), nil
	case store.TypeGroup:
		return store.GroupConv(store.GroupID(*req.To)), nil
	}
	return store.Conv{}, badRequest("invalid_field", "Conversation type must be single or group")
}

func validClientID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (s *Server) handleSend() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		req, err := decodeSend(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		conv, err := req.validate(me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.allow(r, plane.SendRateKey(me.user), s.sendLimit); err != nil {
			s.writeError(w, r, err)
			return
		}
		reserved := int64(0)
		if conv.IsGroup() {
			if reserved, err = s.reserveFanout(r, me.user, conv.Group, len(*req.Body)); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		out := plane.Outgoing{From: me.user, FromDevice: me.device, Conv: conv, To: *req.To, Body: *req.Body}
		if req.ClientID != nil {
			out.ClientID = *req.ClientID
		}
		sent, err := s.plane.Send(r.Context(), out)
		if conv.IsGroup() {
			s.settleFanout(r, me.user, reserved, sent, err)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		status := http.StatusCreated
		if sent.Duplicate {
			status = http.StatusOK
		} else {
			s.metrics.sent.WithLabelValues(*req.Type).Inc()
			s.metrics.fanout.Observe(float64(sent.Recipients))
		}
		b := make([]byte, 0, len(sent.Message)+16)
		b = append(append(append(b, `{"message":`...), sent.Message...), '}')
		writeRaw(w, status, b)
	})
}

// convParam parses the route's conversation id; malformed is 404.
func convParam(r *http.Request) (store.Conv, error) {
	return store.ParseConv(mux.Vars(r)["conv"])
}

// queryInt reads an optional positive integer query parameter.
func queryInt(r *http.Request, name string) (int64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, false, badRequest("invalid_query", fieldLabel(name)+" must be a positive whole number")
	}
	return n, true, nil
}

func (s *Server) handleHistory() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		conv, err := convParam(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		before, _, err := queryInt(r, "before")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		limit, ok, err := queryInt(r, "limit")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			limit = 50
		}
		limit = min(limit, 100)
		msgs, more, err := s.plane.History(r.Context(), me.user, conv, before, int(limit))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		b := []byte(`{"messages":[`)
		for i, m := range msgs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, m...)
		}
		b = append(b, `],"has_more":`...)
		b = strconv.AppendBool(b, more)
		writeRaw(w, http.StatusOK, append(b, '}'))
	})
}

type readRequest struct {
	Seq *int64 `json:"seq"`
}

func (s *Server) handleRead() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		conv, err := convParam(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var req readRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("seq", req.Seq); err != nil {
			s.writeError(w, r, err)
			return
		}
		if *req.Seq < 0 {
			s.writeError(w, r, badRequest("invalid_field", "Message number must not be negative"))
			return
		}
		if _, err := s.plane.MarkRead(r.Context(), me.user, me.device, conv, *req.Seq); err != nil {
			if !errors.Is(err, plane.ErrReceiptNotSent) {
				s.writeError(w, r, err)
				return
			}
			// Read, and said so to the user's devices: only the others
			// learn it later (their /api/me, or the next read).
			s.log.Warn("read: receipt", "conv", conv.String(), "err", err)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

type meFriend struct {
	store.User
	Conv        string          `json:"conv"`
	Unread      int64           `json:"unread"`
	Online      bool            `json:"online"` // presence is online or away (for clients from before presence)
	Presence    string          `json:"presence"`
	LastSeen    *int64          `json:"last_seen"`      // null when never seen
	Since       int64           `json:"presence_since"` // when presence began, to order it against presence events
	PeerRead    int64           `json:"peer_read"`      // how far they read the conversation (0 with receipts off)
	LastMessage json.RawMessage `json:"last_message"`
}

type meGroup struct {
	store.Group
	Unread      int64           `json:"unread"`
	LastMessage json.RawMessage `json:"last_message"`
}

type meRequests struct {
	Incoming []store.FriendRequest `json:"incoming"`
	Outgoing []store.FriendRequest `json:"outgoing"`
}

type meResponse struct {
	User           store.User          `json:"user"`
	Friends        []meFriend          `json:"friends"`
	Groups         []meGroup           `json:"groups"`
	FriendRequests meRequests          `json:"friend_requests"`
	GroupInvites   []store.GroupInvite `json:"group_invites"` // waiting for the user's answer
	Status         string              `json:"status"`        // what the user chose to show: online, away, invisible
	Receipts       bool                `json:"receipts"`      // whether their reads send receipts
}

var jsonNull = json.RawMessage("null")

func (s *Server) handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := currentSession(ctx)
		user, err := s.graph.UserByID(ctx, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		friends, err := s.graph.Friends(ctx, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		groups, err := s.graph.UserGroups(ctx, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		in, out, err := s.graph.FriendRequests(ctx, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		invites, err := s.graph.GroupInvites(ctx, me.user)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ids := make([]store.UserID, len(friends))
		convs := make([]string, 0, len(friends)+len(groups))
		for i, f := range friends {
			ids[i] = f.ID
			convs = append(convs, store.DirectConv(me.user, f.ID).String())
		}
		for _, g := range groups {
			convs = append(convs, g.Conv)
		}
		sum, err := s.plane.Summary(ctx, me.user, ids, convs, true)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		last := func(conv string) json.RawMessage {
			if m, ok := sum.Last[conv]; ok {
				return m
			}
			return jsonNull
		}
		resp := meResponse{User: user, Friends: []meFriend{}, Groups: []meGroup{},
			FriendRequests: meRequests{Incoming: nonNil(in), Outgoing: nonNil(out)}, GroupInvites: invites,
			Status: sum.Self.Status, Receipts: sum.Self.Receipts}
		for i, f := range friends {
			c := convs[i]
			fs := sum.Friends[f.ID]
			var seen *int64
			if fs.LastSeen > 0 {
				seen = &fs.LastSeen
			}
			resp.Friends = append(resp.Friends, meFriend{User: f, Conv: c, Unread: sum.Unread[c], Online: fs.Presence != store.PresenceOffline,
				Presence: fs.Presence, LastSeen: seen, Since: fs.Since, PeerRead: fs.PeerRead, LastMessage: last(c)})
		}
		for _, g := range groups {
			resp.Groups = append(resp.Groups, meGroup{Group: g, Unread: sum.Unread[g.Conv], LastMessage: last(g.Conv)})
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
