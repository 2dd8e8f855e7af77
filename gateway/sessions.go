package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"webchat/store"
)

// caller is the logged-in user of a request.
type caller struct {
	user   store.UserID
	device string
	token  string
}

func currentSession(ctx context.Context) caller {
	return state(ctx).sess
}

// Session keys.
const (
	sessUser   = "uid"
	sessDevice = "dev"
	sessSeen   = "seen" // Unix ms of the last request, updated at most hourly
)

// requireUser answers 401 unless the request's session has a user, and
// expires sessions idle longer than SessionIdle: no request and no poll
// from the session's device for that long.
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		uid := s.sm.GetInt64(ctx, sessUser)
		dev := s.sm.GetString(ctx, sessDevice)
		if uid <= 0 || dev == "" {
			s.writeError(w, r, errUnauthorized)
			return
		}
		now := time.Now()
		seen := time.UnixMilli(s.sm.GetInt64(ctx, sessSeen))
		if idle, err := s.idleTooLong(ctx, store.UserID(uid), dev, seen, now); err != nil || idle {
			if idle {
				s.sm.Destroy(ctx)
				err = errUnauthorized
			}
			s.writeError(w, r, err)
			return
		} else if now.Sub(seen) > s.o.SessionIdle {
			seen = time.Time{} // its device polled: refresh below
		}
		if now.Sub(seen) > time.Hour {
			// The write re-creates the key: make sure, past this node's
			// session cache, that no log-out deleted it meanwhile.
			if err := s.sessionInRedis(ctx, s.sm.Token(ctx)); err != nil {
				s.writeError(w, r, err)
				return
			}
			s.sm.Put(ctx, sessSeen, now.UnixMilli())
		}
		serveAs(caller{user: store.UserID(uid), device: dev, token: s.sm.Token(ctx)}, next, w, r)
	})
}

// sessionInRedis answers errUnauthorized unless the session exists in
// Redis itself, whatever this node's session cache holds.
func (s *Server) sessionInRedis(ctx context.Context, token string) error {
	exists, err := s.sessions.Exists(ctx, token)
	if err == nil && !exists {
		err = errUnauthorized
	}
	return err
}

// serveAs serves the request as the session's user.
func serveAs(sess caller, next http.Handler, w http.ResponseWriter, r *http.Request) {
	st, ok := r.Context().Value(keyState).(*reqState)
	if !ok {
		st = &reqState{}
		r = r.WithContext(context.WithValue(r.Context(), keyState, st))
	}
	st.sess = sess
	next.ServeHTTP(w, r)
}

// idleTooLong reports whether a session last seen (by a request other than
// a poll) at seen has been idle longer than SessionIdle: no request and no
// poll from its device for that long. Polls never write the session, so
// past SessionIdle the device's last poll decides.
func (s *Server) idleTooLong(ctx context.Context, uid store.UserID, dev string, seen, now time.Time) (bool, error) {
	if now.Sub(seen) <= s.o.SessionIdle {
		return false, nil
	}
	last, ok, err := s.plane.DeviceLastPoll(ctx, uid, dev)
	if err != nil {
		return false, err
	}
	return !ok || now.Sub(last) > s.o.SessionIdle, nil
}

// fromAnotherSite reports a request that a browser made for a page of
// another site, or as a navigation (a link, a typed address, a redirect):
// a poll is a state change (it acknowledges, and supersedes the device's
// waiting poll), yet a GET carries the Lax session cookie on a top-level
// navigation from anywhere. The page's own polls are fetches from its own
// origin; clients that send no Sec-Fetch-* headers (curl, the load
// generator, old browsers) are not browsers being steered by another site.
func fromAnotherSite(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		return true
	}
	// Browsers without Sec-Fetch-* (Safari before 16.4) still ask for a
	// page when they navigate; the page's own fetches never do.
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		return true
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site != "" && site != "same-origin"
}

// loadSession reads the session of token as scs does (its store, its
// codec: scs's own Load), without scs's middleware, for the requests that
// never write their session. A token with no session reads as a record
// without a user.
func (s *Server) loadSession(ctx context.Context, token string) (sessionRecord, error) {
	lctx, err := s.sm.Load(ctx, token)
	if err != nil {
		return sessionRecord{}, err
	}
	return sessionRecord{
		User: s.sm.GetInt64(lctx, sessUser), Device: s.sm.GetString(lctx, sessDevice),
		Seen: s.sm.GetInt64(lctx, sessSeen), Deadline: s.sm.Deadline(lctx).UnixNano(),
	}, nil
}

