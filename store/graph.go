package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// Graph is the SQL social graph: users, friendships, friend requests, groups
// and their members. Open it with OpenGraph. It is safe for concurrent use,
// and any number of Graphs, in one process or many, may share one database:
// every change that reads before it writes runs in one write transaction
// (BEGIN IMMEDIATE on SQLite), so its checks and its writes see the same
// state. A zero Graph is not usable.
//
// Errors: expected outcomes are the coded errors of this package
// (ErrUserNotFound, ErrGroupFull, ...); anything the database itself failed
// at wraps ErrUnavailable. sql.ErrNoRows never leaves the package.
type Graph struct {
	db *sql.DB
	d  dialect
}

// dialect is what differs between SQL databases. Queries are written once,
// with ? placeholders and portable SQL (RETURNING, ON CONFLICT DO NOTHING,
// partial indexes), and go through rebind, so PostgreSQL only needs a
// dialect whose rebind turns ? into $N, its own migrations and its own
// unique-violation test.
type dialect struct {
	migrations fs.FS // NNNN_name.sql files, applied in order
	rebind     func(query string) string
	// isUniqueViolation reports whether err (possibly wrapped) is a
	// violated unique or primary key constraint.
	isUniqueViolation func(err error) bool
}

// OpenGraph opens the database named by dsn and brings its schema up to date.
// dsn is "sqlite:<path>"; the file and its parent directory are created if
// missing. Several processes may open the same file at once: migrations are
// applied under the write lock and each only once. A dsn of an unknown kind
// is an error that does not wrap ErrUnavailable; failing to reach or migrate
// the database wraps ErrUnavailable.
func OpenGraph(ctx context.Context, dsn string) (*Graph, error) {
	var (
		db  *sql.DB
		d   dialect
		err error
	)
	switch scheme, rest, _ := strings.Cut(dsn, ":"); scheme {
	case "sqlite":
		db, d, err = openSQLite(rest)
	default:
		// Only the scheme: a database URL can carry a password.
		return nil, fmt.Errorf("open graph: unsupported database %q (want sqlite:<path>)", scheme)
	}
	if err != nil {
		return nil, err
	}
	g := &Graph{db: db, d: d}
	if err := g.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return g, nil
}

// Close closes the database. Calls in flight may fail with ErrUnavailable.
func (g *Graph) Close() error { return g.db.Close() }

// Ping reports whether the database answers, for readiness checks. A failure
// wraps ErrUnavailable.
func (g *Graph) Ping(ctx context.Context) error {
	if err := g.db.PingContext(ctx); err != nil {
		return unavailable("ping graph", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runner runs ?-placeholder statements on the pool or in a transaction,
// rebinding them for the dialect, so the helpers below serve both.
type runner struct {
	q querier
	d *dialect
}

func (r runner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, r.d.rebind(query), args...)
}

func (r runner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, r.d.rebind(query), args...)
}

func (r runner) row(ctx context.Context, query string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, r.d.rebind(query), args...)
}

// pool returns a runner outside any transaction, for single-statement reads.
func (g *Graph) pool() runner { return runner{q: g.db, d: &g.d} }

// inTx runs fn in one write transaction and commits it if fn returns nil.
// On SQLite the DSN makes every transaction BEGIN IMMEDIATE: it takes the
// write lock up front (waiting out busy_timeout behind other writers, in this
// process or another) instead of failing with SQLITE_BUSY when a read
// transaction tries to become a write one, and nothing can change between
// fn's checks and its writes. A coded error from fn is returned as is;
// anything else is wrapped as unavailable(op, ...).
func (g *Graph) inTx(ctx context.Context, op string, fn func(r runner) error) error {
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(op, err)
	}
	// A no-op after Commit; after a failure it releases the write lock.
	defer tx.Rollback()
	if err := fn(runner{q: tx, d: &g.d}); err != nil {
		return classify(op, err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// classify returns a coded error as is and wraps anything else as
// unavailable.
func classify(op string, err error) error {
	var coded *Error
	if errors.As(err, &coded) {
		return err
	}
	return unavailable(op, err)
}

// notFound maps sql.ErrNoRows to the coded error the caller expects, so
// sql.ErrNoRows never leaves the package; other errors pass through.
func notFound(err, coded error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return coded
	}
	return err
}

// nowMS is the time stored in created_at and the like, in Unix milliseconds.
func nowMS() int64 { return time.Now().UnixMilli() }

// migrate applies the dialect's migrations that the database has not seen,
// in version order, each in its own transaction together with its row in
// schema_migrations. The version is checked again inside the transaction,
// under the write lock, so two processes opening a fresh file at once apply
// each migration exactly once.
func (g *Graph) migrate(ctx context.Context) error {
	const op = "migrate graph"
	names, err := fs.Glob(g.d.migrations, "*.sql") // sorted by name
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	r := g.pool()
	if _, err := r.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return unavailable(op, err)
	}
	last := 0
	for _, name := range names {
		v, err := migrationVersion(name)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if v <= last {
			return fmt.Errorf("%s: %s: version %d does not follow %d", op, name, v, last)
		}
		last = v
		body, err := fs.ReadFile(g.d.migrations, name)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		err = g.inTx(ctx, op+" "+name, func(r runner) error {
			var n int
			if err := r.row(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := r.exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := r.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, nowMS())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrationVersion parses the version of a file named like 0001_init.sql.
func migrationVersion(name string) (int, error) {
	digits, _, ok := strings.Cut(name, "_")
	v, err := strconv.Atoi(digits)
	if !ok || err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %q: want a name like 0001_what.sql", name)
	}
	return v, nil
}
