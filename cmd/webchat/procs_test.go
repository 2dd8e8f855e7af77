package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"webchat/store/storetest"
)

// These helpers run webchat as real processes behind a real nginx.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// webchatBinary builds the webchat binary once per test run.
func webchatBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "webchat-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "webchat")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is one webchat process.
type proc struct {
	Name, URL string
	cmd       *exec.Cmd
	log       string
	done      chan struct{} // closed when the process has exited
	err       error         // its exit, once done is closed
}

// startProc starts a webchat node process with env added to a test
// baseline, and waits until /healthz answers.
func startProc(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	port, err := storetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return startProcAt(t, name, port, env)
}

// restartProc starts p again on its port (once it has exited), so that
// nginx finds it where it was.
func restartProc(t *testing.T, p *proc, env map[string]string) *proc {
	t.Helper()
	var port int
	fmt.Sscanf(p.URL, "http://127.0.0.1:%d", &port)
	return startProcAt(t, p.Name, port, env)
}

func startProcAt(t *testing.T, name string, port int, env map[string]string) *proc {
	t.Helper()
	p := &proc{Name: name, URL: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	var err error
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(webchatBinary(t))
	p.cmd.Env = append(os.Environ(), "ADDR=127.0.0.1:"+fmt.Sprint(port), "NODE_NAME="+name, "BCRYPT_COST=4",
		"RATE_SEND=0", "RATE_AUTH=0", "RATE_AUTH_USER=0", "RATE_ADD=0", "RATE_FANOUT=0", "POLL_SLICE=1", "DRAIN_WINDOW=1", "TRUSTED_PROXIES=127.0.0.1")
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s log:\n%s", name, tail(string(b), 3000))
		}
	})
	storetest.WaitFor(t, 30*time.Second, name+" to answer /healthz", func() bool {
		resp, err := http.Get(p.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitingPolls reads webchat_polls_waiting from the node itself.
func (p *proc) waitingPolls() int {
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^webchat_polls_waiting (\d+)`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	var n int
	fmt.Sscan(string(m[1]), &n)
	return n
}

// startNginx runs nginx with deploy/nginx.conf, its upstreams and listen
// address replaced by the test's, and returns its URL.
func startNginx(t *testing.T, nodes []*proc) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("nginx not installed (make test installs it): %v", err)
		}
	}
	conf, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	port, err := storetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// The shipped server lines' parameters (max_fails, fail_timeout), on
	// the test's nodes.
	shipped := regexp.MustCompile(`(?m)^\s*server 127\.0\.0\.1:808[1-9]( [^;]*)?;\n`)
	m := shipped.FindStringSubmatch(string(conf))
	if m == nil {
		t.Fatal("deploy/nginx.conf has no server 127.0.0.1:808x line to replace")
	}
	var servers strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&servers, "        server %s%s;\n", strings.TrimPrefix(n.URL, "http://"), m[1])
	}
	c := shipped.ReplaceAllString(string(conf), "")
	c = strings.Replace(c, "upstream webchat {\n", "upstream webchat {\n"+servers.String(), 1)
	c = strings.Replace(c, "listen 127.0.0.1:8080;", fmt.Sprintf("listen 127.0.0.1:%d;", port), 1)
	c = strings.Replace(c, "worker_processes auto;", "worker_processes 1;", 1)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o777)
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", "nginx.conf", "-g", "daemon off;")
	logPath := filepath.Join(dir, "nginx.log")
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("nginx log:\n%s", tail(string(b), 3000))
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	storetest.WaitFor(t, 15*time.Second, "nginx to answer", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return url
}
