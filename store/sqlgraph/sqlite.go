package sqlgraph

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// sqliteParams configure every connection of the pool (modernc.org/sqlite
// runs the _pragma list on each new connection, in order):
//   - busy_timeout first, so every lock waits for another process instead
//     of failing with SQLITE_BUSY;
//   - foreign_keys, which SQLite leaves off by default;
//   - synchronous NORMAL, durable across process crashes in WAL mode and
//     much cheaper than FULL (a power loss can lose the last commits);
//   - _txlock=immediate: every transaction begins with BEGIN IMMEDIATE (see
//     Graph.inTx).
//
// WAL mode, so readers never block the writer and several processes can
// share the file, is not among them: it is stored in the file, and
// sqliteWAL sets it once per open.
const sqliteParams = "_pragma=busy_timeout(10000)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_txlock=immediate"

// sqliteBusyWait bounds sqliteWAL's retries, as busy_timeout bounds the
// pool's waits.
const sqliteBusyWait = 10 * time.Second

// openSQLite opens the SQLite file at path, creating its directory, and
// puts it in WAL mode.
func openSQLite(ctx context.Context, path string) (*sql.DB, dialect, error) {
	switch {
	case path == "":
		return nil, dialect{}, errors.New("open graph: sqlite: empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		// Every pooled connection to :memory: is a different, empty
		// database; URIs would carry parameters that fight ours.
		return nil, dialect{}, fmt.Errorf("open graph: sqlite: %q: want a file path", path)
	case strings.ContainsAny(path, "?#"):
		// The driver takes everything after '?' as its parameters.
		return nil, dialect{}, fmt.Errorf("open graph: sqlite: %q: '?' and '#' are not allowed in the path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, dialect{}, unavailable("open graph", err)
	}
	db, err := sql.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		return nil, dialect{}, unavailable("open graph", err)
	}
	if err := sqliteWAL(ctx, db); err != nil {
		db.Close()
		return nil, dialect{}, unavailable("open graph: sqlite: set WAL mode", err)
	}
	// database/sql keeps only 2 idle connections by default; under load it
	// would keep opening connections, each re-running the pragmas above.
	db.SetMaxIdleConns(8)
	migrations, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		db.Close()
		return nil, dialect{}, fmt.Errorf("open graph: %w", err)
	}
	return db, dialect{
		migrations:        migrations,
		rebind:            func(q string) string { return q }, // SQLite takes ? as is
		isUniqueViolation: sqliteUniqueViolation,
		bodyLike:          `m.rowid IN (SELECT rowid FROM messages_fts WHERE body LIKE ? ESCAPE '\')`,
	}, nil
}

// sqliteWAL puts the database in WAL mode. Switching a fresh file takes an
// exclusive lock that SQLite does not wait for, busy_timeout or not: with
// several processes opening a new file at once (as a pragma on every
// connection, this failed a few first opens in a hundred) the losers get
// SQLITE_BUSY at once. So it is done once here, before any other
// statement, and retried until the winner is done.
func sqliteWAL(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, sqliteBusyWait)
	defer cancel()
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("journal mode is %q, want wal", mode)
		case !sqliteBusy(err):
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sqliteBusy reports SQLITE_BUSY, with any extended code.
func sqliteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// sqliteUniqueViolation reports a violated UNIQUE or PRIMARY KEY constraint.
// The driver turns on extended result codes, so the code says which
// constraint kind failed without parsing the message.
func sqliteUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}
