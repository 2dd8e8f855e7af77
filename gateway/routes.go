package gateway

import (
	"context"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes lists every endpoint.
func (s *Server) routes(static fs.FS) http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errNotFound) })
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "That cannot be done here"})
	})

	// The poll only reads its session: it skips scs's middleware (pollUser).
	r.Handle("/api/poll", s.secureCookies(s.pollUser(s.handlePoll()))).Methods(http.MethodGet)
	// So does a send whose session needs no write (readOnlySession); the
	// others go through the same middleware as every authenticated route.
	send := s.handleSend()
	r.Handle("/api/messages", s.readOnlySession(send, s.secureCookies(s.sm.LoadAndSave(s.requireUser(send))))).Methods(http.MethodPost)
	// As do a read and a typing notice, which come with nearly every
	// message from the people in a conversation.
	for path, h := range map[string]http.Handler{
		"/api/conversations/{conv}/read":   s.handleRead(),
		"/api/conversations/{conv}/typing": s.handleTyping(),
	} {
		r.Handle(path, s.readOnlySession(h, s.secureCookies(s.sm.LoadAndSave(s.requireUser(h))))).Methods(http.MethodPost)
	}

	api := r.PathPrefix("/api").Subrouter()
	api.Use(s.secureCookies, s.sm.LoadAndSave)
	api.Handle("/signup", s.handleSignup()).Methods(http.MethodPost)
	api.Handle("/login", s.handleLogin()).Methods(http.MethodPost)
	api.Handle("/logout", s.handleLogout()).Methods(http.MethodPost)

	authed := api.NewRoute().Subrouter()
	authed.Use(s.requireUser)
	authed.Handle("/me", s.handleMe()).Methods(http.MethodGet)
	authed.Handle("/me", s.handleSettings()).Methods(http.MethodPatch)
	authed.Handle("/me/presence", s.handleSetPresence()).Methods(http.MethodPut)
	authed.Handle("/logout-everywhere", s.handleLogoutEverywhere()).Methods(http.MethodPost)
	authed.Handle("/friend-requests", s.handleFriendRequest()).Methods(http.MethodPost)
	authed.Handle("/friend-requests/{id}/accept", s.handleAnswerRequest(true)).Methods(http.MethodPost)
	authed.Handle("/friend-requests/{id}/decline", s.handleAnswerRequest(false)).Methods(http.MethodPost)
	authed.Handle("/friends/{user_id}", s.handleUnfriend()).Methods(http.MethodDelete)
	authed.Handle("/groups", s.handleCreateGroup()).Methods(http.MethodPost)
	authed.Handle("/groups/{id}", s.handleGetGroup()).Methods(http.MethodGet)
	authed.Handle("/groups/{id}/members", s.handleAddMember()).Methods(http.MethodPost)
	authed.Handle("/group-invites/{id}/accept", s.handleAnswerInvite(true)).Methods(http.MethodPost)
	authed.Handle("/group-invites/{id}/decline", s.handleAnswerInvite(false)).Methods(http.MethodPost)
	authed.Handle("/group-invites/{id}", s.handleCancelInvite()).Methods(http.MethodDelete)
	authed.Handle("/groups/{id}/members/{user_id}", s.handleSetRole()).Methods(http.MethodPatch)
	authed.Handle("/groups/{id}/members/{user_id}", s.handleRemoveMember()).Methods(http.MethodDelete)
	authed.Handle("/conversations/{conv}/messages", s.handleHistory()).Methods(http.MethodGet)
	authed.Handle("/conversations/{conv}/receipts", s.handleReceipts()).Methods(http.MethodGet)
	authed.Handle("/conversations/past", s.handlePastConversations()).Methods(http.MethodGet)
	authed.Handle("/conversations/{conv}/senders", s.handleSenders()).Methods(http.MethodGet)
	authed.Handle("/search", s.handleSearch()).Methods(http.MethodGet)

	r.Handle("/healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})).Methods(http.MethodGet)
	r.Handle("/readyz", s.handleReady()).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(s.o.Gatherer, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	r.PathPrefix("/").Handler(s.staticHandler(static)).Methods(http.MethodGet, http.MethodHead)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &apiError{http.StatusForbidden, "cross_origin", "Requests from other sites are refused"})
	}))
	r.Use(s.countRequests)
	return s.recoverer(s.requestMeta(limitURL(s.drainGate(cop.Handler(r)))))
}

// handleReady answers 200 while Redis and SQL answer and take writes (Redis
// not at its maxmemory, SQL not locked or read-only) and the node is not
// draining, so a balancer stops sending it new work. Its body also says
// whether Redis runs with settings that can lose data (CheckRedisSettings).
func (s *Server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status := map[string]string{"redis": "ok", "sql": "ok", "node": "ok"}
		code := http.StatusOK
		if s.draining.Load() {
			status["node"], code = "draining", http.StatusServiceUnavailable
		}
		if err := s.plane.Ping(ctx); err != nil {
			status["redis"], code = "unavailable", http.StatusServiceUnavailable
		} else if full, err := s.plane.OutOfMemory(ctx); err == nil && full {
			status["redis"], code = "out_of_memory", http.StatusServiceUnavailable
		}
		if err := s.graph.Ping(ctx); err != nil {
			status["sql"], code = "unavailable", http.StatusServiceUnavailable
		} else if err := s.graph.PingWrite(ctx); err != nil {
			status["sql"], code = "read_only", http.StatusServiceUnavailable
		}
		// Unsafe settings are for the operator, not the balancer: every
		// node shares the Redis, so failing readiness would stop them all.
		if s.plane.Archiving() && status["redis"] == "ok" {
			// Entries on their way to SQL; it grows while SQL is down.
			if n, err := s.plane.ArchiveBacklog(ctx); err == nil {
				status["archive_backlog"] = strconv.FormatInt(n, 10)
			}
		}
		s.settingsMu.Lock()
		status["redis_settings"] = s.settings.summary()
		s.settingsMu.Unlock()
		writeJSON(w, code, status)
	})
}

// staticHandler serves the browser client; an unknown /api/ path is the
// API's JSON 404, not the file server's text.
func (s *Server) staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			s.writeError(w, r, errNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	})
}
