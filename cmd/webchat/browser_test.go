package main

// The browser client in a real headless Chromium, against a real server
// (run) over a real redis-server and a SQLite file. Each person is a
// separate browser context (own cookies and storage); tabs of one person
// share theirs. Nothing sleeps to let things happen: every wait is a
// condition polled in the page, or over HTTP, with a deadline.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"webchat/store/storetest"
)

// The package's TestMain (main_test.go) runs storetest.Main.

const (
	browserPassword = "correct horse 1"
	// uiArrival is the deadline for a message to reach another page. The
	// latency itself is logged; benchmarks measure it properly.
	uiArrival = 5 * time.Second
	// uiSettle is the deadline for anything else the page does.
	uiSettle = 15 * time.Second
)

// --- the server --------------------------------------------------------------

type testServer struct {
	URL string

	mu    sync.Mutex
	users map[string]*apiUser // by username, as apiSignup made them
}

// startServer runs a node (main_test.go's startNode) on the shared
// redis-server under a key prefix of its own.
// extra are more settings, as name, value pairs.
func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	rs := storetest.Redis(t)
	env := map[string]string{
		"REDIS_URL":    rs.URL(),
		"REDIS_PREFIX": storetest.Prefix(t),
		"POLL_TIMEOUT": "20",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	n := startNode(t, env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", tail(n.out.String(), 6000))
		}
	})
	return &testServer{URL: n.URL}
}

// outage stops and starts again, on the same address, Redis and database,
// the node of startRestartableServer.
type outage struct {
	t   *testing.T
	url string
	env map[string]string
	n   *node
}

// startRestartableServer runs a node on a fixed port with a database of its
// own, so that a test can take it away (an outage) and bring it back where
// the page looks for it.
func startRestartableServer(t *testing.T) (*testServer, *outage) {
	t.Helper()
	port, err := storetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	o := &outage{t: t, env: map[string]string{
		"ADDR":         fmt.Sprintf("127.0.0.1:%d", port),
		"REDIS_URL":    storetest.Redis(t).URL(),
		"REDIS_PREFIX": storetest.Prefix(t),
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "webchat.db"),
		"POLL_TIMEOUT": "20",
	}}
	o.start()
	o.url = o.n.URL
	return &testServer{URL: o.url}, o
}

// stop stops the node and waits until nothing listens on its address.
func (o *outage) stop() {
	o.t.Helper()
	o.n.stop()
	storetest.WaitFor(o.t, uiSettle, "the node to stop listening", func() bool {
		resp, err := http.Get(o.url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
}

// start starts the node (again).
func (o *outage) start() {
	o.t.Helper()
	o.n = startNode(o.t, o.env)
}

// pollsWaiting reads the webchat_polls_waiting gauge.
func (s *testServer) pollsWaiting(t *testing.T) float64 {
	t.Helper()
	return pollsWaiting(t, s.URL)
}

// pollsWaiting reads the webchat_polls_waiting gauge of the node at base.
func pollsWaiting(t *testing.T, base string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "webchat_polls_waiting "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("webchat_polls_waiting %q: %v", v, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no webchat_polls_waiting gauge")
	return 0
}

// --- a person talking to the API directly (no browser, never polls) ----------

type apiUser struct {
	t    *testing.T
	srv  *testServer
	base string
	c    *http.Client
	ID   int64
	Name string
}

func (s *testServer) apiSignup(t *testing.T, username, display string) *apiUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &apiUser{t: t, srv: s, base: s.URL, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, Name: display}
	var out struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	u.call("POST", "/api/signup", map[string]any{"username": username, "password": browserPassword, "display_name": display}, &out, http.StatusCreated)
	u.ID = out.User.ID
	s.mu.Lock()
	if s.users == nil {
		s.users = map[string]*apiUser{}
	}
	s.users[username] = u
	s.mu.Unlock()
	return u
}

// addMember puts username in group gid on u's behalf: at once if they are
// u's friend, else through the invitation they accept (as a person would).
func (u *apiUser) addMember(gid int64, username string) {
	u.t.Helper()
	b, _ := json.Marshal(map[string]any{"username": username})
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/groups/%d/members", u.base, gid), bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
	case http.StatusAccepted:
		var out struct {
			Invite struct {
				ID int64 `json:"id"`
			} `json:"invite"`
		}
		json.Unmarshal(raw, &out)
		u.srv.mu.Lock()
		invitee := u.srv.users[username]
		u.srv.mu.Unlock()
		if invitee == nil || out.Invite.ID == 0 {
			u.t.Fatalf("invited %s (%s), who is not an apiSignup user", username, raw)
		}
		invitee.call("POST", fmt.Sprintf("/api/group-invites/%d/accept", out.Invite.ID), nil, nil, http.StatusOK)
	default:
		u.t.Fatalf("add %s to group %d: %d %s", username, gid, resp.StatusCode, raw)
	}
}

// call sends a request and checks the status. It answers the error
// message of a failed request.
func (u *apiUser) call(method, path string, in, out any, want int) string {
	u.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			u.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u.base+path, body)
	if err != nil {
		u.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		u.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			u.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(raw, &e)
	return e.Error.Message
}

// befriend makes u and v friends through the API.
func (u *apiUser) befriend(v *apiUser, vUsername string) {
	u.t.Helper()
	var out struct {
		Request struct {
			ID int64 `json:"id"`
		} `json:"request"`
	}
	u.call("POST", "/api/friend-requests", map[string]any{"username": vUsername}, &out, http.StatusCreated)
	v.call("POST", fmt.Sprintf("/api/friend-requests/%d/accept", out.Request.ID), nil, nil, http.StatusOK)
}

func (u *apiUser) send(to int64, body string) int64 {
	u.t.Helper()
	var out struct {
		Message struct {
			Seq int64 `json:"seq"`
		} `json:"message"`
	}
	u.call("POST", "/api/messages", map[string]any{"to": to, "type": "single", "body": body, "client_id": fmt.Sprintf("t-%d", time.Now().UnixNano())}, &out, http.StatusCreated)
	return out.Message.Seq
}

func dmConv(a, b int64) string {
	return fmt.Sprintf("d%d-%d", min(a, b), max(a, b))
}
