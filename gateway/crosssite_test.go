package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A poll that a browser makes as a navigation or for another site's page is
// refused before it touches anything: the device's waiting poll is not
// superseded and still gets the next message. The page's own fetches, and
// clients without Sec-Fetch-* headers, poll as before.
func TestPollFromAnotherSiteIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.poll(0)
	waiting := make(chan response, 1)
	go func() { waiting <- bob.do("GET", bob.pollPath(20), nil) }()
	e.waitPolls(1)

	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
		{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
		{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, // typed into the address bar
		{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"},
	} {
		r := bob.doFull(context.Background(), "GET", "/api/poll?timeout=0", nil, h)
		if r.Status != 403 || r.errorCode() != "cross_origin" {
			t.Fatalf("a poll with %v: %d %s", h, r.Status, r.Body)
		}
	}
	alice.mustDo("POST", "/api/messages", map[string]any{"to": bob.User.ID, "type": "single", "body": "still yours"}, 201, nil)
	select {
	case r := <-waiting:
		if r.Status != 200 || !strings.Contains(string(r.Body), "still yours") {
			t.Fatalf("bob's waiting poll: %d %s", r.Status, r.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob's waiting poll never got the message")
	}
	own := bob.doFull(context.Background(), "GET", "/api/poll?timeout=0", nil, map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"})
	if own.Status != 200 {
		t.Fatalf("the page's own poll: %d %s", own.Status, own.Body)
	}
}
