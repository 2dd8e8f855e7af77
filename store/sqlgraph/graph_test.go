package sqlgraph_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"webchat/store/sqlgraph"

	"github.com/jackc/pgx/v5/pgconn"

	"webchat/store"
	"webchat/store/storetest"
)

// TestMain stops the PostgreSQL the tests started, and any redis-server.
func TestMain(m *testing.M) { storetest.Main(m) }

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
func mkUser(t testing.TB, g *sqlgraph.Graph, username string) store.User {
	t.Helper()
	u, err := g.CreateUser(t.Context(), username, "Display "+username, []byte("hash-"+username))
	checkErr(t, "create user "+username, err, nil)
	return u
}

// forEachGraph runs f once per engine, as subtests named sqlite and
// postgres, each with a graph on a fresh database.
func forEachGraph(t *testing.T, f func(t *testing.T, g *sqlgraph.Graph)) {
	t.Helper()
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		f(t, e.NewGraph(t))
	})
}

// countRows counts the rows of table in the database of dsn, read with a
// connection of the test's own, not through the Graph.
func countRows(t testing.TB, dsn, table string) int {
	t.Helper()
	var n int
	err := storetest.SQL(t, dsn).QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n)
	checkErr(t, "count "+table, err, nil)
	return n
}

// migrations is how many migration files each engine has.
const migrations = 4

func TestOpenGraphRefusesDSN(t *testing.T) {
	for _, tc := range []struct{ name, dsn string }{
		{"unknown scheme", "mysql://u@h/db"},
		{"no scheme", "graph.db"},
		{"postgres keyword form", "host=h user=u password=s3cret dbname=db"},
		{"postgres bad port", "postgres://u:s3cret@h:notaport/db"},
		{"postgres bad escape", "postgres://u:s3cret%zz@h/db"},
		{"postgres bad sslmode", "postgres://u:s3cret@h/db?sslmode=sometimes"},
		{"postgresql bad connect_timeout", "postgresql://u:s3cret@h/db?connect_timeout=soon"},
		{"empty sqlite path", "sqlite:"},
		{"sqlite memory", "sqlite::memory:"},
		{"sqlite uri", "sqlite:file:x.db?mode=memory"},
		{"sqlite query in path", "sqlite:" + filepath.Join(t.TempDir(), "x.db?_txlock=deferred")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := sqlgraph.Open(t.Context(), tc.dsn)
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

// TestOpenGraphPostgresUnreachable: a server that is not there is an
// outage, not a configuration mistake, and the error keeps the password.
func TestOpenGraphPostgresUnreachable(t *testing.T) {
	port, err := storetest.FreePort() // nobody listens there now
	checkErr(t, "free port", err, nil)
	dsn := fmt.Sprintf("postgres://u:s3cret@127.0.0.1:%d/db?sslmode=disable&connect_timeout=5", port)
	g, err := sqlgraph.Open(t.Context(), dsn)
	if err == nil {
		g.Close()
		t.Fatal("OpenGraph: no error")
	}
	if !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("OpenGraph: got error %v, want ErrUnavailable without the password", err)
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
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		dsn := e.NewDSN(t)
		g, err := sqlgraph.Open(t.Context(), dsn)
		checkErr(t, "first open", err, nil)
		u := mkUser(t, g, "alice")
		checkErr(t, "close", g.Close(), nil)

		// Reopening must skip the applied migration: running 0001 again
		// would fail on CREATE TABLE users.
		for i := range 2 {
			g := storetest.OpenDSN(t, dsn)
			got, err := g.UserByID(t.Context(), u.ID)
			checkErr(t, fmt.Sprint("reopen ", i, ": user by id"), err, nil)
			if got != u {
				t.Fatalf("reopen %d: got %+v, want %+v", i, got, u)
			}
		}
		if n := countRows(t, dsn, "schema_migrations"); n != migrations {
			t.Fatalf("schema_migrations: got %d rows, want %d", n, migrations)
		}
	})
}

// TestOpenGraphConcurrentFirstOpen plays gateway nodes starting at once on
// a fresh database: each migration must be applied once, with nobody
// failing. Without the migration lock, two of them run CREATE TABLE at the
// same moment and one fails.
func TestOpenGraphConcurrentFirstOpen(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		dsn := e.NewDSN(t)
		const n = 6
		graphs := make([]*sqlgraph.Graph, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				graphs[i], errs[i] = sqlgraph.Open(t.Context(), dsn)
			})
		}
		close(start)
		wg.Wait()
		for i, g := range graphs {
			if g != nil {
				t.Cleanup(func() { g.Close() })
			}
			checkErr(t, fmt.Sprint("open ", i), errs[i], nil)
		}
		if n := countRows(t, dsn, "schema_migrations"); n != migrations {
			t.Fatalf("schema_migrations: got %d rows, want %d", n, migrations)
		}
		// They all see one schema and one set of rows.
		u := mkUser(t, graphs[0], "alice")
		for i, g := range graphs[1:] {
			got, err := g.UserByID(t.Context(), u.ID)
			checkErr(t, fmt.Sprint("graph ", i+1, ": user by id"), err, nil)
			if got != u {
				t.Fatalf("graph %d: got %+v, want %+v", i+1, got, u)
			}
		}
	})
}

func TestGraphClosedIsUnavailable(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		g, err := sqlgraph.Open(t.Context(), e.NewDSN(t))
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
	})
}

// TestGraphTwoProcessesWrite plays two gateway processes sharing one
// database: on SQLite every write must wait for the lock (busy_timeout,
// BEGIN IMMEDIATE) instead of failing with SQLITE_BUSY; on both the group
// limit must hold across the two.
func TestGraphTwoProcessesWrite(t *testing.T) {
	storetest.ForEachEngine(t, testGraphTwoProcessesWrite)
}

func testGraphTwoProcessesWrite(t *testing.T, e storetest.Engine) {
	dsn := e.NewDSN(t)
	graphs := []*sqlgraph.Graph{storetest.OpenDSN(t, dsn), storetest.OpenDSN(t, dsn)}
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
	storetest.ForEachEngine(t, testSchemaOnePendingRequestPerPair)
}

func testSchemaOnePendingRequestPerPair(t *testing.T, e storetest.Engine) {
	dsn := e.NewDSN(t)
	g := storetest.OpenDSN(t, dsn)
	a, b := mkUser(t, g, "ann"), mkUser(t, g, "ben")
	_, err := g.RequestFriend(t.Context(), a.ID, "ben")
	checkErr(t, "ann asks ben", err, nil)

	db := storetest.SQL(t, dsn)
	query := `INSERT INTO friend_requests (from_id, to_id, pair_lo, pair_hi, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, 0)`
	if e.Name == "postgres" {
		query = `INSERT INTO friend_requests (from_id, to_id, pair_lo, pair_hi, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, 0, 0)`
	}
	insert := func(from, to store.UserID, status string) error {
		lo, hi := min(from, to), max(from, to)
		_, err := db.ExecContext(t.Context(), query, from, to, lo, hi, status)
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
			if refused := isUniqueViolation(err); refused != tc.refused || (err != nil && !refused) {
				t.Fatalf("insert %s request %d→%d: got error %v, want refused %v", tc.status, tc.from, tc.to, err, tc.refused)
			}
		})
	}
}

// isUniqueViolation reports whether err is a driver's unique violation,
// read independently of the store's own test.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
