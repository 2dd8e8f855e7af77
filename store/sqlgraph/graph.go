// Package sqlgraph is webchat's social graph in SQL (users, friendships,
// friend requests, groups, members, invitations) on SQLite or PostgreSQL,
// with the schema's migrations for both. It speaks store's domain types
// and errors; sql.ErrNoRows never leaves it.
package sqlgraph

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"webchat/store"
)

// Graph is the SQL social graph: users, friendships, friend requests, groups
// and their members. Open it with Open. It is safe for concurrent use,
// and any number of Graphs, in one process or many, may share one database:
// every change that reads before it writes runs in one write transaction
// (BEGIN IMMEDIATE on SQLite; on PostgreSQL, READ COMMITTED with a row lock
// or a unique index deciding each race, see actingMember and RequestFriend),
// so its checks and its writes see the same state. A zero Graph is not
// usable.
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
	// lockMigrations, if set, is run first in every migration transaction
	// to serialize migrations across processes; SQLite needs none, its
	// BEGIN IMMEDIATE already holds the database's write lock.
	lockMigrations string
	// txOptions are inTx's transaction options; nil for the driver's
	// default.
	txOptions *sql.TxOptions
	// bodyLike is the search's condition on messages m with one ? for
	// a LIKE pattern that escapes with a backslash: SQLite's trigram FTS5
	// index, PostgreSQL's ILIKE over a pg_trgm index.
	bodyLike string
}

// Open opens the database named by dsn and brings its schema up to date.
// dsn is "sqlite:<path>", whose file and parent directory are created if
// missing, or a "postgres://" (or "postgresql://") URL of an existing
// database. Several processes may open the same database at once:
// migrations are applied under a lock (SQLite's write lock, a PostgreSQL
// advisory lock), each only once. A dsn of an unknown kind or a malformed
// URL is an error that does not wrap ErrUnavailable and never quotes a
// password; failing to reach or migrate the database wraps ErrUnavailable.
func Open(ctx context.Context, dsn string) (*Graph, error) {
	var (
		db  *sql.DB
		d   dialect
		err error
	)
	switch scheme, rest, _ := strings.Cut(dsn, ":"); scheme {
	case "sqlite":
		db, d, err = openSQLite(ctx, rest)
	case "postgres", "postgresql":
		db, d, err = openPostgres(dsn)
	default:
		// Only a scheme, and only one that looks like one: a database
		// URL, or a keyword=value string with no colon, can carry a
		// password.
		what := "unsupported database"
		if isScheme(scheme) {
			what += fmt.Sprintf(" %q", scheme)
		}
		return nil, fmt.Errorf("open graph: %s (want sqlite:<path> or postgres://...)", what)
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

// isScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, '+', '-', '.'), short enough to be one.
func isScheme(s string) bool {
	if s == "" || len(s) > 20 || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
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

// PingWrite reports whether the database takes writes, for readiness
// checks: it runs an update of nothing in a write transaction, which on
// SQLite takes the write lock (a database another process holds locked
// fails it once ctx ends) and on PostgreSQL fails in a read-only database
// or transaction. A failure wraps ErrUnavailable.
func (g *Graph) PingWrite(ctx context.Context) error {
	return g.inTx(ctx, "ping graph write", func(r runner) error {
		_, err := r.exec(ctx, `UPDATE users SET id = id WHERE id = 0`)
		return err
	})
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
// fn's checks and its writes. On PostgreSQL it is a READ COMMITTED
// transaction: each statement sees what committed before it began, so
// writers do not serialize; fn takes a row lock first where its checks
// must not go stale (actingMember), or leaves the race to a unique index
// (RequestFriend). A coded error from fn is returned as is; anything else
// is wrapped as unavailable(op, ...).
func (g *Graph) inTx(ctx context.Context, op string, fn func(r runner) error) error {
	tx, err := g.db.BeginTx(ctx, g.d.txOptions)
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

// unavailable wraps an infrastructure error as store.ErrUnavailable.
func unavailable(op string, err error) error { return store.Unavailable(op, err) }

var (
	// These guard the graph against values the gateway already refuses.
	errInvalidRole       = &store.Error{Kind: store.ErrInvalid, Code: "invalid_role", Message: "The role must be owner, admin or member"}
	errInvalidMaxMembers = &store.Error{Kind: store.ErrInvalid, Code: "invalid_max_members", Message: "A group must allow at least one member"}
)

// classify returns a coded error as is and wraps anything else as
// unavailable.
func classify(op string, err error) error {
	var coded *store.Error
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
// schema_migrations. The version is checked inside the transaction, under
// the migration lock (the write lock on SQLite, an advisory lock on
// PostgreSQL), so processes opening a fresh database at once apply each
// migration exactly once; schema_migrations itself is created under the
// same lock, since PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
// against a concurrent one.
func (g *Graph) migrate(ctx context.Context) error {
	const op = "migrate graph"
	names, err := fs.Glob(g.d.migrations, "*.sql") // sorted by name
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = g.inMigrationTx(ctx, op, func(r runner) error {
		// applied_at is in Unix milliseconds: BIGINT, as PostgreSQL's
		// INTEGER has only 32 bits (SQLite's has 64 either way).
		_, err := r.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT  NOT NULL
		)`)
		return err
	})
	if err != nil {
		return err
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
		err = g.inMigrationTx(ctx, op+" "+name, func(r runner) error {
			var n int
			if err := r.row(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// The file is the dialect's own SQL, with no placeholders
			// to rebind (and a ? in a comment must stay one). With no
			// arguments both drivers run every statement in it.
			if _, err := r.q.ExecContext(ctx, string(body)); err != nil {
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

// inMigrationTx is inTx holding the dialect's migration lock, if it has
// one, from the first statement.
func (g *Graph) inMigrationTx(ctx context.Context, op string, fn func(r runner) error) error {
	return g.inTx(ctx, op, func(r runner) error {
		if g.d.lockMigrations != "" {
			if _, err := r.q.ExecContext(ctx, g.d.lockMigrations); err != nil {
				return err
			}
		}
		return fn(r)
	})
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
