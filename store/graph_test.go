package store_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"webchat/store"
	"webchat/store/storetest"
)

// checkErr fails the test unless err is want: no error when want is nil,
// otherwise errors.Is(err, want).
func checkErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// mkUser creates a user with a throwaway hash: the graph stores hashes, it
// does not make them.
func mkUser(t testing.TB, g *store.Graph, username string) store.User {
	t.Helper()
	u, err := g.CreateUser(t.Context(), username, "Display "+username, []byte("hash-"+username))
	checkErr(t, "create user "+username, err, nil)
	return u
}

// countRows counts the rows of table in the SQLite file at path, read with
// a connection of the test's own, not through the Graph.
func countRows(t testing.TB, path, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	checkErr(t, "open "+path, err, nil)
	defer db.Close()
	var n int
	err = db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n)
	checkErr(t, "count "+table, err, nil)
	return n
}

func TestOpenGraphRefusesDSN(t *testing.T) {
	for _, tc := range []struct{ name, dsn string }{
		{"unknown scheme", "mysql://u@h/db"},
		{"postgres not yet", "postgres://u:s3cret@h/db"},
		{"no scheme", "graph.db"},
		{"empty sqlite path", "sqlite:"},
		{"sqlite memory", "sqlite::memory:"},
		{"sqlite uri", "sqlite:file:x.db?mode=memory"},
		{"sqlite query in path", "sqlite:" + filepath.Join(t.TempDir(), "x.db?_txlock=deferred")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := store.OpenGraph(t.Context(), tc.dsn)
			if err == nil {
				g.Close()
				t.Fatalf("OpenGraph(%q): no error", tc.dsn)
			}
			// A configuration mistake is not an outage, and never echoes
			// a password.
			if errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("OpenGraph(%q): got error %v", tc.dsn, err)
			}
		})
	}
}

func TestOpenGraphCreatesParentDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "graph.db")
	g := storetest.OpenGraph(t, path)
	checkErr(t, "ping", g.Ping(t.Context()), nil)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestOpenGraphReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	g, err := store.OpenGraph(t.Context(), "sqlite:"+path)
	checkErr(t, "first open", err, nil)
	u := mkUser(t, g, "alice")
	checkErr(t, "close", g.Close(), nil)

	// Reopening must skip the applied migration: running 0001 again would
	// fail on CREATE TABLE users.
	for i := range 2 {
		g := storetest.OpenGraph(t, path)
		got, err := g.UserByID(t.Context(), u.ID)
		checkErr(t, fmt.Sprint("reopen ", i, ": user by id"), err, nil)
		if got != u {
			t.Fatalf("reopen %d: got %+v, want %+v", i, got, u)
		}
	}
	if n := countRows(t, path, "schema_migrations"); n != 1 {
		t.Fatalf("schema_migrations: got %d rows, want 1", n)
	}
}

func TestOpenGraphConcurrentFirstOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			g, err := store.OpenGraph(t.Context(), "sqlite:"+path)
			if err == nil {
				err = g.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		checkErr(t, fmt.Sprint("open ", i), err, nil)
	}
	if n := countRows(t, path, "schema_migrations"); n != 1 {
		t.Fatalf("schema_migrations: got %d rows, want 1", n)
	}
}

func TestGraphClosedIsUnavailable(t *testing.T) {
	g, err := store.OpenGraph(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "graph.db"))
	checkErr(t, "open", err, nil)
	checkErr(t, "ping open graph", g.Ping(t.Context()), nil)
	checkErr(t, "close", g.Close(), nil)

	checkErr(t, "ping closed graph", g.Ping(t.Context()), store.ErrUnavailable)
	_, err = g.UserByID(t.Context(), 1)
	checkErr(t, "user by id on closed graph", err, store.ErrUnavailable)
	_, err = g.CreateUser(t.Context(), "bob", "Bob", []byte("h"))
	checkErr(t, "create user on closed graph", err, store.ErrUnavailable)
	_, err = g.RequestFriend(t.Context(), 1, "bob")
	checkErr(t, "request friend on closed graph", err, store.ErrUnavailable)
}

