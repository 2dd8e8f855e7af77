package storetest

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"webchat/store/sqlgraph"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// NewGraph opens a graph on a fresh SQLite file in t.TempDir(), closed in
// t.Cleanup. It is a real file, not ":memory:": every pooled connection to
// ":memory:" would be a different, empty database. To open a second Graph
// on one file, as another process would, use OpenGraph. For the graph's own
// tests, which run on every engine, see ForEachEngine.
func NewGraph(t testing.TB) *sqlgraph.Graph {
	t.Helper()
	return OpenGraph(t, filepath.Join(t.TempDir(), "graph.db"))
}

// OpenGraph opens a graph on the SQLite file at path, creating it if
// missing, closed in t.Cleanup. Open it twice to play two processes.
func OpenGraph(t testing.TB, path string) *sqlgraph.Graph {
	t.Helper()
	return OpenDSN(t, "sqlite:"+path)
}

// OpenDSN opens a graph on the database named by dsn (as sqlgraph.Open
// takes it), closed in t.Cleanup. Open one dsn twice to play two processes.
func OpenDSN(t testing.TB, dsn string) *sqlgraph.Graph {
	t.Helper()
	g, err := sqlgraph.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open graph %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("close graph %s: %v", dsn, err)
		}
	})
	return g
}

// Engine is a SQL database the graph runs on, making a fresh, empty
// database for each test that asks.
type Engine struct {
	// Name is "sqlite" or "postgres", the name of ForEachEngine's subtests.
	Name  string
	newDB func(t testing.TB) string
}

// Engines are the graph's databases: SQLite files in t.TempDir(), and
// databases on the PostgreSQL of Postgres (TEST_DATABASE_URL's, or one the
// harness starts).
func Engines() []Engine {
	return []Engine{
		{Name: "sqlite", newDB: func(t testing.TB) string {
			return "sqlite:" + filepath.Join(t.TempDir(), "graph.db")
		}},
		{Name: "postgres", newDB: func(t testing.TB) string {
			return Postgres(t).NewDatabase(t)
		}},
	}
}

// ForEachEngine runs f as a subtest for each of Engines, named after it.
func ForEachEngine(t *testing.T, f func(t *testing.T, e Engine)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) { f(t, e) })
	}
}

// NewDSN creates a fresh, empty database, removed after the test, and
// returns the dsn sqlgraph.Open takes for it. Nothing is opened: open it
// with OpenDSN, as many times as there are processes to play.
func (e Engine) NewDSN(t testing.TB) string {
	t.Helper()
	return e.newDB(t)
}

// NewGraph opens a graph on a fresh database, closed in t.Cleanup.
func (e Engine) NewGraph(t testing.TB) *sqlgraph.Graph {
	t.Helper()
	return OpenDSN(t, e.NewDSN(t))
}

// SQL opens a database/sql pool of the test's own on the database of dsn,
// outside any Graph, closed in t.Cleanup: for tests that check the schema
// itself or count rows. SQLite waits for a busy lock as the Graph does.
func SQL(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	driver, name := "pgx", dsn
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		driver, name = "sqlite", path+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
