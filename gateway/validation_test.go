package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"webchat/store"
)

func TestBadInputIsRefusedAndStoresNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	to := bob.User.ID
	conv := store.DirectConv(alice.User.ID, bob.User.ID).String()
	msg := func(extra string) string {
		return fmt.Sprintf(`{"to":%d,"type":"single","body":"hi"%s}`, to, extra)
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		names  string // the error message names the field this way, as a person knows it
	}{
		{"unknown field", msg(`,"colour":"red"`), 400, "unknown_field", "colour"},
		{"string where an id belongs", `{"to":"3","type":"single","body":"hi"}`, 400, "invalid_field", "Recipient"},
		{"missing to", `{"type":"single","body":"hi"}`, 400, "missing_field", "Recipient"},
		{"missing body", fmt.Sprintf(`{"to":%d,"type":"single"}`, to), 400, "missing_field", "Message"},
		{"missing type", fmt.Sprintf(`{"to":%d,"body":"hi"}`, to), 400, "missing_field", "Conversation type"},
		{"wrong type", fmt.Sprintf(`{"to":%d,"type":"broadcast","body":"hi"}`, to), 400, "invalid_field", "Conversation type"},
		{"type not a string", fmt.Sprintf(`{"to":%d,"type":1,"body":"hi"}`, to), 400, "invalid_field", "Conversation type"},
		{"blank body", fmt.Sprintf(`{"to":%d,"type":"single","body":" \n\t "}`, to), 400, "invalid_field", "Message"},
		{"empty body", fmt.Sprintf(`{"to":%d,"type":"single","body":""}`, to), 400, "invalid_field", "Message"},
		{"body over 4000 characters", fmt.Sprintf(`{"to":%d,"type":"single","body":"%s"}`, to, strings.Repeat("字", 4001)), 400, "invalid_field", "4000"},
		{"NUL in body", fmt.Sprintf(`{"to":%d,"type":"single","body":"a\u0000b"}`, to), 400, "invalid_field", "Message"},
		{"invalid UTF-8", []byte(fmt.Sprintf(`{"to":%d,"type":"single","body":"a%sb"}`, to, "\xff\xfe")), 400, "invalid_json", "UTF-8"},
		{"request over 64 KiB", fmt.Sprintf(`{"to":%d,"type":"single","body":"%s"}`, to, strings.Repeat("a", 70<<10)), 413, "too_large", "large"},
		{"1 MB body", strings.Repeat(" ", 1<<20), 413, "too_large", "large"},
		{"deeply nested", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), 400, "invalid_json", "object"},
		{"id out of range", fmt.Sprintf(`{"to":%s,"type":"single","body":"hi"}`, "99999999999999999999"), 400, "invalid_field", "Recipient"},
		{"fractional id", `{"to":2.5,"type":"single","body":"hi"}`, 400, "invalid_field", "Recipient"},
		{"negative id", `{"to":-2,"type":"single","body":"hi"}`, 400, "invalid_field", "Recipient"},
		{"zero id", `{"to":0,"type":"single","body":"hi"}`, 400, "invalid_field", "Recipient"},
		{"to yourself", fmt.Sprintf(`{"to":%d,"type":"single","body":"hi"}`, alice.User.ID), 400, "invalid_field", "yourself"},
		{"two objects", msg("") + msg(""), 400, "invalid_json", "exactly one"},
		{"an array", `[1,2]`, 400, "invalid_json", "object"},
		{"malformed", `{"to":`, 400, "invalid_json", ""},
		{"empty", ``, 400, "invalid_json", "empty"},
		{"client_id too long", msg(`,"client_id":"` + strings.Repeat("x", 65) + `"`), 400, "invalid_field", "retry id"},
		{"client_id with spaces", msg(`,"client_id":"a b"`), 400, "invalid_field", "retry id"},
		{"null to", `{"to":null,"type":"single","body":"hi"}`, 400, "missing_field", "Recipient"},
	} {
		e.run(t, tc.name, func(t *testing.T) {
			r := alice.do("POST", "/api/messages", tc.body)
			if r.Status != tc.status || r.errorCode() != tc.code || !strings.Contains(r.errorMessage(), tc.names) {
				t.Fatalf("%d %s, want %d %s naming %q", r.Status, r.Body, tc.status, tc.code, tc.names)
			}
		})
	}
	var h struct{ Messages []store.Message }
	alice.mustDo("GET", "/api/conversations/"+conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 0 {
		t.Fatalf("bad input stored %d messages", len(h.Messages))
	}
	if a := bob.poll(0); countMessages(a) != 0 {
		t.Fatalf("bad input delivered %d messages", countMessages(a))
	}
	// Exactly 4000 characters is fine.
	alice.send(bob.User.ID, "single", strings.Repeat("字", 4000))
}

