package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"webchat/store"
	"webchat/store/plane"
)

type signupRequest struct {
	Username    *string `json:"username"`
	Password    *string `json:"password"`
	DisplayName *string `json:"display_name"`
}

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type userResponse struct {
	User store.User `json:"user"`
}

// validUsername reports whether u (lower-cased) is 3–32 of a-z0-9_.
func validUsername(u string) bool {
	if len(u) < 3 || len(u) > 32 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validName checks a display or group name (field, its JSON name): 1 to
// maxLen characters, something visible (scanText), no control characters
// and nothing that reverses the text's direction.
func validName(field, v string, maxLen int) error {
	label := fieldLabel(field)
	f := scanText(v, false)
	if !f.visible {
		return badRequest("invalid_field", label+" must not be blank")
	}
	if utf8.RuneCountInString(v) > maxLen {
		return badRequest("invalid_field", label+" must be 1–"+itoa(int64(maxLen))+" characters")
	}
	if f.control {
		return badRequest("invalid_field", label+" must be one line of text, without control characters")
	}
	if f.override {
		return badRequest("invalid_field", label+errOverrideText)
	}
	return nil
}

const errOverrideText = " must not contain characters that reverse the direction of the text"

// errPasswordTooLong: bcrypt reads at most 72 bytes.
var errPasswordTooLong = badRequest("invalid_field", "Password must be at most 72 bytes (fewer characters with accents or in other scripts)")

func validPassword(p string) error {
	if len(p) < 8 {
		return badRequest("invalid_field", "Password must be at least 8 characters")
	}
	if len(p) > 72 {
		return errPasswordTooLong
	}
	return nil
}

// checkAuthRate limits sign-ups and log-ins per client address and, when a
// username is given, per (username, address), across all nodes: nobody can
// lock another person out from elsewhere.
func (s *Server) checkAuthRate(r *http.Request, username string) error {
	addr := s.clientAddr(r)
	keys := []string{"auth:a:" + addr}
	if username != "" {
		keys = append(keys, "auth:u:"+username+"|"+addr)
	}
	for _, k := range keys {
		if err := s.allow(r, k, s.authLimit); err != nil {
			return err
		}
	}
	return nil
}

// allow takes one request from a shared limit, answering 429 with
// Retry-After when it is used up.
func (s *Server) allow(r *http.Request, key string, l plane.Limit) error {
	ok, wait, err := s.plane.Allow(r.Context(), key, l)
	if err != nil {
		return err
	}
	if !ok {
		return &rateLimited{int(wait/time.Second) + 1}
	}
	return nil
}

func (s *Server) handleSignup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req signupRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("username", req.Username, "password", req.Password, "display_name", req.DisplayName); err != nil {
			s.writeError(w, r, err)
			return
		}
		username := strings.ToLower(*req.Username)
		if !validUsername(username) {
			s.writeError(w, r, badRequest("invalid_field", "Username must be 3–32 characters: letters a–z, digits 0–9 and _"))
			return
		}
		if err := validPassword(*req.Password); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := validName("display_name", *req.DisplayName, 64); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.checkAuthRate(r, ""); err != nil {
			s.writeError(w, r, err)
			return
		}
		var (
			hash []byte
			err  error
		)
		if herr := s.withHashSlot(r.Context(), func() { hash, err = bcrypt.GenerateFromPassword([]byte(*req.Password), s.o.BcryptCost) }); herr != nil {
			s.writeError(w, r, herr)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		u, err := s.graph.CreateUser(r.Context(), username, strings.TrimSpace(*req.DisplayName), hash)
		if errors.Is(err, store.ErrUsernameTaken) {
			u, err = s.signupAgain(r, username, strings.TrimSpace(*req.DisplayName), *req.Password)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.startSession(r, u.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.rememberBrowser(w, r, u.ID)
		writeJSON(w, http.StatusCreated, userResponse{u})
	})
}

// signupRetryWindow is how long after a sign-up the same sign-up again
// (a retry: the answer was lost, a balancer sent it twice) answers as the
// first did instead of 409 username_taken.
const signupRetryWindow = 10 * time.Minute

// signupAgain answers a sign-up whose username is taken: if the account
// is a few minutes old and has the same display name and password, it is
// this sign-up's own, made by an attempt whose answer was lost, so the
// retry gets it (a log-in, in effect: the password is checked as at
// log-in); anything else is ErrUsernameTaken.
func (s *Server) signupAgain(r *http.Request, username, displayName, password string) (store.User, error) {
	creds, err := s.graph.UserByUsername(r.Context(), username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.ErrUsernameTaken
	}
	if err != nil {
		return store.User{}, err
	}
	if creds.DisplayName != displayName || time.Since(time.UnixMilli(creds.CreatedAt)) > signupRetryWindow {
		return store.User{}, store.ErrUsernameTaken
	}
	// A password check like a log-in's, so under a log-in's limit on the
	// username: a new account's password is not guessed through sign-ups.
	if err := s.checkUserAuthRate(r, username, creds.ID); err != nil {
		return store.User{}, err
	}
	ok, err := s.comparePassword(r.Context(), creds.PasswordHash, password)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, store.ErrUsernameTaken
	}
	return creds.User, nil
}

// dummyHash makes a log-in for an unknown user cost one bcrypt comparison,
// like a wrong password, so the answer time does not tell them apart.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("webchat-dummy-password"), bcrypt.MinCost)

