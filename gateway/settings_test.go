package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"webchat/store/storetest"
)

// A Redis that can lose data is named in a warning, on /readyz (which stays
// 200: every node shares that Redis) and in a metric; once it is made safe,
// all three say so.
func TestUnsafeRedisSettingsAreSeen(t *testing.T) {
	srv := storetest.StartRedis(t, "--maxmemory-policy", "volatile-lru")
	logs := &logBuffer{}
	e := newEnv(t, envOpts{redis: srv, logs: logs})
	ctx := context.Background()
	ready := func() map[string]string {
		t.Helper()
		r := e.newClient().do("GET", "/readyz", nil)
		var body map[string]string
		if r.Status != 200 || json.Unmarshal(r.Body, &body) != nil {
			t.Fatalf("/readyz: %d %s", r.Status, r.Body)
		}
		return body
	}
	metric := func() string {
		return grepLines(string(e.newClient().do("GET", "/metrics", nil).Body), "webchat_redis_unsafe_setting{")
	}
	if got := ready()["redis_settings"]; got != "unknown" {
		t.Fatalf("before any check: redis_settings %q", got)
	}

	e.srv.CheckRedisSettings(ctx)
	got := ready()["redis_settings"]
	for _, want := range []string{"appendonly=no", "maxmemory-policy=volatile-lru", srv.Addr} {
		if !strings.Contains(got, want) {
			t.Errorf("/readyz redis_settings %q does not name %s", got, want)
		}
	}
	l := logs.String()
	for _, want := range []string{"setting=appendonly value=no", "setting=maxmemory-policy value=volatile-lru", "inboxes and in-flight lists"} {
		if !strings.Contains(l, want) {
			t.Errorf("the log does not say %q:\n%s", want, l)
		}
	}
	if m := metric(); !strings.Contains(m, `setting="maxmemory-policy",value="volatile-lru"} 1`) || !strings.Contains(m, `setting="appendonly",value="no"} 1`) {
		t.Errorf("metric:\n%s", m)
	}
	// Checked again unchanged: no second warning.
	e.srv.CheckRedisSettings(ctx)
	if n := strings.Count(logs.String(), "setting=appendonly"); n != 1 {
		t.Errorf("the same finding was logged %d times", n)
	}

	admin := srv.Client(t)
	for k, v := range map[string]string{"maxmemory-policy": "noeviction", "appendonly": "yes"} {
		if err := admin.ConfigSet(ctx, k, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.CheckRedisSettings(ctx)
	if got := ready()["redis_settings"]; got != "ok" {
		t.Errorf("after the fix: redis_settings %q", got)
	}
	if m := metric(); m != "" {
		t.Errorf("after the fix the metric still says:\n%s", m)
	}
	if !strings.Contains(logs.String(), "safe again") {
		t.Errorf("the fix was not logged:\n%s", logs.String())
	}
}
