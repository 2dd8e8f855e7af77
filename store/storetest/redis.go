// Package storetest holds test helpers: real redis-server processes on free
// loopback ports and SQLite files in temporary folders. A missing binary is a
// test failure, never a skip: CI must run every test.
package storetest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server process started for tests. Its methods are
// safe for concurrent use.
type RedisServer struct {
	Addr string
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// URL returns a redis:// URL for the server.
func (s *RedisServer) URL() string { return "redis://" + s.Addr }

var (
	sharedOnce sync.Once
	shared     *RedisServer
	sharedErr  error
	prefixN    atomic.Int64
)

// Redis returns the redis-server shared by every test of this binary,
// starting it on first use. Tests sharing it must use their own key prefix
// (Prefix) and never FLUSHDB. The process is killed when the test binary
// exits (Pdeathsig) or when Main returns.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "webchat-redis-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = startRedis(dir, nil)
	})
	if sharedErr != nil {
		t.Fatalf("start shared redis-server: %v", sharedErr)
	}
	return shared
}

// Main runs the tests and stops the shared redis-server, and the shared
// PostgreSQL if this binary started one, afterwards. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.stop()
		os.RemoveAll(shared.dir)
	}
	stopPostgres()
	os.Exit(code)
}

// StartRedis starts a redis-server of the test's own, stopped in t.Cleanup.
// Use it for tests that stop, restart or slow down Redis. Extra arguments
// are passed to redis-server (for example "--appendonly", "yes").
func StartRedis(t testing.TB, extra ...string) *RedisServer {
	t.Helper()
	s, err := startRedis(t.TempDir(), extra)
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Prefix returns a key prefix no other test of this binary uses.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("t%d-%d:", os.Getpid(), prefixN.Add(1))
}

// Client returns a go-redis client for the server, closed in t.Cleanup.
func (s *RedisServer) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop kills the server (SIGKILL) and waits for it to exit.
func (s *RedisServer) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

// Restart stops the server and starts it again on the same port and folder,
// so with appendonly the data survives. It waits until the server answers.
func (s *RedisServer) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	if err := s.start(); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
}

// Start starts a stopped server again.
func (s *RedisServer) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
}

func startRedis(dir string, extra []string) (*RedisServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	s.args = append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", dir, "--save", "", "--appendonly", "no",
		"--logfile", filepath.Join(dir, "redis.log"),
		"--enable-debug-command", "local",
	}, extra...)
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *RedisServer) start() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server not installed (make test installs it): %w", err)
	}
	cmd := exec.Command(bin, s.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	// Wait until it answers PING rather than sleeping a guessed time.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := ping(s.Addr); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("redis-server on %s did not answer: %w; log: %s", s.Addr, err, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *RedisServer) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	cmd.Wait()
}

func (s *RedisServer) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitFor polls cond until it is true or the deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
