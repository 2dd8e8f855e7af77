package gateway

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"webchat/store"
	"webchat/store/sqlgraph"
)

// Search's limits: what a query may be, and how many hits a page holds.
const (
	minSearchChars   = 2
	maxSearchChars   = 100
	defaultSearchHit = 20
	maxSearchHits    = 50
)

// handleSearch answers GET /api/search?q=&conv=&before=&limit= with the
// archived messages holding q, newest first, from the conversations the
// caller may read now: {messages, has_more, next?}; next is the before of
// the following page. A conv the caller may not read is
// conversation_not_found, as everywhere.
func (s *Server) handleSearch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		me := currentSession(ctx)
		q := r.URL.Query()
		text := strings.TrimSpace(q.Get("q"))
		if n := utf8.RuneCountInString(text); n < minSearchChars || n > maxSearchChars || !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
			s.writeError(w, r, badRequest("invalid_query", "Search for 2 to 100 characters"))
			return
		}
		var before store.SearchPos
		if b := q.Get("before"); b != "" {
			var err error
			if before, err = store.ParseSearchPos(b); err != nil {
				s.writeError(w, r, badRequest("invalid_query", "That is not a page of this search; search again"))
				return
			}
		}
		limit, ok, err := queryInt(r, "limit")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			limit = defaultSearchHit
		}
		limit = min(limit, maxSearchHits)
		var conv string
		if c := q.Get("conv"); c != "" {
			cv, err := store.ParseConv(c)
			if err == nil {
				// The history check: may the caller read it now?
				_, _, err = s.plane.History(ctx, me.user, cv, 0, 0)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			conv = cv.String()
		}
		msgs, err := s.graph.Search(ctx, sqlgraph.SearchQuery{User: me.user, Text: text, Conv: conv, Before: before, Limit: int(limit) + 1})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := struct {
			Messages []store.Message `json:"messages"`
			HasMore  bool            `json:"has_more"`
			Next     string          `json:"next,omitempty"`
		}{Messages: msgs}
		if len(msgs) > int(limit) {
			out.Messages, out.HasMore = msgs[:limit], true
			last := out.Messages[len(out.Messages)-1]
			out.Next = store.SearchPos{TS: last.TS, Conv: last.Conv, Seq: last.Seq}.String()
		}
		writeJSON(w, http.StatusOK, out)
	})
}
