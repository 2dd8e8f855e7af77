package gateway_test

// The test client: its HTTP calls, its polls, and the helpers built on them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"webchat/gateway"
	"webchat/store"
	"webchat/store/storetest"
)

// client is one browser session: its own cookie jar, so its own device.
type client struct {
	e    *env
	hc   *http.Client
	User store.User
	// cursor is the last poll cursor, sent with the next poll.
	cursor string
}

func (e *env) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, Timeout: 70 * time.Second}}
}

// signup makes a user (name also as display name) and returns its client.
func (e *env) signup(name string) *client {
	e.t.Helper()
	c := e.newClient()
	var out struct{ User store.User }
	c.mustDo("POST", "/api/signup", map[string]any{"username": name, "password": "password-" + name, "display_name": strings.ToUpper(name[:1]) + name[1:]}, 201, &out)
	c.User = out.User
	return c
}

// login opens another session (device) of the same user.
func (c *client) login() *client {
	c.e.t.Helper()
	d := c.e.newClient()
	var out struct{ User store.User }
	d.mustDo("POST", "/api/login", map[string]any{"username": c.User.Username, "password": "password-" + c.User.Username}, 200, &out)
	d.User = out.User
	return d
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
	Close  bool // the server asked to close the connection
}

func (r response) errorCode() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// do sends a request; body is JSON-encoded unless it is a string or []byte.
func (c *client) do(method, path string, body any) response {
	return c.doCtx(context.Background(), method, path, body)
}

func (c *client) doCtx(ctx context.Context, method, path string, body any) response {
	c.e.t.Helper()
	return c.doFull(ctx, method, path, body, nil)
}

