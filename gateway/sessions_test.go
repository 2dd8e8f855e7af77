package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"webchat/gateway"
	"webchat/store/storetest"
)

func TestCookieIsSecureOverHTTPSThroughATrustedProxy(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	body := func(name string) map[string]any {
		return map[string]any{"username": name, "password": "password1", "display_name": name}
	}
	r := e.newClient().doFull(context.Background(), "POST", "/api/signup", body("viaproxy"), map[string]string{"X-Forwarded-Proto": "https"})
	if r.Status != 201 || !strings.Contains(r.Header.Get("Set-Cookie"), "; Secure") {
		t.Fatalf("behind a trusted HTTPS proxy: %d %q", r.Status, r.Header.Get("Set-Cookie"))
	}
	r = e.newClient().doFull(context.Background(), "POST", "/api/signup", body("plainhttp"), nil)
	if r.Status != 201 || strings.Contains(r.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("over plain HTTP: %d %q", r.Status, r.Header.Get("Set-Cookie"))
	}
	untrusted := newEnv(t, envOpts{})
	r = untrusted.newClient().doFull(context.Background(), "POST", "/api/signup", body("claims"), map[string]string{"X-Forwarded-Proto": "https"})
	if strings.Contains(r.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("an untrusted peer's X-Forwarded-Proto was believed: %q", r.Header.Get("Set-Cookie"))
	}
}

func TestLogoutEverywhere(t *testing.T) {
	e := newEnv(t, envOpts{})
	laptop := e.signup("alice")
	phone := laptop.login()
	other := e.secondNode()
	tablet := laptop.login()
	tablet.e = other // the tablet talks to another node
	phone.drain()
	done := make(chan response, 1)
	go func() { done <- phone.do("GET", "/api/poll?timeout=20&cursor="+phone.cursor, nil) }()
	e.waitPolls(1)
	laptop.mustDo("POST", "/api/logout-everywhere", nil, 204, nil)
	select {
	case r := <-done:
		if r.Status != 401 {
			t.Fatalf("waiting poll after log-out everywhere: %d %s", r.Status, r.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting poll was not woken")
	}
	// Each node's session cache hears of it by subscription: on a cluster
	// the message crosses the cluster bus, so it may come a moment after the
	// poll (which asks Redis itself) was answered.
	for name, c := range map[string]*client{"laptop": laptop, "phone": phone, "tablet": tablet} {
		storetest.WaitFor(t, 2*time.Second, name+" logged out everywhere", func() bool { return c.do("GET", "/api/me", nil).Status == 401 })
	}
	// Logging in again works.
	laptop.login()
}

func TestIdleSessionExpiresUnlessItsDevicePolls(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{SessionIdle: 2 * time.Second}})
	active, idle := e.signup("active"), e.signup("idle")
	// Only polls from the active session for longer than the idle time.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		active.poll(0)
		time.Sleep(200 * time.Millisecond) // a client's pace, not a wait for the server
	}
	if r := active.do("GET", "/api/me", nil); r.Status != 200 {
		t.Fatalf("a session whose device polls expired: %d", r.Status)
	}
	if r := idle.do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("an idle session answered %d", r.Status)
	}
}

func TestLongURLIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.signup("alice")
	if r := c.do("GET", "/api/conversations/d1-2/messages?x="+strings.Repeat("a", 9000), nil); r.Status != 414 {
		t.Fatalf("a 9 KB URL: %d", r.Status)
	}
}

// Each node keeps sessions it read in memory for a few seconds; a log-out
// on one node must reach the other's cache at once, not when its copy ages
// out (which takes seconds: a pass within one second proves the news came).
func TestSessionCachesHearOfLogOutOnAnyNode(t *testing.T) {
	e := newEnv(t, envOpts{})
	laptop := e.signup("alice")
	other := e.secondNode()
	phone, tablet := laptop.login(), laptop.login()
	phone.e, tablet.e = other, other
	// The other node reads both sessions now and keeps them.
	for _, c := range []*client{phone, tablet} {
		c.mustDo("GET", "/api/me", nil, 200, nil)
	}

	// The phone logs out through the first node; a stolen copy of its
	// cookie goes on trying the other.
	u, _ := url.Parse(e.http.URL)
	stolen := phone.hc.Jar.Cookies(u)
	phone.e = e
	phone.mustDo("POST", "/api/logout", nil, 204, nil)
	phone.e = other
	phone.hc.Jar.SetCookies(u, stolen)
	storetest.WaitFor(t, time.Second, "the other node to refuse the logged-out session", func() bool {
		return phone.do("GET", "/api/me", nil).Status == 401
	})
	tablet.mustDo("GET", "/api/me", nil, 200, nil) // its other sessions live on

	laptop.mustDo("POST", "/api/logout-everywhere", nil, 204, nil)
	storetest.WaitFor(t, time.Second, "the other node to refuse a session ended everywhere", func() bool {
		return tablet.do("GET", "/api/me", nil).Status == 401
	})
}