// TestGraphTwoProcessesWrite plays two gateway processes sharing one SQLite
// file: every write must wait for the lock (busy_timeout, BEGIN IMMEDIATE)
// instead of failing with SQLITE_BUSY, and the group limit must hold across
// both.
func TestGraphTwoProcessesWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	graphs := []*store.Graph{storetest.OpenGraph(t, path), storetest.OpenGraph(t, path)}
	owner := mkUser(t, graphs[0], "owner")
	const maxMembers = 8
	grp, err := graphs[1].CreateGroup(t.Context(), owner.ID, "shared", "", maxMembers)
	checkErr(t, "create group", err, nil)

	const workers = 24
	errs := make([]error, workers)
	added := make([]bool, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			g := graphs[i%2]
			name := fmt.Sprintf("worker%d", i)
			if _, err := g.CreateUser(t.Context(), name, name, []byte("h")); err != nil {
				errs[i] = err
				return
			}
			if _, err := g.RequestFriend(t.Context(), owner.ID, name); err != nil {
				errs[i] = err
				return
			}
			_, _, err := g.AddMember(t.Context(), owner.ID, grp.ID, name)
			if errors.Is(err, store.ErrGroupFull) {
				return
			}
			errs[i], added[i] = err, err == nil
		})
	}
	close(start)
	wg.Wait()
	n := 0
	for i, err := range errs {
		checkErr(t, fmt.Sprint("worker ", i), err, nil)
		if added[i] {
			n++
		}
	}
	if n != maxMembers-1 {
		t.Fatalf("members added: got %d, want %d", n, maxMembers-1)
	}
	ids, err := graphs[0].MemberIDs(t.Context(), grp.ID)
	checkErr(t, "member ids", err, nil)
	if len(ids) != maxMembers {
		t.Fatalf("members: got %d, want %d", len(ids), maxMembers)
	}
	_, out, err := graphs[1].FriendRequests(t.Context(), owner.ID)
	checkErr(t, "friend requests", err, nil)
	if len(out) != workers {
		t.Fatalf("outgoing requests: got %d, want %d", len(out), workers)
	}
}

// TestSchemaOnePendingRequestPerPair checks the partial unique index that
// RequestFriend's retry relies on where writers do not serialize
// (PostgreSQL): a second pending request for a pair, either way round, is
// refused, while answered ones may pile up.
func TestSchemaOnePendingRequestPerPair(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	g := storetest.OpenGraph(t, path)
	a, b := mkUser(t, g, "ann"), mkUser(t, g, "ben")
	_, err := g.RequestFriend(t.Context(), a.ID, "ben")
	checkErr(t, "ann asks ben", err, nil)

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	checkErr(t, "open "+path, err, nil)
	defer db.Close()
	insert := func(from, to store.UserID, status string) error {
		lo, hi := min(from, to), max(from, to)
		_, err := db.ExecContext(t.Context(),
			`INSERT INTO friend_requests (from_id, to_id, pair_lo, pair_hi, status, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, 0, 0)`, from, to, lo, hi, status)
		return err
	}
	for _, tc := range []struct {
		name     string
		from, to store.UserID
		status   string
		refused  bool
	}{
		{"second pending the same way is refused", a.ID, b.ID, "pending", true},
		{"second pending the other way is refused", b.ID, a.ID, "pending", true},
		{"declined beside pending is kept", b.ID, a.ID, "declined", false},
		{"accepted beside pending is kept", a.ID, b.ID, "accepted", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := insert(tc.from, tc.to, tc.status)
			if refused := err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed"); refused != tc.refused || (err != nil && !refused) {
				t.Fatalf("insert %s request %d→%d: got error %v, want refused %v", tc.status, tc.from, tc.to, err, tc.refused)
			}
		})
	}
}
