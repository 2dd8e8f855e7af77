package gateway_test

import "testing"

// One user's sessions are capped at the devices' cap (10): the 11th log-in
// ends the oldest session (401 there), so sessions never churn each
// other's devices with endless resyncs.
func TestSessionsPerUserAreCapped(t *testing.T) {
	e := newEnv(t, envOpts{})
	first := e.signup("alice")
	all := []*client{first}
	for range 14 {
		all = append(all, first.login())
	}
	for i, c := range all {
		want := 200
		if i < 5 {
			want = 401
		}
		if r := c.do("GET", "/api/me", nil); r.Status != want {
			t.Fatalf("session %d of 15: /api/me %d, want %d", i+1, r.Status, want)
		}
	}
	resyncs := 0
	for round := range 3 {
		for _, c := range all[5:] {
			var a pollAnswer
			c.mustDo("GET", c.pollPath(0), nil, 200, &a)
			c.cursor = a.Cursor
			if a.Resync && round > 0 {
				resyncs++
			}
		}
	}
	if resyncs > 0 {
		t.Fatalf("%d resync answers after the first round: sessions are churning devices", resyncs)
	}
}
