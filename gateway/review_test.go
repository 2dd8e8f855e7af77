package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/gateway"
	"webchat/store"
	"webchat/store/plane"
)

// Tests for the findings of issue 14's review.

// logBuffer collects a node's log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// served returns how many requests to route the node has answered (any
// status), as its /metrics counts them once the handler has returned.
func served(e *env, route string) int {
	e.t.Helper()
	r := e.newClient().do("GET", "/metrics", nil)
	re := regexp.MustCompile(`(?m)^webchat_http_requests_total\{route="` + regexp.QuoteMeta(route) + `",status="\d+"\} (\S+)$`)
	n := 0
	for _, m := range re.FindAllSubmatch(r.Body, -1) {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		n += int(v)
	}
	return n
}

// deviceOf returns the device of c's session, as its last poll's cursor
// names it.
func deviceOf(c *client) string {
	c.e.t.Helper()
	// "<device>-<epoch>-<id>"
	i := strings.LastIndexByte(c.cursor, '-')
	if i > 0 {
		i = strings.LastIndexByte(c.cursor[:i], '-')
	}
	if i <= 0 {
		c.e.t.Fatalf("no device in cursor %q: poll first", c.cursor)
	}
	return c.cursor[:i]
}

// pollgen reads the poll generation of c's device: "N" for a poll that
// does not wait, "N:w" or "N:w:<node>" while one waits (its wait mark).
func pollgen(e *env, c *client) string {
	e.t.Helper()
	v, err := e.rdb.Get(context.Background(), pollgenKey(e, c.User.ID, deviceOf(c))).Result()
	if err != nil && err != redis.Nil {
		e.t.Fatalf("read pollgen: %v", err)
	}
	return v
}

func pollgenKey(e *env, u store.UserID, dev string) string {
	return e.prefix + "pollgen:{u:" + itoa(int64(u)) + "}:" + dev
}

// wakeEmpty wakes c's waiting poll with nothing for it, as a wake-up does
// whose cause was gone by the time the poll looked: a bare publish to the
// node a subscribed poll waits on, a wake marker for one in BLMOVE.
func wakeEmpty(e *env, c *client) {
	e.t.Helper()
	ctx := context.Background()
	gen := pollgen(e, c)
	if _, node, ok := strings.Cut(gen, ":w:"); ok {
		if err := e.rdb.Publish(ctx, e.prefix+"wake:"+node, "{u:"+itoa(int64(c.User.ID))+"}"+deviceOf(c)).Err(); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	if !strings.HasSuffix(gen, ":w") {
		e.t.Fatalf("pollgen %q: the poll is not waiting", gen)
	}
	if err := e.plane.Wake(ctx, []plane.DeviceRef{{User: c.User.ID, Device: deviceOf(c)}}); err != nil {
		e.t.Fatal(err)
	}
}

// slowCheck makes Redis answer a poll's check step (the step after a
// wake-up) only at until, while armed: the step ends after the poll's
// deadline, as it does when the wake-up comes right at the deadline.
type slowCheck struct {
	key   atomic.Value // the pollgen key of the device whose step is slow
	until atomic.Value // time.Time
	armed atomic.Bool
}

func (h *slowCheck) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *slowCheck) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *slowCheck) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.armed.Load() && slices.ContainsFunc(cmds, h.isCheck) {
			h.armed.Store(false)
			<-time.After(time.Until(h.until.Load().(time.Time)))
		}
		return next(ctx, cmds)
	}
}

func (h *slowCheck) isCheck(cmd redis.Cmder) bool {
	args := cmd.Args()
	return cmd.Name() == "evalsha" && slices.Contains(args, any(h.key.Load())) && slices.Contains(args, any(plane.PollCheck))
}