// doFull sends a request with extra headers.
func (c *client) doFull(ctx context.Context, method, path string, body any, headers map[string]string) response {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatalf("encode %v: %v", body, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.e.http.URL+path, rd)
	if err != nil {
		c.e.t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{Status: -1, Body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b, Close: resp.Close}
}

// mustDo sends a request and fails the test unless the status is want;
// out, if given, receives the decoded answer.
func (c *client) mustDo(method, path string, body any, want int, out any) response {
	c.e.t.Helper()
	r := c.do(method, path, body)
	if r.Status != want {
		c.e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			c.e.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
	return r
}

// event is a poll event as clients see it.
type event struct {
	ID      int64              `json:"id"`
	Type    string             `json:"type"`
	Message *store.Message     `json:"message"`
	Friend  *store.User        `json:"friend"`
	Group   *store.Group       `json:"group"`
	Request *json.RawMessage   `json:"request"`
	Invite  *store.GroupInvite `json:"invite"`
	Conv    string             `json:"conv"`
	Seq     int64              `json:"seq"`
	// presence, typing, receipt
	UserID    int64  `json:"user_id"`
	Presence  string `json:"presence"`
	LastSeen  int64  `json:"last_seen"`
	Since     int64  `json:"since"`
	Until     int64  `json:"until"`
	ReadCount *int64 `json:"read_count"`
}

type pollAnswer struct {
	Events []event `json:"events"`
	Cursor string  `json:"cursor"`
	Resync bool    `json:"resync"`
}

// poll polls once with the client's cursor and keeps the new cursor.
func (c *client) poll(timeout int) pollAnswer {
	c.e.t.Helper()
	var a pollAnswer
	c.mustDo("GET", c.pollPath(timeout), nil, 200, &a)
	c.cursor = a.Cursor
	return a
}

func (c *client) pollPath(timeout int) string {
	p := fmt.Sprintf("/api/poll?timeout=%d", timeout)
	if c.cursor != "" {
		p += "&cursor=" + c.cursor
	}
	return p
}

// messages polls until n messages arrived or the deadline passes, and
// returns them in arrival order, failing on a repeat of (conv, seq).
func (c *client) messages(n int, deadline time.Duration) []store.Message {
	c.e.t.Helper()
	var got []store.Message
	seen := map[string]bool{}
	end := time.Now().Add(deadline)
	for len(got) < n {
		if time.Now().After(end) {
			c.e.t.Fatalf("%s got %d of %d messages before the deadline", c.User.Username, len(got), n)
		}
		for _, ev := range c.poll(2).Events {
			if ev.Type != "message" {
				continue
			}
			k := fmt.Sprint(ev.Message.Conv, "/", ev.Message.Seq)
			if seen[k] {
				c.e.t.Fatalf("%s got %s twice", c.User.Username, k)
			}
			seen[k] = true
			got = append(got, *ev.Message)
		}
	}
	return got
}

// befriend makes a and b friends through the API.
func befriend(a, b *client) {
	a.e.t.Helper()
	var req struct{ Request struct{ ID int64 } }
	a.mustDo("POST", "/api/friend-requests", map[string]any{"username": b.User.Username}, 201, &req)
	b.mustDo("POST", fmt.Sprintf("/api/friend-requests/%d/accept", req.Request.ID), nil, 200, nil)
}

// send sends a message and returns it.
func (c *client) send(to any, typ, body string) store.Message {
	c.e.t.Helper()
	var out struct{ Message store.Message }
	c.mustDo("POST", "/api/messages", map[string]any{"to": to, "type": typ, "body": body}, 201, &out)
	return out.Message
}

// drain polls at once until nothing waits, acknowledging everything.
func (c *client) drain() {
	c.e.t.Helper()
	for range 100 {
		if len(c.poll(0).Events) == 0 {
			return
		}
	}
	c.e.t.Fatal("events kept coming")
}

// waitPolls waits until n polls wait on the node.
func (e *env) waitPolls(n int) {
	e.t.Helper()
	storetest.WaitFor(e.t, 10*time.Second, fmt.Sprintf("%d waiting polls", n), func() bool { return e.srv.WaitingPolls() == n })
}

// newEnvRate is a node that allows one message per second with a burst of two.
func newEnvRate(t *testing.T) *env {
	return newEnv(t, envOpts{gateway: gateway.Options{RateSend: 1, RateSendBurst: 2}})
}

// run runs a subtest whose helpers fail the subtest, not the parent
// (helpers report through e.t; subtests here never run in parallel).
func (e *env) run(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		parent := e.t
		e.t = t
		defer func() { e.t = parent }()
		f(t)
	})
}

// join puts m in group gid on c's behalf: at once if they are friends,
// else through the invitation m accepts (as a person would).
func (c *client) join(gid int64, m *client) {
	c.e.t.Helper()
	r := c.do("POST", fmt.Sprintf("/api/groups/%d/members", gid), map[string]any{"username": m.User.Username})
	switch r.Status {
	case 201:
	case 202:
		var iv struct{ Invite struct{ ID int64 } }
		if err := json.Unmarshal(r.Body, &iv); err != nil || iv.Invite.ID == 0 {
			c.e.t.Fatalf("invite %s: %v", r.Body, err)
		}
		m.mustDo("POST", fmt.Sprintf("/api/group-invites/%d/accept", iv.Invite.ID), nil, 200, nil)
	default:
		c.e.t.Fatalf("add %s to group %d: %d %s", m.User.Username, gid, r.Status, r.Body)
	}
}

// eventsUntil polls until an event satisfies done, or fails the test at
// the deadline, and returns every event it got, the last one done's.
func (c *client) eventsUntil(t *testing.T, deadline time.Duration, done func(event) bool) []event {
	t.Helper()
	var got []event
	for end := time.Now().Add(deadline); time.Now().Before(end); {
		for _, ev := range c.poll(1).Events {
			got = append(got, ev)
			if done(ev) {
				return got
			}
		}
	}
	t.Fatalf("%s: no such event before the deadline; got %+v", c.User.Username, got)
	return nil
}