// pollUser is requireUser for the poll, which only reads its session
// (loadSession): a waiting poll then holds no scs session data, request
// copy or response wrapper (about 1.4 KB of the node's memory per waiting
// poll), and never writes the session, so a poll that outlives a log-out
// on another node cannot bring the session back.
func (s *Server) pollUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fromAnotherSite(r) {
			s.writeError(w, r, errPollFromAnotherSite)
			return
		}
		ctx := r.Context()
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			s.writeError(w, r, errUnauthorized)
			return
		}
		rec, err := s.loadSession(ctx, c.Value)
		if err != nil && !errors.Is(err, errBadSession) {
			s.writeError(w, r, err)
			return
		}
		now := time.Now()
		if err != nil || rec.User <= 0 || rec.Device == "" || now.UnixNano() >= rec.Deadline {
			s.writeError(w, r, errUnauthorized)
			return
		}
		uid := store.UserID(rec.User)
		if idle, err := s.idleTooLong(ctx, uid, rec.Device, time.UnixMilli(rec.Seen), now); err != nil || idle {
			if idle {
				if derr := s.sessions.DeleteCtx(ctx, c.Value); derr != nil {
					s.log.Warn("delete idle session", "err", derr)
				}
				// As scs's Destroy: the browser forgets the cookie (marked
				// Secure over HTTPS by secureCookies, around the route).
				s.sm.WriteSessionCookie(ctx, w, "", time.Time{})
				err = errUnauthorized
			}
			s.writeError(w, r, err)
			return
		}
		serveAs(caller{user: uid, device: rec.Device, token: c.Value}, next, w, r)
	})
}

// readOnlySession serves a request whose session needs no write, as most
// sends are, straight to next as the session's user: it reads the session
// as pollUser does, past scs's middleware, request copy and response wrapper
// (about 5% of the node's CPU at a few thousand messages a second). Every
// other request, whose session is missing, expired, due its hourly seen
// refresh or past SessionIdle, goes to full (scs and requireUser), which
// answers it as before; a store error is answered as scs would.
func (s *Server) readOnlySession(next, full http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			full.ServeHTTP(w, r)
			return
		}
		rec, err := s.loadSession(r.Context(), c.Value)
		if err != nil && !errors.Is(err, errBadSession) {
			// As scs's LoadAndSave would answer, without asking the store
			// again (which, with Redis gone, would double the wait).
			w.Header().Add("Vary", "Cookie")
			s.writeError(w, r, err)
			return
		}
		now := time.Now()
		if err != nil || rec.User <= 0 || rec.Device == "" || now.UnixNano() >= rec.Deadline ||
			now.Sub(time.UnixMilli(rec.Seen)) > min(time.Hour, s.o.SessionIdle) {
			full.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Cookie") // as scs's LoadAndSave
		serveAs(caller{user: store.UserID(rec.User), device: rec.Device, token: c.Value}, next, w, r)
	})
}

// secureCookies marks the session cookie Secure when the request came over
// HTTPS: directly (TLS), or through a trusted proxy that says so
// (X-Forwarded-Proto), or always when COOKIE_SECURE is set. It must wrap
// the session middleware, which writes the cookie.
func (s *Server) secureCookies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.o.CookieSecure && !s.viaHTTPS(r) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&secureCookieWriter{ResponseWriter: w}, r)
	})
}

func (s *Server) viaHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	_, viaProxy := s.peer(r)
	return viaProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

type secureCookieWriter struct {
	http.ResponseWriter
	done bool
}

func (w *secureCookieWriter) secure() {
	if w.done {
		return
	}
	w.done = true
	h := w.Header()
	for i, c := range h["Set-Cookie"] {
		if strings.HasPrefix(c, sessionCookie+"=") && !strings.Contains(c, "; Secure") {
			h["Set-Cookie"][i] = c + "; Secure"
		}
	}
}

func (w *secureCookieWriter) WriteHeader(code int) {
	w.secure()
	w.ResponseWriter.WriteHeader(code)
}

func (w *secureCookieWriter) Write(b []byte) (int, error) {
	w.secure()
	return w.ResponseWriter.Write(b)
}

func (w *secureCookieWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
