package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"webchat/store"
	"webchat/store/plane"
)

// Guards on log-in beyond the per-address limits (checkAuthRate): a limit
// on guesses at one username from every address together, which a browser
// the user already logged in from skips, and a bound on how many password
// hashes run at once.

const (
	// knownCookie marks a browser that logged in as a user before: its
	// value is "<user id>.<random token>", remembered in Redis
	// (plane.Plane.RememberBrowser).
	knownCookie   = "webchat_known"
	knownLifetime = 180 * 24 * time.Hour
	// hashWait is how long a log-in or sign-up waits for a free hashing
	// slot before it answers 503: a flood of log-ins gets quick refusals,
	// not a queue that makes a real log-in wait half a minute.
	hashWait = 2 * time.Second
)

var errBusy = &apiError{http.StatusServiceUnavailable, "busy", "Too many people are logging in right now; try again in a moment"}

// newHashSlots bounds concurrent bcrypt work to half the node's cores:
// more at once only makes each take longer, and the other half stays free
// for everything else the node does (a flood of log-ins must not starve
// the sends and polls, nor the quick refusals of the log-ins beyond it).
func newHashSlots() chan struct{} { return make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)) }

// withHashSlot runs f, a bcrypt hash or comparison, in one of the node's
// slots, or answers errBusy if none is free within hashWait.
func (s *Server) withHashSlot(ctx context.Context, f func()) error {
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case s.hashSlots <- struct{}{}:
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	f()
	return nil
}

// comparePassword checks password against hash in a hashing slot.
func (s *Server) comparePassword(ctx context.Context, hash []byte, password string) (ok bool, err error) {
	err = s.withHashSlot(ctx, func() { ok = bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil })
	return ok, err
}

// knownBrowser reports whether the request's browser logged in as u before.
func (s *Server) knownBrowser(r *http.Request, u store.UserID) bool {
	c, err := r.Cookie(knownCookie)
	if err != nil {
		return false
	}
	id, token, ok := strings.Cut(c.Value, ".")
	if !ok || id != strconv.FormatInt(int64(u), 10) || len(token) != 32 {
		return false
	}
	known, err := s.plane.KnownBrowser(r.Context(), u, token)
	return err == nil && known
}

// checkUserAuthRate limits log-ins to one username from everywhere, which
// slows guessing from many addresses; a browser u logged in from before is
// not held up by it, so an attack on u does not lock u out of it.
func (s *Server) checkUserAuthRate(r *http.Request, username string, u store.UserID) error {
	if s.userAuthLimit.Per <= 0 || (u > 0 && s.knownBrowser(r, u)) {
		return nil
	}
	return s.allow(r, plane.AuthUserRateKey(username), s.userAuthLimit)
}

// rememberBrowser marks the browser as one u logged in from: a new token,
// or the one it has for u, for another knownLifetime. Best effort: a
// failure only means the next log-in is not exempt from the username limit.
func (s *Server) rememberBrowser(w http.ResponseWriter, r *http.Request, u store.UserID) {
	token := ""
	if s.knownBrowser(r, u) {
		// Only a token Redis knows is kept: one planted in the browser by
		// someone else (a cookie set over plain HTTP, say) is replaced.
		c, _ := r.Cookie(knownCookie)
		_, token, _ = strings.Cut(c.Value, ".")
	}
	if token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		token = hex.EncodeToString(b)
	}
	if err := s.plane.RememberBrowser(r.Context(), u, token, knownLifetime); err != nil {
		s.log.Warn("remember browser", "request_id", requestID(r.Context()), "err", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: knownCookie, Value: strconv.FormatInt(int64(u), 10) + "." + token, Path: "/api/login",
		MaxAge: int(knownLifetime / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.o.CookieSecure || s.viaHTTPS(r)})
}

// eventOverhead is what an event adds to its message's JSON in an inbox.
const eventOverhead = len(`{"id":,"type":"message","message":}`) + 16

// messageOverhead bounds what a message's JSON adds to its body: the
// conversation, seq, ids, type, time and a client_id of up to 64.
const messageOverhead = 256

// reserveFanout takes from the sender's fan-out limit, before a group send,
// what the message will cost about: its body's bytes (twice, for JSON's
// escapes, and the rest of the message) to each member the group's Redis
// key holds, never more than the limit's burst (or a big message could
// never go). Taken in one step, so sends in flight together cannot all
// pass a check that each alone would: a burst of them waits (429) instead
// of filling Redis. settleFanout then makes the charge what the send
// really cost, a copy per device.
func (s *Server) reserveFanout(r *http.Request, u store.UserID, g store.GroupID, bodyBytes int) (int64, error) {
	l := s.fanoutLimit
	if l.Per <= 0 {
		return 0, nil
	}
	members, err := s.plane.GroupSize(r.Context(), g)
	if err != nil {
		return 0, err
	}
	cost := min(int64(2*bodyBytes+messageOverhead+eventOverhead)*int64(max(members, 1)), int64(l.Burst))
	ok, wait, err := s.plane.AllowN(r.Context(), plane.FanoutRateKey(u), l, cost)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, &rateLimited{int(wait/time.Second) + 1}
	}
	return cost, nil
}

// settleFanout turns a group send's reservation into its real cost: the
// event's bytes times the copies pushed, one per device (a send that failed
// pushed none, or some of a delivery a retry will finish, and gives the
// rest back). Beyond the reservation the limit goes into debt, which the
// sender's next group sends wait out. A failure to count is logged: the
// send itself is done.
func (s *Server) settleFanout(r *http.Request, u store.UserID, reserved int64, sent plane.Sent, err error) {
	if s.fanoutLimit.Per <= 0 {
		return
	}
	cost := int64(0)
	if err == nil {
		cost = int64(len(sent.Message)+eventOverhead) * int64(sent.Copies)
	}
	if cost == reserved {
		return
	}
	if cerr := s.plane.Charge(context.WithoutCancel(r.Context()), plane.FanoutRateKey(u), s.fanoutLimit, cost-reserved); cerr != nil {
		s.log.Warn("settle fan-out", "request_id", requestID(r.Context()), "err", cerr)
	}
}
