package gateway_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"webchat/gateway"
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
		{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, // a navigation without Sec-Fetch-*
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

// A request with X-Forwarded-For from a peer that is not a trusted proxy is
// warned of, once for a while, and counted; from a trusted one, not.
func TestForwardedRequestFromAnUntrustedPeerIsWarnedOf(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, envOpts{logs: logs})
	c := e.newClient()
	for range 3 {
		c.doFull(context.Background(), "GET", "/api/me", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"})
	}
	if n := strings.Count(logs.String(), "not a trusted proxy"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "peer=127.0.0.1") || !strings.Contains(logs.String(), "TRUSTED_PROXIES") {
		t.Fatalf("the warning does not name the peer and the setting:\n%s", logs.String())
	}
	if m := string(c.do("GET", "/metrics", nil).Body); !strings.Contains(m, "\nwebchat_untrusted_forwarded_total 3\n") {
		t.Fatalf("metric:\n%s", grepLines(m, "untrusted"))
	}

	logs2 := &logBuffer{}
	trusted := newEnv(t, envOpts{logs: logs2, gateway: gateway.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	trusted.newClient().doFull(context.Background(), "GET", "/api/me", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if strings.Contains(logs2.String(), "not a trusted proxy") {
		t.Fatalf("a trusted proxy was warned of:\n%s", logs2.String())
	}
}

// A draining node closes, unanswered, only the requests of a trusted proxy
// that says it retries them; everyone else gets the JSON 503 draining.
func TestDrainingClosesOnlyForAProxyThatRetries(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	alice := e.signup("alice")
	e.srv.Drain(context.Background())
	for name, h := range map[string]map[string]string{
		"a direct client":             nil,
		"a proxy that does not retry": {"X-Forwarded-For": "203.0.113.5"},
	} {
		r := alice.doFull(context.Background(), "GET", "/api/me", nil, h)
		if r.Status != 503 || r.errorCode() != "draining" || r.Header.Get("Retry-After") != "0" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	r := alice.doFull(context.Background(), "GET", "/api/me", nil, map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Webchat-Retries-Closed": "1"})
	if r.Status != -1 {
		t.Fatalf("a proxy that retries closed connections was answered %d %s", r.Status, r.Body)
	}
}
