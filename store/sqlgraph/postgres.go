package sqlgraph

import (
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// Pool limits for one gateway node. Graph calls are short (a few statements,
// no waiting on users), so 20 connections serve many concurrent requests;
// what waits beyond them queues in database/sql rather than in PostgreSQL.
// N nodes hold up to N×20 connections: keep that under the server's
// max_connections (100 by default), or put pgbouncer in front.
const (
	pgMaxOpenConns = 20
	// Idle connections are kept up to the limit, so a burst does not pay
	// PostgreSQL's process-per-connection start-up again, and closed after
	// a quiet while, so an idle node does not sit on the server's slots.
	pgConnMaxIdleTime = 5 * time.Minute
	// Connections are renewed now and then, so after a failover or a DNS
	// change the pool moves to the new server without a restart.
	pgConnMaxLifetime = 30 * time.Minute
	// pgConnectTimeout applies when the URL has no connect_timeout: a
	// server that does not answer fails Open instead of hanging it.
	pgConnectTimeout = 10 * time.Second
)

// pgMigrationLock is the pg_advisory_xact_lock key taken by every migration
// transaction ("webchat1" in ASCII). Any constant works as long as nothing
// else on the database uses it.
const pgMigrationLock int64 = 0x7765626368617431

// openPostgres opens a pool on the PostgreSQL database at dsn, a
// postgres:// or postgresql:// URL. It does not connect: migrate does.
func openPostgres(dsn string) (*sql.DB, dialect, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx quotes the URL in its message and can only redact the
		// password on a best-effort basis: say what is wrong without it.
		reason := "see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING"
		var (
			ue  *url.Error
			pce *pgconn.ParseConfigError
		)
		if _, uerr := url.Parse(dsn); errors.As(uerr, &ue) {
			// url.Error quotes the whole URL too; its cause does not.
			reason = ue.Err.Error()
		} else if errors.As(err, &pce) {
			// A setting pgx refused, as pgx says it, URL left out.
			quiet := *pce
			quiet.ConnString = ""
			reason = strings.TrimPrefix(quiet.Error(), "cannot parse ``: ")
		}
		return nil, dialect{}, fmt.Errorf("open graph: postgres: invalid database URL: %s", reason)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "webchat"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxOpenConns)
	db.SetConnMaxIdleTime(pgConnMaxIdleTime)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	migrations, err := fs.Sub(postgresMigrations, "migrations/postgres")
	if err != nil {
		db.Close()
		return nil, dialect{}, fmt.Errorf("open graph: %w", err)
	}
	return db, dialect{
		migrations:        migrations,
		rebind:            pgRebind,
		isUniqueViolation: pgUniqueViolation,
		bodyLike:          `m.body ILIKE ? ESCAPE '\'`,
		// Two nodes starting at once would otherwise both find a
		// migration missing and both run it: PostgreSQL does not lock
		// the database for a writer the way SQLite does.
		// inTx's reasoning is READ COMMITTED's: whatever the server's
		// default_transaction_isolation, a statement after a row lock
		// sees what the lock waited for, instead of failing with a
		// serialization error as REPEATABLE READ would.
		txOptions:      &sql.TxOptions{Isolation: sql.LevelReadCommitted},
		lockMigrations: "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(pgMigrationLock, 10) + ")",
	}, nil
}

// pgRebind turns the ? placeholders of query into $1, $2, ... in order.
// A ? inside a quoted string or identifier, or in a comment, is left
// alone, though the graph's queries have none.
func pgRebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		switch c := query[i]; c {
		case '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case '\'', '"':
			// Copy to the closing quote; a doubled quote inside is an
			// escaped one and simply closes and reopens.
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case '-':
			if strings.HasPrefix(query[i:], "--") {
				j := strings.IndexByte(query[i:], '\n')
				if j < 0 {
					b.WriteString(query[i:])
					return b.String()
				}
				b.WriteString(query[i : i+j])
				i += j - 1
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pgUniqueViolation reports a violated UNIQUE or PRIMARY KEY constraint,
// SQLSTATE 23505 unique_violation.
func pgUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