func TestPollWokenAtItsDeadlineLeavesNoWaitMark(t *testing.T) {
	hook := &slowCheck{}
	e := newEnv(t, envOpts{hook: hook})
	alice := e.signup("alice")
	alice.drain()
	hook.key.Store(pollgenKey(e, alice.User.ID, deviceOf(alice)))
	const timeout = 2 * time.Second
	answered := make(chan response, 1)
	go func() { answered <- alice.do("GET", alice.pollPath(int(timeout/time.Second)), nil) }()
	e.waitPolls(1)
	// The poll's deadline was set before it waited, so before now + timeout.
	hook.until.Store(time.Now().Add(timeout + 200*time.Millisecond))
	hook.armed.Store(true)
	wakeEmpty(e, alice)
	var r response
	select {
	case r = <-answered:
	case <-time.After(15 * time.Second):
		t.Fatal("the woken poll never answered")
	}
	var a pollAnswer
	mustJSON(t, r.Body, &a)
	if r.Status != 200 || len(a.Events) != 0 {
		t.Fatalf("poll woken at its deadline: %d %s", r.Status, r.Body)
	}
	if hook.armed.Load() {
		t.Fatal("the wake-up led to no check step")
	}
	if g := pollgen(e, alice); strings.Contains(g, ":w") {
		t.Fatalf("the answered poll left its wait mark: pollgen %q", g)
	}
}

func TestRefusedPollLeavesNoWaitMark(t *testing.T) {
	e := newEnv(t, envOpts{gateway: gateway.Options{MaxPolls: 1}})
	alice, bob := e.signup("alice"), e.signup("bob")
	alice.drain()
	bob.drain()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go alice.doCtx(ctx, "GET", alice.pollPath(10), nil)
	e.waitPolls(1)
	if r := bob.do("GET", bob.pollPath(10), nil); r.Status != 503 || r.errorCode() != "overloaded" {
		t.Fatalf("a second waiting poll on a node that allows one: %d %s", r.Status, r.Body)
	}
	if g := pollgen(e, bob); strings.Contains(g, ":w") {
		t.Fatalf("the refused poll left its wait mark: pollgen %q", g)
	}
}

// sessionToken returns c's session token, from its cookie jar.
func sessionToken(c *client) string {
	return strings.TrimPrefix(sessionKey(c.e, c), c.e.prefix+"session:")
}

// deviceGone fails unless u's device dev is out of devices and its
// lists and poll generation are gone, and the session token is no longer
// tracked as u's, as a log-out leaves them.
func deviceGone(t *testing.T, e *env, u store.UserID, dev, token string) {
	t.Helper()
	ctx := context.Background()
	tag := "{u:" + itoa(int64(u)) + "}"
	if err := e.rdb.ZScore(ctx, e.prefix+"devices:"+tag, dev).Err(); err != redis.Nil {
		t.Errorf("device %s of user %d is still registered (%v)", dev, u, err)
	}
	for _, k := range []string{"inbox:" + tag + ":" + dev, "inflight:" + tag + ":" + dev, "pollgen:" + tag + ":" + dev} {
		if n, err := e.rdb.Exists(ctx, e.prefix+k).Result(); err != nil || n != 0 {
			t.Errorf("%s still exists (%d, %v)", k, n, err)
		}
	}
	if _, err := e.rdb.ZScore(ctx, e.prefix+"sessions:"+tag, token).Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("session %s is still tracked as user %d's (%v)", token, u, err)
	}
	if n, err := e.rdb.Exists(ctx, e.prefix+"session:"+token).Result(); err != nil || n != 0 {
		t.Errorf("session %s still exists (%d, %v)", token, n, err)
	}
}