// The poll reads its session without scs: it refuses what requireUser
// refuses, expires an idle session the same way, and never writes a cookie.
func TestPollReadsItsSessionWithoutWritingIt(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{SessionIdle: time.Second}})
	alice := e.signup("alice")
	r := alice.do("GET", "/api/poll?timeout=0", nil)
	if r.Status != 200 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("poll: %d, Set-Cookie %q", r.Status, r.Header.Get("Set-Cookie"))
	}
	if r := alice.do("POST", "/api/poll", nil); r.Status != 405 {
		t.Fatalf("POST /api/poll: %d %s", r.Status, r.Body)
	}

	anonymous := e.newClient()
	if r := anonymous.do("GET", "/api/poll?timeout=0", nil); r.Status != 401 || r.errorCode() != "unauthorized" {
		t.Fatalf("poll without a session: %d %s", r.Status, r.Body)
	}
	u, _ := url.Parse(e.http.URL)
	anonymous.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "webchat_session", Value: "made-up"}})
	if r := anonymous.do("GET", "/api/poll?timeout=0", nil); r.Status != 401 {
		t.Fatalf("poll with a made-up session: %d %s", r.Status, r.Body)
	}

	// Idle past SessionIdle, with no poll either: the poll ends it, and the
	// session is gone for every other request too.
	time.Sleep(1500 * time.Millisecond)
	if r := alice.do("GET", "/api/poll?timeout=0", nil); r.Status != 401 || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("poll of an idle session: %d %s, Set-Cookie %q", r.Status, r.Body, r.Header.Get("Set-Cookie"))
	}
	if r := alice.do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("an idle session, after the poll refused it: %d", r.Status)
	}
}

// A node whose cached copy of a session missed its deletion must not bring
// it back when it refreshes the session's hourly "seen" stamp.
func TestSeenRefreshDoesNotRecreateADeletedSession(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.signup("alice")
	other := e.secondNode()
	alice.e = other
	ctx := context.Background()
	key := sessionKey(e, alice)
	// Seen two hours ago (written behind the stores' backs).
	setSeen(t, e, key, time.Now().Add(-2*time.Hour).UnixMilli())
	// The other node's poll reads it (and keeps it); then it is deleted
	// with no news reaching that node.
	alice.mustDo("GET", "/api/poll?timeout=0", nil, 200, nil)
	e.rdb.Del(ctx, key)
	if r := alice.do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("a deleted session answered %d", r.Status)
	}
	if n, _ := e.rdb.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("the deleted session was written back")
	}
}

// A send reads its session without scs when nothing needs writing; one due
// its hourly seen refresh, one past SessionIdle and one that does not
// exist go through scs and requireUser and are answered as any other
// request's.
func TestSendWritesItsSessionOnlyWhenDue(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{SessionIdle: 3 * time.Second}})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	send := map[string]any{"to": bob.User.ID, "type": "single", "body": "hi"}
	r := alice.mustDo("POST", "/api/messages", send, 201, nil)
	if r.Header.Get("Set-Cookie") != "" || r.Header.Get("Vary") != "Cookie" {
		t.Fatalf("a send whose session needs no write: Set-Cookie %q, Vary %q", r.Header.Get("Set-Cookie"), r.Header.Get("Vary"))
	}

	// Seen two hours ago, written behind the stores' backs and read by a
	// node that has not cached it: the send refreshes it.
	key := sessionKey(e, alice)
	stale := time.Now().Add(-2 * time.Hour).UnixMilli()
	setSeen(t, e, key, stale)
	alice.e = e.secondNode()
	if s, _ := sessionRecord(t, e, key)["s"].(float64); int64(s) != stale {
		t.Fatalf("seen is %v before the send, want %d", s, stale)
	}
	alice.mustDo("POST", "/api/messages", send, 201, nil)
	if s, _ := sessionRecord(t, e, key)["s"].(float64); time.Since(time.UnixMilli(int64(s))) > time.Minute {
		t.Fatalf("a send due its hourly refresh left seen at %v", time.UnixMilli(int64(s)))
	}

	// Idle past SessionIdle (a send is not a poll): ended, the cookie cleared.
	time.Sleep(3500 * time.Millisecond)
	if r := alice.do("POST", "/api/messages", send); r.Status != 401 || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("send of an idle session: %d %s, Set-Cookie %q", r.Status, r.Body, r.Header.Get("Set-Cookie"))
	}
	anonymous := e.newClient()
	u, _ := url.Parse(e.http.URL)
	anonymous.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "webchat_session", Value: "made-up"}})
	if r := anonymous.do("POST", "/api/messages", send); r.Status != 401 || r.errorCode() != "unauthorized" {
		t.Fatalf("send with a made-up session: %d %s", r.Status, r.Body)
	}
}

// sessionKey is the Redis key of c's session.
func sessionKey(e *env, c *client) string {
	u, _ := url.Parse(e.http.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == "webchat_session" {
			return e.prefix + "session:" + ck.Value
		}
	}
	e.t.Fatal("no session cookie")
	return ""
}

// session reads the session record at key as Redis holds it.
func sessionRecord(t *testing.T, e *env, key string) map[string]any {
	t.Helper()
	var rec map[string]any
	b, err := e.rdb.Get(context.Background(), key).Bytes()
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		t.Fatalf("read the session: %v", err)
	}
	return rec
}

// setSeen writes the session's seen stamp (Unix ms) behind the stores' backs.
func setSeen(t *testing.T, e *env, key string, seen int64) {
	t.Helper()
	rec := sessionRecord(t, e, key)
	rec["s"] = seen
	b, _ := json.Marshal(rec)
	if err := e.rdb.Set(context.Background(), key, b, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
}
