package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"webchat/store/sqlgraph"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresServer is a PostgreSQL server for tests: TEST_DATABASE_URL's
// when it is set, otherwise one this test binary started. Tests never
// share a database: NewDatabase makes a fresh one each. Its methods are
// safe for concurrent use.
type PostgresServer struct {
	// AdminURL is a postgres:// URL of a database on the server (not a
	// test's) that may create and drop databases.
	AdminURL string
	admin    *sql.DB

	// Set only when the harness started the server.
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

var (
	pgOnce   sync.Once
	pgShared *PostgresServer
	pgErr    error
	pgDBN    atomic.Int64
)

// Postgres returns the PostgreSQL server shared by every test of this
// binary. With TEST_DATABASE_URL set it is that URL's server; otherwise it
// is started on first use from Debian's packages (initdb and postgres under
// `pg_config --bindir` or /usr/lib/postgresql/<version>/bin, run as the
// postgres user when the tests run as root, which PostgreSQL refuses to
// run as), in a temporary folder, on a free loopback port, and stopped by
// Main or killed with the test binary (Pdeathsig). A missing binary fails
// the test: CI must run every test.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	pgOnce.Do(func() {
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			pgShared, pgErr = usePostgres(u)
			return
		}
		pgShared, pgErr = startPostgres()
	})
	if pgErr != nil {
		t.Fatalf("postgres for tests: %v", pgErr)
	}
	return pgShared
}

// NewDatabase creates an empty database on the server (from template0, so
// nothing a previous test left in template1 leaks in) and returns its
// postgres:// URL. The database is dropped in t.Cleanup, with any
// connection still open to it; clean-ups run last-in first-out, so a Graph
// opened after NewDatabase is closed before the drop.
func (s *PostgresServer) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("webchat_test_%d_%d", os.Getpid(), pgDBN.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(s.AdminURL)
	if err != nil {
		t.Fatalf("admin url: %v", err) // checked in usePostgres
	}
	u.Path = "/" + name
	return u.String()
}

// NewPostgresGraph opens a graph on a fresh PostgreSQL database, closed in
// t.Cleanup and then dropped.
func NewPostgresGraph(t testing.TB) *sqlgraph.Graph {
	t.Helper()
	return OpenDSN(t, Postgres(t).NewDatabase(t))
}

// usePostgres takes the server of TEST_DATABASE_URL, a postgres:// URL of a
// database whose user may create databases.
func usePostgres(adminURL string) (*PostgresServer, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not err itself: it would quote the password.
		return nil, errors.New("TEST_DATABASE_URL: want a postgres:// URL")
	}
	s := &PostgresServer{AdminURL: adminURL}
	if err := s.connect(30 * time.Second); err != nil {
		return nil, fmt.Errorf("TEST_DATABASE_URL: %w", err)
	}
	return s, nil
}

// connect opens the admin pool and waits until the server answers, or the
// process the harness started exits, or the timeout passes.
func (s *PostgresServer) connect(timeout time.Duration) error {
	db, err := sql.Open("pgx", s.AdminURL)
	if err != nil {
		return errors.New("open admin connection: invalid URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err = db.PingContext(pctx)
		pcancel()
		if err == nil {
			s.admin = db
			return nil
		}
		var exited <-chan struct{} = s.exited // nil (never ready) without a process
		select {
		case <-exited:
			db.Close()
			return fmt.Errorf("postgres exited before answering: %w", err)
		case <-ctx.Done():
			db.Close()
			return fmt.Errorf("postgres did not answer in %v: %w", timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startPostgres makes a cluster with initdb in a temporary folder and
// starts postgres on it. The postmaster is this process's child, not
// pg_ctl's daemon, so Pdeathsig can kill it if the test binary dies
// without running Main; its backends exit when they see it gone.
func startPostgres() (*PostgresServer, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "webchat-postgres-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		// initdb and postgres run as this user and need the folder; it
		// also holds the unix socket, so no /var/run/postgresql is needed.
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := postgresCommand(bin, "initdb", dir, cred,
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", initdb, err, out)
	}
	// A port free a moment ago can be taken by the time postgres binds
	// it (other test binaries run at once): try a few.
	for attempt := 1; ; attempt++ {
		s, err := runPostgres(bin, dir, data, cred)
		if err == nil {
			ok = true
			return s, nil
		}
		if attempt == 3 {
			return nil, err
		}
	}
}

// runPostgres starts postgres on data, on a free loopback port, and waits
// until it answers.
func runPostgres(bin, dir, data string, cred *syscall.Credential) (*PostgresServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd := postgresCommand(bin, "postgres", dir, cred,
		"-D", data,
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		// Throwaway data: no waiting for the disk. -F is fsync=off.
		"-F", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB",
		"-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	s := &PostgresServer{
		AdminURL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		dir:      dir,
		cmd:      cmd,
		exited:   make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	if err := s.connect(60 * time.Second); err != nil {
		s.kill()
		log, _ := os.ReadFile(logPath)
		if len(log) > 4000 {
			log = log[len(log)-4000:]
		}
		return nil, fmt.Errorf("postgres on port %d: %w; log:\n%s", port, err, log)
	}
	return s, nil
}

// postgresCommand runs bin/name as cred (nil: as ourselves) in dir.
func postgresCommand(bin, name, dir string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = dir // our working folder may be closed to the postgres user
	// PG* variables of the person running the tests must not reach the
	// server (PGDATA, PGPORT, ...); HOME is one postgres may read.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "HOME=")
	})
	cmd.Env = append(cmd.Env, "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// postgresBinDir finds the folder of initdb and postgres: Debian keeps them
// out of PATH, under `pg_config --bindir` (which libpq-dev alone also
// answers, without the server) or /usr/lib/postgresql/<version>/bin.
func postgresBinDir() (string, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// The newest version first: "9.6" < "15" by number, not by string.
	slices.SortFunc(found, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb and postgres not found under pg_config --bindir or /usr/lib/postgresql/*/bin " +
		"(make test installs Debian's postgresql; or set TEST_DATABASE_URL)")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// postgresCredential is whom initdb and postgres run as: nobody else when
// the tests are not root, the postgres user when they are (both refuse to
// run as root).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("tests run as root and PostgreSQL refuses to: need the postgres user "+
			"(Debian's postgresql package makes it): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user id %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres group id %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// stop shuts the server down, if the harness started it: a fast shutdown
// (SIGINT: running transactions roll back), or SIGKILL if that takes too
// long. Its folder is removed.
func (s *PostgresServer) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.kill()
	}
	os.RemoveAll(s.dir)
}

func (s *PostgresServer) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// stopPostgres stops the shared server if this binary started it; Main
// calls it.
func stopPostgres() {
	if pgShared != nil {
		pgShared.stop()
	}
}