func TestLoginAsAnotherUserUnregistersTheFirstUsersDevice(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	alice.drain()
	dev, token := deviceOf(alice), sessionToken(alice)
	// Events wait for alice's device, one in flight, one in its inbox.
	carol.mustDo("POST", "/api/friend-requests", map[string]any{"username": "alice"}, 201, nil)
	if a := alice.poll(0); len(a.Events) != 1 {
		t.Fatalf("alice's poll: %+v", a)
	}
	bob.mustDo("POST", "/api/friend-requests", map[string]any{"username": "alice"}, 201, nil)

	// Bob logs in on alice's browser session.
	browser := alice
	browser.mustDo("POST", "/api/login", map[string]any{"username": "bob", "password": "password-bob"}, 200, nil)
	deviceGone(t, e, alice.User.ID, dev, token)
	if t.Failed() {
		return
	}
	if n, err := e.rdb.ZCard(context.Background(), e.prefix+"devices:{u:"+itoa(int64(alice.User.ID))+"}").Result(); err != nil || n != 0 {
		t.Fatalf("alice has %d devices (%v), want none", n, err)
	}
	// The browser is bob's now, on a device of its own.
	browser.cursor = ""
	browser.drain()
	bobDev, bobToken := deviceOf(browser), sessionToken(browser)
	if bobDev == dev {
		t.Fatal("bob took over alice's device")
	}

	// A sign-up on the same browser session does the same to bob's
	// device, and wakes its waiting poll, which answers 401.
	polled := make(chan response, 1)
	go func() { polled <- browser.do("GET", browser.pollPath(10), nil) }()
	e.waitPolls(1)
	browser.mustDo("POST", "/api/signup", map[string]any{"username": "dave", "password": "password-dave", "display_name": "Dave"}, 201, nil)
	select {
	case r := <-polled:
		if r.Status != 401 || r.errorCode() != "unauthorized" {
			t.Fatalf("bob's waiting poll after the sign-up: %d %s", r.Status, r.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob's waiting poll was not woken")
	}
	deviceGone(t, e, bob.User.ID, bobDev, bobToken)
	// Bob's own session, elsewhere, is untouched.
	bob.mustDo("GET", "/api/me", nil, 200, nil)
}

func TestDeclinedRequestReachesTheAskerAndTheDeclinersOtherDevices(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	alice2, bob2 := alice.login(), bob.login()
	var asked struct{ Request struct{ ID int64 } }
	alice.mustDo("POST", "/api/friend-requests", map[string]any{"username": "bob"}, 201, &asked)
	for _, c := range []*client{alice, alice2, bob, bob2, carol} {
		c.drain()
	}
	bob.mustDo("POST", fmt.Sprintf("/api/friend-requests/%d/decline", asked.Request.ID), nil, 204, nil)

	// Delivered before the answer: a poll that does not wait finds it.
	for _, tc := range []struct {
		name string
		c    *client
	}{{"the asker", alice}, {"the asker's other device", alice2}, {"the decliner's other device", bob2}} {
		a := tc.c.poll(0)
		if len(a.Events) != 1 || a.Events[0].Type != "friend_request_declined" || a.Events[0].Request == nil {
			t.Fatalf("%s got %+v, want one friend_request_declined", tc.name, a.Events)
		}
		var req struct {
			ID       int64
			From, To store.User
		}
		mustJSON(t, *a.Events[0].Request, &req)
		if req.ID != asked.Request.ID || req.From.ID != alice.User.ID || req.To.ID != bob.User.ID || req.From.Username != "alice" {
			t.Fatalf("%s got the request %s", tc.name, *a.Events[0].Request)
		}
	}
	for _, tc := range []struct {
		name string
		c    *client
	}{{"the declining device", bob}, {"a stranger", carol}} {
		if a := tc.c.poll(0); len(a.Events) != 0 {
			t.Fatalf("%s got %+v", tc.name, a.Events)
		}
	}
}

// apiName matches what only an API could call a field: a snake_case name,
// or one of the API's single-word names at the start of a sentence, in
// the lower case of the JSON ("to must be…").
var apiName = regexp.MustCompile(`[a-z]+_[a-z_]+|^(to|type|body|seq|name|brief|role|username|password|timeout|cursor|before|limit)\b`)

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
