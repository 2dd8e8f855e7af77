package gateway_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/storetest"
)

// PostgreSQL refusing connections: graph changes answer 503 and change
// nothing, messages between friends still flow (no SQL on that path), and
// the node recovers by itself when the database is back.
func TestPostgresGoneAndBack(t *testing.T) {
	pg := storetest.Postgres(t)
	dsn := pg.NewDatabase(t)
	e := newEnv(t, envOpts{graph: storetest.OpenDSN(t, dsn), plane: plane.Options{HistoryCap: 3}})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	conv := store.DirectConv(alice.User.ID, bob.User.ID).String()
	alice.send(bob.User.ID, "single", "before")
	bob.messages(1, 5*time.Second)
	waitArchived(e)
	u, _ := url.Parse(dsn)
	name := strings.TrimPrefix(u.Path, "/")
	admin := storetest.SQL(t, pg.AdminURL)
	exec := func(q string) {
		t.Helper()
		if _, err := admin.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(fmt.Sprintf(`ALTER DATABASE %q ALLOW_CONNECTIONS false`, name))
	exec(fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()`, name))

	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/groups", map[string]any{"name": "while down"}},
		{"POST", "/api/friend-requests", map[string]any{"username": "carol"}},
		{"GET", "/api/me", nil},
	} {
		start := time.Now()
		r := alice.do(tc.method, tc.path, tc.body)
		if r.Status != 503 || r.errorCode() != "unavailable" || time.Since(start) > 15*time.Second {
			t.Fatalf("%s %s while SQL is gone: %d %s after %v", tc.method, tc.path, r.Status, r.Body, time.Since(start))
		}
	}
	if r := e.newClient().do("GET", "/readyz", nil); r.Status != 503 || !strings.Contains(string(r.Body), `"sql":"unavailable"`) {
		t.Fatalf("/readyz: %d %s", r.Status, r.Body)
	}
	// Sending and polling go on; the window keeps every message SQL does
	// not hold yet, past HISTORY_CAP.
	for i := range 5 {
		alice.send(bob.User.ID, "single", fmt.Sprint("SQL is down, chat is not ", i))
	}
	if got := bob.messages(5, 5*time.Second); got[4].Body != "SQL is down, chat is not 4" {
		t.Fatalf("bob got %+v", got)
	}
	if n := e.rdb.LLen(context.Background(), e.prefix+"hist:{c:"+conv+"}").Val(); n != 5 {
		t.Fatalf("the window holds %d messages while SQL is down, want the 5 it does not hold", n)
	}
	var ready map[string]string
	mustJSON(t, e.newClient().do("GET", "/readyz", nil).Body, &ready)
	if ready["archive_backlog"] != "5" {
		t.Fatalf("/readyz while SQL is down: %v, want the 5 messages waiting", ready)
	}
	// History answers from the window, and says there is more.
	var p historyPage
	bob.mustDo("GET", "/api/conversations/"+conv+"/messages", nil, 200, &p)
	if len(p.Messages) != 5 || !p.HasMore || p.Messages[0].Seq != 2 {
		t.Fatalf("history while SQL is down: %+v", p)
	}

	exec(fmt.Sprintf(`ALTER DATABASE %q ALLOW_CONNECTIONS true`, name))
	var g struct{ Group store.Group }
	storetest.WaitFor(t, 15*time.Second, "the node to reach SQL again", func() bool {
		return alice.do("GET", "/api/me", nil).Status == 200
	})
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "after"}, 201, &g)
	var me struct{ Groups []store.Group }
	alice.mustDo("GET", "/api/me", nil, 200, &me)
	if len(me.Groups) != 1 || me.Groups[0].Name != "after" {
		t.Fatalf("groups after recovery: %+v (a change made while SQL was gone?)", me.Groups)
	}
	// The archive catches up: each message once, in SQL.
	waitArchived(e)
	alice.send(bob.User.ID, "single", "after")
	waitArchived(e)
	admin2 := storetest.SQL(t, dsn)
	var n, distinct int
	if err := admin2.QueryRowContext(context.Background(), `SELECT COUNT(*), COUNT(DISTINCT seq) FROM messages WHERE conv = $1`, conv).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 7 || distinct != 7 {
		t.Fatalf("SQL holds %d messages (%d seqs), want 7", n, distinct)
	}
	if all := readAll(t, bob, conv, 2); len(all) != 7 {
		t.Fatalf("history after SQL came back: %d messages", len(all))
	}
}

// A SQLite file locked by another process: writes wait out the busy
// timeout, answer 503 and change nothing; they work once the lock goes.
func TestSQLiteLockedAnswers503(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	e := newEnv(t, envOpts{graph: storetest.OpenGraph(t, path)})
	alice := e.signup("alice")
	e.signup("bob")
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
	r := alice.do("POST", "/api/friend-requests", map[string]any{"username": "bob"})
	if r.Status != 503 || r.errorCode() != "unavailable" {
		t.Fatalf("while locked: %d %s", r.Status, r.Body)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	var req struct{ Request store.FriendRequest }
	alice.mustDo("POST", "/api/friend-requests", map[string]any{"username": "bob"}, 201, &req)
	if req.Request.ID != 1 {
		t.Fatalf("request id %d: the refused attempt left a row", req.Request.ID)
	}
}
