package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

func TestErrorMessagesAreForAPerson(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	var g struct{ Group struct{ ID int64 } }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "g"}, 201, &g)
	anon := e.newClient()
	signup := func(extra map[string]any) map[string]any {
		b := map[string]any{"username": "newbie", "password": "password1", "display_name": "N"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	send := func(extra string) string {
		return fmt.Sprintf(`{"to":%d,"type":"single","body":"hi"%s}`, bob.User.ID, extra)
	}
	for _, tc := range []struct {
		name         string
		c            *client
		method, path string
		body         any
		code         string
		message      string // the whole message, or "" to check only its shape
	}{
		{"display name too long", anon, "POST", "/api/signup", signup(map[string]any{"display_name": strings.Repeat("名", 65)}), "invalid_field", "Display name must be 1–64 characters"},
		{"blank display name", anon, "POST", "/api/signup", signup(map[string]any{"display_name": " "}), "invalid_field", "Display name must not be blank"},
		{"display name missing", anon, "POST", "/api/signup", `{"username":"newbie","password":"password1"}`, "missing_field", "Display name is required"},
		{"username of bad characters", anon, "POST", "/api/signup", signup(map[string]any{"username": "al-ice"}), "invalid_field", ""},
		{"short password", anon, "POST", "/api/signup", signup(map[string]any{"password": "short"}), "invalid_field", "Password must be at least 8 characters"},
		{"password too long", anon, "POST", "/api/login", map[string]any{"username": "alice", "password": strings.Repeat("x", 73)}, "invalid_field", ""},
		{"number as username", anon, "POST", "/api/signup", signup(map[string]any{"username": 12345}), "invalid_field", "Username must be text"},
		{"wrong password", anon, "POST", "/api/login", map[string]any{"username": "alice", "password": "wrong-password"}, "invalid_credentials", ""},
		{"not logged in", anon, "GET", "/api/me", nil, "unauthorized", ""},
		{"group name blank", alice, "POST", "/api/groups", map[string]any{"name": " "}, "invalid_field", "Group name must not be blank"},
		{"group name missing", alice, "POST", "/api/groups", map[string]any{"brief": "x"}, "missing_field", "Group name is required"},
		{"max members out of range", alice, "POST", "/api/groups", map[string]any{"name": "g2", "max_members": 1}, "invalid_field", "Max members must be from 2 to 2000"},
		{"brief too long", alice, "POST", "/api/groups", map[string]any{"name": "g2", "brief": strings.Repeat("a", 501)}, "invalid_field", ""},
		{"unknown role", alice, "PATCH", fmt.Sprintf("/api/groups/%d/members/%d", g.Group.ID, alice.User.ID), map[string]any{"role": "king"}, "invalid_field", ""},
		{"recipient as a string", alice, "POST", "/api/messages", fmt.Sprintf(`{"to":"%d","type":"single","body":"hi"}`, bob.User.ID), "invalid_field", "Recipient must be a number"},
		{"recipient missing", alice, "POST", "/api/messages", `{"type":"single","body":"hi"}`, "missing_field", "Recipient is required"},
		{"blank message", alice, "POST", "/api/messages", fmt.Sprintf(`{"to":%d,"type":"single","body":" "}`, bob.User.ID), "invalid_field", "Message must not be blank"},
		{"message too long", alice, "POST", "/api/messages", fmt.Sprintf(`{"to":%d,"type":"single","body":"%s"}`, bob.User.ID, strings.Repeat("a", 4001)), "invalid_field", "Message must be at most 4000 characters"},
		{"unknown conversation type", alice, "POST", "/api/messages", fmt.Sprintf(`{"to":%d,"type":"broadcast","body":"hi"}`, bob.User.ID), "invalid_field", ""},
		{"bad client id", alice, "POST", "/api/messages", send(`,"client_id":"a b"`), "invalid_field", ""},
		{"to yourself", alice, "POST", "/api/messages", fmt.Sprintf(`{"to":%d,"type":"single","body":"hi"}`, alice.User.ID), "invalid_field", "You cannot send a message to yourself"},
		{"unknown field", alice, "POST", "/api/messages", send(`,"colour":"red"`), "unknown_field", ""},
		{"malformed JSON", alice, "POST", "/api/messages", `{"to":`, "invalid_json", ""},
		{"negative read mark", alice, "POST", "/api/conversations/d1-2/read", `{"seq":-1}`, "invalid_field", ""},
		{"read mark missing", alice, "POST", "/api/conversations/d1-2/read", `{}`, "missing_field", ""},
		{"bad history page", alice, "GET", "/api/conversations/d1-2/messages?before=x", nil, "invalid_query", ""},
		{"bad poll timeout", alice, "GET", "/api/poll?timeout=soon", nil, "invalid_query", ""},
		{"bad cursor", alice, "GET", "/api/poll?timeout=0&cursor=nope", nil, "invalid_cursor", ""},
		{"method not allowed", alice, "DELETE", "/api/me", nil, "method_not_allowed", ""},
	} {
		e.run(t, tc.name, func(t *testing.T) {
			r := tc.c.do(tc.method, tc.path, tc.body)
			msg := r.errorMessage()
			if r.errorCode() != tc.code || msg == "" {
				t.Fatalf("%d %s, want code %s", r.Status, r.Body, tc.code)
			}
			if tc.message != "" && msg != tc.message {
				t.Fatalf("message %q, want %q", msg, tc.message)
			}
			if first := []rune(msg)[0]; !unicode.IsUpper(first) || apiName.MatchString(msg) {
				t.Fatalf("message %q is not worded for a person", msg)
			}
		})
	}
}

func TestUsernameMayStartWithAnAt(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	var req struct {
		Request struct{ To struct{ ID int64 } }
	}
	alice.mustDo("POST", "/api/friend-requests", map[string]any{"username": "@Bob"}, 201, &req)
	if req.Request.To.ID != int64(bob.User.ID) {
		t.Fatalf("a request to @Bob went to user %d", req.Request.To.ID)
	}
	befriend(alice, carol)
	var g struct{ Group struct{ ID int64 } }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "g"}, 201, &g)
	var m struct{ Member struct{ ID int64 } }
	alice.mustDo("POST", fmt.Sprintf("/api/groups/%d/members", g.Group.ID), map[string]any{"username": "@carol"}, 201, &m)
	if m.Member.ID != int64(carol.User.ID) {
		t.Fatalf("adding @carol added user %d", m.Member.ID)
	}
	// Spaces around it, as a paste brings them: the same pending request.
	if r := alice.do("POST", "/api/friend-requests", map[string]any{"username": " @bob\t"}); r.Status != 200 {
		t.Errorf("a request to \" @bob\\t\": %d %s", r.Status, r.Body)
	}
	// Only one @, and only in front.
	for _, name := range []string{"@@bob", "b@ob", "bob@"} {
		if r := alice.do("POST", "/api/friend-requests", map[string]any{"username": name}); r.Status != 404 || r.errorCode() != "user_not_found" {
			t.Errorf("a request to %q: %d %s", name, r.Status, r.Body)
		}
	}
}

// An unknown API path answers in the API's JSON, not the file server's
// text: a GET 404 (it would otherwise reach the static files), a POST 405
// as the router answers any path it has only for GET.
func TestUnknownAPIPathIsAJSONNotFound(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.signup("alice")
	for m, want := range map[string]string{"GET": "not_found", "POST": "method_not_allowed"} {
		if r := alice.do(m, "/api/no-such-thing", nil); r.errorCode() != want {
			t.Errorf("%s /api/no-such-thing: %d %s", m, r.Status, r.Body)
		}
	}
}
