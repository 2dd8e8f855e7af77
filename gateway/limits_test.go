package gateway_test

import (
	"context"
	"net/netip"
	"testing"

	"webchat/gateway"
)

func TestLoginLimitIsSharedByNodesAndLocksNobodyOut(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{RateAuth: 3, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	e.signup("alice") // one from 127.0.0.1
	other := e.secondNode()
	attacker := other.newClient()
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }
	wrong := map[string]any{"username": "alice", "password": "wrong-password"}
	// Three tries per minute from one address, counted on either node.
	for i := range 3 {
		n := e
		if i%2 == 1 {
			n = other
		}
		r := n.newClient().doFull(context.Background(), "POST", "/api/login", wrong, from("203.0.113.9"))
		if r.Status != 401 {
			t.Fatalf("try %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := attacker.doFull(context.Background(), "POST", "/api/login", wrong, from("203.0.113.9"))
	if r.Status != 429 || r.errorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth try: %d %s", r.Status, r.Body)
	}
	// Alice, from elsewhere, still gets in.
	ok := map[string]any{"username": "alice", "password": "password-alice"}
	if r := e.newClient().doFull(context.Background(), "POST", "/api/login", ok, from("198.51.100.7")); r.Status != 200 {
		t.Fatalf("alice from her own address: %d %s", r.Status, r.Body)
	}
	// An untrusted peer cannot pick its address with X-Forwarded-For.
	e2 := newEnv(t, envOpts{gateway: gateway.Options{RateAuth: 1}})
	c := e2.newClient()
	c.doFull(context.Background(), "POST", "/api/login", wrong, from("192.0.2.1"))
	if r := c.doFull(context.Background(), "POST", "/api/login", wrong, from("192.0.2.2")); r.Status != 429 {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", r.Status)
	}
}