func countMessages(a pollAnswer) int {
	n := 0
	for _, ev := range a.Events {
		if ev.Type == "message" {
			n++
		}
	}
	return n
}

func TestSignupValidation(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.newClient()
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"short username", map[string]any{"username": "ab", "password": "password1", "display_name": "A"}, "invalid_field"},
		{"long username", map[string]any{"username": strings.Repeat("a", 33), "password": "password1", "display_name": "A"}, "invalid_field"},
		{"bad characters", map[string]any{"username": "al-ice", "password": "password1", "display_name": "A"}, "invalid_field"},
		{"short password", map[string]any{"username": "alice", "password": "short", "display_name": "A"}, "invalid_field"},
		{"blank display name", map[string]any{"username": "alice", "password": "password1", "display_name": " "}, "invalid_field"},
		{"long display name", map[string]any{"username": "alice", "password": "password1", "display_name": strings.Repeat("名", 65)}, "invalid_field"},
		{"missing password", map[string]any{"username": "alice", "display_name": "A"}, "missing_field"},
		{"number as username", map[string]any{"username": 12345, "password": "password1", "display_name": "A"}, "invalid_field"},
	} {
		e.run(t, tc.name, func(t *testing.T) {
			r := c.do("POST", "/api/signup", tc.body)
			if r.Status != 400 || r.errorCode() != tc.code {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
	// Nothing was created: the name is still free.
	c.mustDo("POST", "/api/signup", map[string]any{"username": "alice", "password": "password1", "display_name": "A"}, 201, nil)
}

func TestEveryAuthenticatedRouteNeedsASession(t *testing.T) {
	e := newEnv(t, envOpts{})
	anon := e.newClient()
	for _, rt := range [][2]string{
		{"GET", "/api/me"}, {"POST", "/api/friend-requests"}, {"POST", "/api/friend-requests/1/accept"},
		{"POST", "/api/friend-requests/1/decline"}, {"DELETE", "/api/friends/1"}, {"POST", "/api/groups"},
		{"GET", "/api/groups/1"}, {"POST", "/api/groups/1/members"}, {"PATCH", "/api/groups/1/members/1"},
		{"DELETE", "/api/groups/1/members/1"}, {"POST", "/api/messages"}, {"GET", "/api/poll"},
		{"GET", "/api/conversations/d1-2/messages"}, {"POST", "/api/conversations/d1-2/read"},
	} {
		if r := anon.do(rt[0], rt[1], "{}"); r.Status != 401 || r.errorCode() != "unauthorized" {
			t.Errorf("%s %s: %d %s", rt[0], rt[1], r.Status, r.Body)
		}
	}
}

func TestReadValidation(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	m := alice.send(bob.User.ID, "single", "x")
	for _, tc := range []struct {
		name, conv string
		body       any
		status     int
	}{
		{"missing seq", m.Conv, `{}`, 400},
		{"negative seq", m.Conv, `{"seq":-1}`, 400},
		{"seq as string", m.Conv, `{"seq":"1"}`, 400},
		{"not a participant", "d1-999999", `{"seq":1}`, 404},
		{"malformed conv", "zz", `{"seq":1}`, 404},
	} {
		e.run(t, tc.name, func(t *testing.T) {
			if r := bob.do("POST", "/api/conversations/"+tc.conv+"/read", tc.body); r.Status != tc.status {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
	if u := unreadOf(bob, m.Conv); u != 1 {
		t.Fatalf("unread = %d after refused reads", u)
	}
}
