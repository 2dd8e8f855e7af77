package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process started for the bench, stopped by its own pid.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

func start(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Never outlive the bench, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &proc{name: name, cmd: cmd, log: f}, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop asks the process to stop (SIGTERM), then kills it.
func (p *proc) stop() {
	if p == nil || p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls ready until it succeeds or the timeout passes.
func waitFor(ctx context.Context, what string, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", what, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func httpOK(url string) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %d", url, resp.StatusCode)
		}
		return nil
	}
}

// redisCmd sends one inline command to Redis and returns the first line.
func redisCmd(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// stack is the servers of one scenario.
type stack struct {
	dir       string
	redisAddr string
	redis     *proc
	nodes     []*proc
	nodeURLs  []string
	nginx     *proc
	nchanURL  string
	floor     *proc
	floorURL  string
}

func (s *stack) startRedis(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.redisAddr = "127.0.0.1:" + strconv.Itoa(port)
	s.redis, err = start("redis", filepath.Join(s.dir, "redis.log"), nil, "redis-server",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--maxclients", "30000")
	if err != nil {
		return err
	}
	return waitFor(ctx, "redis-server", 15*time.Second, func() error {
		l, err := redisCmd(s.redisAddr, "PING")
		if err == nil && l != "+PONG" {
			err = fmt.Errorf("PING answered %q", l)
		}
		return err
	})
}

// webchatEnv is the nodes' configuration, recorded in the doc.
func webchatEnv(gogc string) []string {
	return []string{
		"BCRYPT_COST=4", "RATE_SEND=0", "RATE_AUTH=0", "RATE_AUTH_USER=0", "RATE_ADD=0", "RATE_FANOUT=0", "POLL_TIMEOUT=25",
		"POLL_WAIT=subscribe", "MAX_POLLS_PER_NODE=12000", "GOGC=" + gogc,
	}
}

func (s *stack) startNodes(ctx context.Context, bin string, n int, gogc string, extra []string) error {
	db := filepath.Join(s.dir, "webchat.db")
	for i := range n {
		port, err := freePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		env := append(webchatEnv(gogc), "ADDR="+addr, "REDIS_URL=redis://"+s.redisAddr, "DATABASE_URL=sqlite:"+db,
			"NODE_NAME=node"+strconv.Itoa(i+1))
		env = append(env, extra...) // later entries win
		p, err := start("webchat", filepath.Join(s.dir, fmt.Sprintf("webchat-%d.log", i+1)), env, bin)
		if err != nil {
			return err
		}
		s.nodes = append(s.nodes, p)
		url := "http://" + addr
		if err := waitFor(ctx, "webchat node", 30*time.Second, httpOK(url+"/healthz")); err != nil {
			return err
		}
		s.nodeURLs = append(s.nodeURLs, url)
	}
	return nil
}

func (s *stack) stopNodes() {
	for _, p := range s.nodes {
		p.stop()
	}
	s.nodes, s.nodeURLs = nil, nil
}

// startNchan renders loadtest/nchan/nginx.conf into the scenario's folder
// and runs nginx in the foreground as a child.
func (s *stack) startNchan(ctx context.Context, confTemplate string, workers int) error {
	tmpl, err := os.ReadFile(confTemplate)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := strings.NewReplacer("@DIR@", dir, "@LISTEN@", "127.0.0.1:"+strconv.Itoa(port),
		"@REDIS@", "redis://"+s.redisAddr, "@WORKERS@", strconv.Itoa(workers)).Replace(string(tmpl))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return err
	}
	s.nginx, err = start("nginx", filepath.Join(dir, "stdout.log"), nil, "nginx", "-p", dir, "-c", path, "-g", "daemon off;")
	if err != nil {
		return err
	}
	s.nchanURL = "http://127.0.0.1:" + strconv.Itoa(port)
	return waitFor(ctx, "nginx (nchan)", 15*time.Second, httpOK(s.nchanURL+"/nchan_status"))
}

func (s *stack) stopNchan() {
	s.nginx.stop()
	s.nginx = nil
}

// startFloor runs loadtest/cmd/floor, the net/http-only long-poll server,
// with the nodes' GOGC.
func (s *stack) startFloor(ctx context.Context, bin, gogc string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.floor, err = start("floor", filepath.Join(s.dir, "floor.log"), []string{"GOGC=" + gogc}, bin, "-addr", addr)
	if err != nil {
		return err
	}
	s.floorURL = "http://" + addr
	return waitFor(ctx, "floor", 15*time.Second, httpOK(s.floorURL+"/nchan_status"))
}

func (s *stack) stopFloor() {
	s.floor.stop()
	s.floor = nil
}

func (s *stack) stop() {
	s.stopNodes()
	s.stopNchan()
	s.stopFloor()
	s.redis.stop()
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func commandOutput(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
