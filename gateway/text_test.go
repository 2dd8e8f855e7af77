package gateway_test

import (
	"fmt"
	"testing"
)

// Names and messages that would look empty, or show their text reversed,
// are refused with a clear message; ordinary text in any script, emoji
// with their selectors and bidi isolates are not.
func TestInvisibleAndReversingTextIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	cases := []struct {
		name, text string
		want       string // error code, "" for accepted
	}{
		{"zero-width only", "\u200b\u200d\u2060", "invalid_field"},
		{"Hangul filler only", "\u3164", "invalid_field"},
		{"Braille blank and a variation selector", "\u2800\ufe0f", "invalid_field"},
		{"right-to-left override", "invoice\u202efdp.exe", "invalid_field"},
		{"left-to-right override", "\u202dabc", "invalid_field"},
		{"an embedding and its pop, as word processors write", "\u202bשלום\u202c", ""},
		{"C1 control", "next\u0085line", "invalid_field"},
		{"Hebrew", "שלום", ""},
		{"Arabic with an isolate", "مرحبا \u2068Bob\u2069", ""},
		{"emoji with a selector and a skin tone", "❤️ 👋🏽", ""},
		{"Chinese", "大家你好", ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.newClient().do("POST", "/api/signup", map[string]any{"username": fmt.Sprintf("user_%d", i), "password": "password1", "display_name": c.text})
			send := alice.do("POST", "/api/messages", map[string]any{"to": bob.User.ID, "type": "single", "body": c.text})
			group := alice.do("POST", "/api/groups", map[string]any{"name": c.text})
			for what, got := range map[string]response{"display name": r, "message": send, "group name": group} {
				if got.errorCode() != c.want || (c.want == "" && got.Status != 201) {
					t.Errorf("%s %q: %d %s, want %q", what, c.text, got.Status, got.Body, c.want)
				}
			}
		})
	}
}
