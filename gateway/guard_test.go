package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"webchat/gateway"
)

var loopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// Guesses at one password from many addresses run into a limit on the
// username from everywhere; the owner's own browser, which logged in
// before, is not held up by it, while a new browser is.
func TestGuessingFromManyAddressesIsSlowedButNotTheOwnersBrowser(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{RateAuthUser: 5, TrustedProxies: loopbackProxy}})
	alice := e.signup("alice") // this browser is alice's from now on
	codes := map[int]int{}
	for i := range 10 {
		r := e.newClient().doFull(context.Background(), "POST", "/api/login", map[string]any{"username": "alice", "password": fmt.Sprint("guess ", i)},
			map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)})
		codes[r.Status]++
	}
	if codes[401] != 5 || codes[429] != 5 {
		t.Fatalf("10 guesses from 10 addresses answered %v, want 5 × 401 then 5 × 429", codes)
	}
	right := map[string]any{"username": "alice", "password": "password-alice"}
	if r := alice.doFull(context.Background(), "POST", "/api/login", right, map[string]string{"X-Forwarded-For": "203.0.113.7"}); r.Status != 200 {
		t.Fatalf("alice on her own browser: %d %s", r.Status, r.Body)
	}
	if r := e.newClient().doFull(context.Background(), "POST", "/api/login", right, map[string]string{"X-Forwarded-For": "203.0.113.8"}); r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("alice on a new browser during the attack: %d %s", r.Status, r.Body)
	}
	// Another user is not touched by the attack on alice.
	e.signup("bob")
	if r := e.newClient().do("POST", "/api/login", map[string]any{"username": "bob", "password": "password-bob"}); r.Status != 200 {
		t.Fatalf("bob: %d %s", r.Status, r.Body)
	}
}

// A flood of concurrent log-ins gets quick refusals (503 busy) instead of
// a queue in which every log-in, a real one too, waits for all the others'
// password hashing.
func TestConcurrentLoginsAreBoundedNotQueued(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{BcryptCost: 8, TrustedProxies: loopbackProxy}})
	e.signup("alice")
	wrong := map[string]any{"username": "alice", "password": "not her password"}
	var one time.Duration
	for range 3 {
		start := time.Now()
		if r := e.newClient().do("POST", "/api/login", wrong); r.Status != 401 {
			t.Fatalf("a wrong password: %d %s", r.Status, r.Body)
		}
		one += time.Since(start) / 3
	}
	// Enough at once that, all hashing together on 2 cores, each would take
	// far longer than a wait for a slot and one hash.
	// The bound is twice a slot's wait and a few hashes, for a busy machine
	// (CI runs every package at once); a queue of n costs twice that again.
	const hashWait = 2 * time.Second
	bound := 2 * (hashWait + 3*one)
	n := min(200, int(4*bound*2/one)+1)
	type result struct {
		status  int
		elapsed time.Duration
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			r := e.newClient().doFull(context.Background(), "POST", "/api/login", wrong, map[string]string{"X-Forwarded-For": fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)})
			results <- result{r.Status, time.Since(start)}
		}()
	}
	wg.Wait()
	close(results)
	codes, slowest := map[int]int{}, time.Duration(0)
	for r := range results {
		codes[r.status]++
		slowest = max(slowest, r.elapsed)
	}
	t.Logf("one hash %v; %d log-ins at once: %v, slowest %v", one, n, codes, slowest)
	if codes[401]+codes[503] != n || codes[503] == 0 {
		t.Fatalf("answers %v: want 401s and some 503 busy", codes)
	}
	if slowest > bound {
		t.Fatalf("the slowest log-in took %v, above twice a slot's wait and a few hashes (%v)", slowest, bound)
	}
}

