package gateway_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// /readyz fails while SQL answers but refuses writes (a SQLite file locked
// by another process) and while Redis answers but is full (maxmemory under
// noeviction), and comes back when they do.
func TestReadyFailsWhileWritesAreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	rs := storetest.StartRedis(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	e := newEnv(t, envOpts{redis: rs, graph: storetest.OpenGraph(t, path)})
	ready := func() (int, map[string]string, time.Duration) {
		t.Helper()
		start := time.Now()
		r := e.newClient().do("GET", "/readyz", nil)
		var body map[string]string
		json.Unmarshal(r.Body, &body)
		return r.Status, body, time.Since(start)
	}
	if code, body, _ := ready(); code != 200 {
		t.Fatalf("at first: %d %v", code, body)
	}

	locker, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	conn, err := locker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	code, body, took := ready()
	if code != 503 || body["sql"] != "read_only" {
		t.Fatalf("SQLite locked: %d %v", code, body)
	}
	if took > 5*time.Second {
		t.Fatalf("/readyz took %v with SQLite locked: it must not wait out the busy timeout", took)
	}
	conn.ExecContext(context.Background(), "ROLLBACK")
	conn.Close()
	if code, body, _ := ready(); code != 200 {
		t.Fatalf("SQLite unlocked: %d %v", code, body)
	}

	admin := rs.Client(t)
	ctx := context.Background()
	big := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		if err := admin.Set(ctx, fmt.Sprintf("filler:%d", i), big, 0).Err(); err != nil {
			if !strings.Contains(err.Error(), "OOM") {
				t.Fatal(err)
			}
			break
		}
	}
	if code, body, _ := ready(); code != 503 || body["redis"] != "out_of_memory" {
		t.Fatalf("Redis full: %d %v", code, body)
	}
	if err := admin.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := ready(); code != 200 {
		t.Fatalf("Redis emptied: %d %v", code, body)
	}
}