func (s *Server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := missing("username", req.Username, "password", req.Password); err != nil {
			s.writeError(w, r, err)
			return
		}
		username := strings.ToLower(*req.Username)
		if len(*req.Password) > 72 {
			s.writeError(w, r, errPasswordTooLong)
			return
		}
		if err := s.checkAuthRate(r, username); err != nil {
			s.writeError(w, r, err)
			return
		}
		creds, err := s.graph.UserByUsername(r.Context(), username)
		if errors.Is(err, store.ErrNotFound) || !validUsername(username) {
			// As for a wrong password: the same limit, the same hashing.
			if err := s.checkUserAuthRate(r, username, 0); err != nil {
				s.writeError(w, r, err)
				return
			}
			hash := dummyHash
			if s.o.BcryptCost > bcrypt.MinCost {
				hash = s.dummyCostHash()
			}
			if _, err := s.comparePassword(r.Context(), hash, *req.Password); err != nil {
				s.writeError(w, r, err)
				return
			}
			s.writeError(w, r, errBadCreds)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.checkUserAuthRate(r, username, creds.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
		ok, err := s.comparePassword(r.Context(), creds.PasswordHash, *req.Password)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			s.writeError(w, r, errBadCreds)
			return
		}
		if err := s.startSession(r, creds.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.rememberBrowser(w, r, creds.ID)
		writeJSON(w, http.StatusOK, userResponse{creds.User})
	})
}

// dummyCostHash is a hash at the configured cost, made once.
func (s *Server) dummyCostHash() []byte {
	s.dummyOnce.Do(func() {
		s.dummy, _ = bcrypt.GenerateFromPassword([]byte("webchat-dummy-password"), s.o.BcryptCost)
	})
	return s.dummy
}

// startSession logs u in on this request's session with a renewed token. A
// session that already has a device of u keeps it; otherwise a new device
// is entered at once, so messages sent before its first poll wait for it.
// On a session that was another user's, that user's device goes with its
// lists, as at log-out: otherwise it fills up for nobody and counts toward
// their devices.
func (s *Server) startSession(r *http.Request, u store.UserID) error {
	ctx := r.Context()
	prevUser, dev, prevToken := store.UserID(s.sm.GetInt64(ctx, sessUser)), s.sm.GetString(ctx, sessDevice), s.sm.Token(ctx)
	prevDev := ""
	if prevUser != u || dev == "" {
		prevDev, dev = dev, randomHex(8)
	}
	if err := s.plane.RegisterDevice(ctx, u, dev); err != nil {
		return err
	}
	// The old token goes first (RenewToken deletes it), so a poll woken by
	// the device's removal finds its session gone and answers 401.
	if err := s.sm.RenewToken(ctx); err != nil {
		return err
	}
	s.sm.Put(ctx, sessUser, int64(u))
	s.sm.Put(ctx, sessDevice, dev)
	s.sm.Put(ctx, sessSeen, time.Now().UnixMilli())
	err := s.trackLogin(ctx, u, dev, prevUser, prevDev, prevToken)
	if err != nil {
		// Not logged in half: scs would otherwise commit the renewed session
		// with its user, untracked (log out everywhere could not end it).
		s.sm.Destroy(ctx)
	}
	return err
}

// trackLogin ends what the browser's previous session leaves behind and
// tracks the new one: another user's device goes as at log-out; the same
// user's old token is no longer theirs.
func (s *Server) trackLogin(ctx context.Context, u store.UserID, dev string, prevUser store.UserID, prevDev, prevToken string) error {
	switch {
	case prevUser > 0 && prevUser != u && prevDev != "":
		if err := s.endDevice(ctx, prevUser, prevDev, prevToken); err != nil {
			return err
		}
	case prevUser == u && prevToken != "":
		if err := s.plane.UntrackSession(ctx, u, prevToken, dev); err != nil {
			return err
		}
	}
	return s.plane.TrackSession(ctx, u, s.sm.Token(ctx), dev, s.o.SessionLifetime)
}

func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		uid, dev, token := s.sm.GetInt64(ctx, sessUser), s.sm.GetString(ctx, sessDevice), s.sm.Token(ctx)
		// The session goes first, so a poll woken by the device's removal
		// finds it gone and answers 401.
		if err := s.sm.Destroy(ctx); err != nil {
			s.writeError(w, r, err)
			return
		}
		if uid > 0 && dev != "" {
			if err := s.endDevice(ctx, store.UserID(uid), dev, token); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// endDevice removes the device of a session that ended (its token already
// deleted) with its lists, waking its poll, and stops tracking the token
// among u's sessions.
func (s *Server) endDevice(ctx context.Context, u store.UserID, dev, token string) error {
	if err := s.plane.UnregisterDevice(ctx, u, dev); err != nil {
		return err
	}
	return s.plane.UntrackSession(ctx, u, token, dev)
}

// handleLogoutEverywhere ends every session of the user, on every node:
// their next request, and any poll waiting now, answers 401.
func (s *Server) handleLogoutEverywhere() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := currentSession(r.Context())
		if err := s.plane.EndAllSessions(r.Context(), me.user); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.sm.Destroy(r.Context()) // clears this browser's cookie too
		w.WriteHeader(http.StatusNoContent)
	})
}