// Friend requests and group adds share one limit per user, so nobody can
// fire hundreds a second (which also walks the username space); another
// user is not touched by it.
func TestFriendRequestsAndGroupAddsAreRateLimited(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{RateAdd: 6}})
	alice, bob := e.signup("alice"), e.signup("bob")
	var g struct{ Group struct{ ID int64 } }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "g"}, 201, &g)
	codes := map[int]int{}
	for i := range 8 {
		path, name := "/api/friend-requests", fmt.Sprintf("nobody%d", i)
		if i%2 == 1 {
			path = fmt.Sprintf("/api/groups/%d/members", g.Group.ID)
		}
		r := alice.do("POST", path, map[string]any{"username": name})
		codes[r.Status]++
		if r.Status == 429 && r.Header.Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After")
		}
	}
	if codes[404] != 6 || codes[429] != 2 {
		t.Fatalf("8 requests and adds: %v, want 6 × 404 (no such user) then 2 × 429", codes)
	}
	if r := bob.do("POST", "/api/friend-requests", map[string]any{"username": "alice"}); r.Status != 201 {
		t.Fatalf("bob's request: %d %s", r.Status, r.Body)
	}
}

// A sign-up sent again (its answer was lost; a balancer retried it) gets
// the account it made, logged in, not 409 "username taken"; a sign-up
// that differs in password or display name is someone else's: 409.
func TestSignupRetryGetsItsOwnAccount(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := map[string]any{"username": "alice", "password": "password-alice", "display_name": "Alice"}
	var first, again struct{ User struct{ ID int64 } }
	e.newClient().mustDo("POST", "/api/signup", body, 201, &first)
	c := e.newClient()
	c.mustDo("POST", "/api/signup", body, 201, &again)
	if again.User.ID != first.User.ID {
		t.Fatalf("the retry made user %d, the first %d", again.User.ID, first.User.ID)
	}
	c.mustDo("GET", "/api/me", nil, 200, nil) // logged in
	for name, b := range map[string]map[string]any{
		"another password":     {"username": "alice", "password": "password-other", "display_name": "Alice"},
		"another display name": {"username": "ALICE", "password": "password-alice", "display_name": "Alicia"},
	} {
		if r := e.newClient().do("POST", "/api/signup", b); r.Status != 409 || r.errorCode() != "username_taken" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

// A sign-up repeated to get a new account (within the retry window) checks
// its password as a log-in does, so under the username's log-in limit:
// a new account's password cannot be guessed through sign-ups.
func TestSignupRetriesCountAsGuesses(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{RateAuthUser: 2, TrustedProxies: loopbackProxy}})
	e.signup("alice")
	codes := map[int]int{}
	for i := range 5 {
		r := e.newClient().doFull(context.Background(), "POST", "/api/signup",
			map[string]any{"username": "alice", "password": fmt.Sprint("guess number ", i), "display_name": "Alice"},
			map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)})
		codes[r.Status]++
	}
	if codes[409] != 2 || codes[429] != 3 {
		t.Fatalf("5 sign-up guesses: %v, want 2 × 409 then 3 × 429", codes)
	}
}

// A known-browser mark that Redis does not know (planted in the browser by
// someone else) is not adopted at log-in: a new one is made.
func TestPlantedKnownBrowserTokenIsReplaced(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.signup("alice")
	c := e.newClient()
	u, _ := url.Parse(e.http.URL + "/api/login")
	planted := fmt.Sprintf("%d.%s", alice.User.ID, strings.Repeat("ab", 16))
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "webchat_known", Value: planted, Path: "/api/login"}})
	r := c.mustDo("POST", "/api/login", map[string]any{"username": "alice", "password": "password-alice"}, 200, nil)
	var got string
	for _, sc := range r.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(sc, "webchat_known="); ok {
			got, _, _ = strings.Cut(v, ";")
		}
	}
	if got == "" || got == planted {
		t.Fatalf("known-browser cookie after log-in %q (planted %q)", got, planted)
	}
	key := fmt.Sprintf("%sknown:{u:%d}", e.prefix, alice.User.ID)
	if _, err := e.rdb.ZScore(context.Background(), key, strings.Repeat("ab", 16)).Result(); err == nil {
		t.Fatal("the planted token was remembered")
	}
}
