package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestSignupLoginLogout(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.signup("alice")
	if alice.User.ID <= 0 || alice.User.Username != "alice" || alice.User.DisplayName != "Alice" {
		t.Fatalf("user = %+v", alice.User)
	}
	alice.mustDo("GET", "/api/me", nil, 200, nil)

	e.run(t, "cookie flags", func(t *testing.T) {
		c := e.newClient()
		r := c.mustDo("POST", "/api/signup", map[string]any{"username": "cookie_check", "password": "password1", "display_name": "C"}, 201, nil)
		var session, known string
		for _, sc := range r.Header.Values("Set-Cookie") {
			switch {
			case strings.HasPrefix(sc, "webchat_session="):
				session = sc
			case strings.HasPrefix(sc, "webchat_known="):
				known = sc
			}
		}
		if !strings.Contains(session, "HttpOnly") || !strings.Contains(session, "SameSite=Lax") || strings.Contains(session, "Secure") {
			t.Fatalf("session Set-Cookie = %q", session)
		}
		// The mark of a browser that logged in before goes only to log-ins.
		if !strings.Contains(known, "HttpOnly") || !strings.Contains(known, "SameSite=Strict") || !strings.Contains(known, "Path=/api/login") {
			t.Fatalf("known-browser Set-Cookie = %q", known)
		}
	})
	e.run(t, "log-in renews the token", func(t *testing.T) {
		c := e.newClient()
		first := c.mustDo("POST", "/api/login", map[string]any{"username": "alice", "password": "password-alice"}, 200, nil)
		second := c.mustDo("POST", "/api/login", map[string]any{"username": "ALICE", "password": "password-alice"}, 200, nil)
		if token(first) == "" || token(first) == token(second) {
			t.Fatalf("tokens %q then %q", token(first), token(second))
		}
	})
	e.run(t, "wrong password and unknown user look the same", func(t *testing.T) {
		c := e.newClient()
		a := c.do("POST", "/api/login", map[string]any{"username": "alice", "password": "wrong-password"})
		b := c.do("POST", "/api/login", map[string]any{"username": "nobody_here", "password": "wrong-password"})
		if a.Status != 401 || b.Status != 401 || string(a.Body) != string(b.Body) || a.errorCode() != "invalid_credentials" {
			t.Fatalf("wrong password %d %s; unknown user %d %s", a.Status, a.Body, b.Status, b.Body)
		}
	})
	e.run(t, "duplicate username in another case", func(t *testing.T) {
		c := e.newClient()
		r := c.do("POST", "/api/signup", map[string]any{"username": "ALICE", "password": "password1", "display_name": "A"})
		if r.Status != 409 || r.errorCode() != "username_taken" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	e.run(t, "72-byte password limit", func(t *testing.T) {
		c := e.newClient()
		ok := strings.Repeat("é", 36) // 72 bytes
		c.mustDo("POST", "/api/signup", map[string]any{"username": "longpw", "password": ok, "display_name": "L"}, 201, nil)
		r := c.do("POST", "/api/signup", map[string]any{"username": "longpw2", "password": ok + "x", "display_name": "L"})
		if r.Status != 400 || !strings.Contains(r.errorMessage(), "72") {
			t.Fatalf("73 bytes: %d %s", r.Status, r.Body)
		}
		r = c.do("POST", "/api/login", map[string]any{"username": "longpw", "password": ok + "x"})
		if r.Status != 400 {
			t.Fatalf("log-in with 73 bytes: %d %s", r.Status, r.Body)
		}
	})
	e.run(t, "log-out", func(t *testing.T) {
		alice.mustDo("POST", "/api/logout", nil, 204, nil)
		if r := alice.do("GET", "/api/me", nil); r.Status != 401 || r.errorCode() != "unauthorized" {
			t.Fatalf("after log-out: %d %s", r.Status, r.Body)
		}
	})
}

func token(r response) string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "webchat_session" {
			return c.Value
		}
	}
	return ""
}

func (r response) errorMessage() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Message
}

func TestCrossOriginRequestsAreRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.signup("alice")
	req, _ := http.NewRequest("POST", e.http.URL+"/api/groups", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := alice.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-origin POST: %d", resp.StatusCode)
	}
	var me struct{ Groups []any }
	alice.mustDo("GET", "/api/me", nil, 200, &me)
	if len(me.Groups) != 0 {
		t.Fatal("the cross-origin request created a group")
	}
}
