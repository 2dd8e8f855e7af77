package main

// The browser client in a real headless Chromium, against a real server
// (run) over a real redis-server and a SQLite file. Each person is a
// separate browser context (own cookies and storage); tabs of one person
// share theirs. Nothing sleeps to let things happen: every wait is a
// condition polled in the page, or over HTTP, with a deadline.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

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

// --- the browser -------------------------------------------------------------

// startBrowser starts headless Chromium with an empty profile. A missing
// Chromium fails the test: make test installs Debian's package.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if p := os.Getenv("CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("chromium is not installed (%v); make test installs it (apt-get install chromium)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// webPage is one browser tab.
type webPage struct {
	t       *testing.T
	name    string
	ctx     context.Context
	browser context.Context
	base    string

	mu   sync.Mutex
	errs []string
}

// newPerson opens a tab in a new browser context: another person's browser.
func newPerson(t *testing.T, browser context.Context, srv *testServer, name string) *webPage {
	return openTab(t, browser, srv.URL, name, chromedp.WithNewBrowserContext())
}

// newTab opens another tab of the same person (same cookies and storage).
// It is the first tab's sibling, not its child, so either can close alone;
// closing the first tab, which owns the browser context, closes them all.
func (p *webPage) newTab(name string) *webPage {
	id := chromedp.FromContext(p.ctx).BrowserContextID
	return openTab(p.t, p.browser, p.base, name, chromedp.WithExistingBrowserContext(id))
}

func openTab(t *testing.T, parent context.Context, base, name string, opts ...chromedp.ContextOption) *webPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	p := &webPage{t: t, name: name, ctx: ctx, browser: parent, base: base}
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, with no deadline
		t.Fatalf("%s: open tab: %v", name, err)
	}
	// Uncaught exceptions, console.error and refused content (CSP) are bugs.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			bad := m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network")
			if bad {
				p.mu.Lock()
				p.errs = append(p.errs, m.String())
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errs {
			t.Errorf("%s: webPage console: %s", name, e)
		}
	})
	return p
}

func (p *webPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiSettle)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail("%v", err)
	}
}

func (p *webPage) fail(format string, args ...any) {
	p.t.Helper()
	// Show what the page showed, for a readable failure.
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	p.t.Fatalf("%s: %s\npage text:\n%s", p.name, fmt.Sprintf(format, args...), tail(text, 3000))
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](p *webPage, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiSettle)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition in the page until it is true.
func (p *webPage) wait(within time.Duration, what, cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, within+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](pageHelpers+cond,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		p.fail("waited %v for %s (%s): %v", within, what, cond, err)
	}
}

// pageHelpers are small functions the conditions use; Poll wraps the
// expression in a function body, so they are defined inline.
const pageHelpers = `(() => {
  const all = (s, r = document) => [...r.querySelectorAll(s)];
  const tid = (id) => '[data-testid="' + id + '"]';
  window.__t = {
    all, tid,
    item: (conv) => document.querySelector('[data-conv="' + conv + '"]' + ':is(' + tid('friend-item') + ',' + tid('group-item') + ')'),
    badge: (conv) => { const i = __t.item(conv); const b = i && i.querySelector(tid('unread-badge')); return b ? b.textContent : ''; },
    bodies: (conv) => all(tid('message') + '[data-conv="' + conv + '"]').map((m) => m.querySelector(tid('message-body')).textContent),
    msg: (conv, body) => all(tid('message') + '[data-conv="' + conv + '"]').find((m) => m.querySelector(tid('message-body')).textContent === body),
    atBottom: () => { const b = document.querySelector(tid('messages')); return b.scrollHeight - b.scrollTop - b.clientHeight <= 2; },
  };
  return true;
})() && `

// pressEnter presses Enter (with Shift if asked) the way a keyboard does: one
// keyDown carrying the text "\r", which the page may cancel, and a keyUp.
// SendKeys's "\n" adds a separate char event that inserts a line break
// even when the page cancelled the keydown, which no real keyboard does.
func pressEnter(shift bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var mods int64
		if shift {
			mods = 8 // Shift
		}
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", Modifiers: mods,
				WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			}
			if typ == input.DispatchKeyEventTypeKeyDown {
				p.Text = "\r"
				p.UnmodifiedText = "\r"
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func testID(id string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="` + id + `"]`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (p *webPage) open() {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + "/"))
}

func (p *webPage) signup(username, display string) {
	p.t.Helper()
	p.open()
	p.do(
		chromedp.WaitVisible(testID("signup-username")),
		chromedp.SendKeys(testID("signup-username"), username),
		chromedp.SendKeys(testID("signup-display-name"), display),
		chromedp.SendKeys(testID("signup-password"), browserPassword),
		chromedp.Click(testID("signup-submit")),
		chromedp.WaitVisible(testID("tab-friends")),
	)
}

func (p *webPage) login(username string) {
	p.t.Helper()
	p.open()
	p.do(
		chromedp.WaitVisible(testID("login-username")),
		chromedp.SendKeys(testID("login-username"), username),
		chromedp.SendKeys(testID("login-password"), browserPassword),
		chromedp.Click(testID("login-submit")),
		chromedp.WaitVisible(testID("tab-friends")),
	)
}

// openConv clicks a conversation in the list and waits until it is shown.
func (p *webPage) openConv(conv string) {
	p.t.Helper()
	if strings.HasPrefix(conv, "g") {
		p.do(chromedp.Click(testID("tab-groups")))
	} else {
		p.do(chromedp.Click(testID("tab-friends")))
	}
	p.wait(uiSettle, "conversation "+conv+" in the list", `!!__t.item(`+jsString(conv)+`)`)
	p.do(chromedp.Click(chromedp.CSS(`[data-conv="` + conv + `"]:is([data-testid="friend-item"],[data-testid="group-item"])`)))
	p.wait(uiSettle, "conversation "+conv+" open", `!document.getElementById('chat-main').hidden && location.hash === '#'+`+jsString(conv))
}

// say types a message and presses Send.
func (p *webPage) say(body string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(testID("composer"), body), chromedp.Click(testID("send")))
}

func (p *webPage) waitMessage(conv, body, from string) {
	p.t.Helper()
	p.wait(uiArrival, fmt.Sprintf("message %q from %s", body, from),
		`(() => { const m = __t.msg(`+jsString(conv)+`, `+jsString(body)+`); return !!m && !m.hasAttribute('data-pending') && m.querySelector(__t.tid('message-from')).textContent === `+jsString(from)+`; })()`)
}

// --- tests -------------------------------------------------------------------

func TestBrowserAuthErrors(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	p := newPerson(t, br, srv, "visitor")
	srv.apiSignup(t, "taken", "Taken")
	api := &apiUser{t: t, base: srv.URL, c: &http.Client{Timeout: 30 * time.Second}}

	// The page shows the server's own message for each.
	cases := []struct {
		name, path string
		body       map[string]any
		status     int
		fill       func()
	}{
		{"short password", "/api/signup", map[string]any{"username": "newbie", "password": "short", "display_name": "newbie"}, http.StatusBadRequest, func() {
			p.do(chromedp.SendKeys(testID("signup-username"), "newbie"), chromedp.SendKeys(testID("signup-password"), "short"), chromedp.Click(testID("signup-submit")))
		}},
		{"taken username", "/api/signup", map[string]any{"username": "taken", "password": browserPassword, "display_name": "taken"}, http.StatusConflict, func() {
			p.do(chromedp.SendKeys(testID("signup-username"), "taken"), chromedp.SendKeys(testID("signup-password"), browserPassword), chromedp.Click(testID("signup-submit")))
		}},
		{"wrong password", "/api/login", map[string]any{"username": "taken", "password": "not the password"}, http.StatusUnauthorized, func() {
			p.do(chromedp.SendKeys(testID("login-username"), "taken"), chromedp.SendKeys(testID("login-password"), "not the password"), chromedp.Click(testID("login-submit")))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := api.call("POST", c.path, c.body, nil, c.status)
			if want == "" {
				t.Fatalf("the server gave no error message")
			}
			p.open()
			p.do(chromedp.WaitVisible(testID("login-username")))
			c.fill()
			p.wait(uiSettle, "the server's message in auth-error",
				`(() => { const e = document.querySelector(__t.tid('auth-error')); return !e.hidden && e.textContent === `+jsString(want)+`; })()`)
		})
	}
}

func TestBrowserChat(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	alice := newPerson(t, br, srv, "alice")
	bob := newPerson(t, br, srv, "bob")
	alice.signup("alice", "Alice")
	bob.signup("bob", "Bob")

	// Alice asks, Bob accepts; both lists show the other.
	alice.do(chromedp.SendKeys(testID("add-friend-input"), "bob"), chromedp.Click(testID("add-friend-submit")))
	alice.wait(uiSettle, "the outgoing request", `!!document.querySelector(__t.tid('request-outgoing'))`)
	bob.wait(uiSettle, "Alice's request", `__t.all(__t.tid('request-item')).some((r) => r.textContent.includes('Alice'))`)
	bob.do(chromedp.Click(testID("request-accept")))
	bob.wait(uiSettle, "Alice in the friend list", `__t.all(__t.tid('friend-item')).some((i) => i.textContent.includes('Alice'))`)
	alice.wait(uiSettle, "Bob in the friend list", `__t.all(__t.tid('friend-item')).some((i) => i.textContent.includes('Bob'))`)
	conv := evalJS[string](bob, `document.querySelector('[data-testid="friend-item"]').dataset.conv`)
	alice.wait(uiSettle, "no request left", `!document.querySelector(__t.tid('request-outgoing'))`)
	alice.wait(uiSettle, "Bob online", `!!__t.item(`+jsString(conv)+`).querySelector(__t.tid('online-dot'))`)

	// Bob reads another conversation: a group of his own.
	bob.do(chromedp.Click(testID("tab-groups")), chromedp.Click(testID("create-group")),
		chromedp.SendKeys(testID("group-name"), "Bob's notes"), chromedp.Click(testID("group-create-submit")))
	bob.wait(uiSettle, "his group open", `document.querySelector(__t.tid('chat-title')).textContent.startsWith("Bob's notes")`)

	alice.openConv(conv)
	alice.wait(uiSettle, "the title", `document.querySelector(__t.tid('chat-title')).textContent === 'Chatting with Bob'`)
	alice.say("Hello Bob!")
	alice.waitMessage(conv, "Hello Bob!", "Alice")
	if own := evalJS[bool](alice, pageHelpers+`__t.msg(`+jsString(conv)+`, 'Hello Bob!').classList.contains('own')`); !own {
		t.Errorf("Alice's own message is not marked own (right side)")
	}
	bob.wait(uiArrival, "unread badge 1", `__t.badge(`+jsString(conv)+`) === '1'`)
	alice.say("Are you there?")
	bob.wait(uiArrival, "unread badge 2", `__t.badge(`+jsString(conv)+`) === '2'`)
	if n := evalJS[int](bob, pageHelpers+`__t.bodies(`+jsString(conv)+`).length`); n != 0 {
		t.Errorf("Bob's open group shows %d of Alice's messages", n)
	}

	// Opening Alice's conversation shows both and clears the badge.
	bob.openConv(conv)
	bob.wait(uiSettle, "the title", `document.querySelector(__t.tid('chat-title')).textContent === 'Chatting with Alice'`)
	bob.waitMessage(conv, "Hello Bob!", "Alice")
	bob.waitMessage(conv, "Are you there?", "Alice")
	bob.wait(uiSettle, "badge cleared", `__t.badge(`+jsString(conv)+`) === ''`)

	// With the conversation open, a message shows promptly, with no badge.
	for i := range 3 {
		body := fmt.Sprintf("ping %d", i)
		start := time.Now()
		alice.do(chromedp.SendKeys(testID("composer"), body), pressEnter(false)) // Enter sends
		bob.waitMessage(conv, body, "Alice")
		t.Logf("Alice → Bob %q shown after %v", body, time.Since(start).Round(time.Millisecond))
	}
	if b := evalJS[string](bob, pageHelpers+`__t.badge(`+jsString(conv)+`)`); b != "" {
		t.Errorf("badge %q on the open conversation", b)
	}

	// Bob answers; Alice sees it, and her list previews it.
	bob.say("Yes! 👋")
	alice.waitMessage(conv, "Yes! 👋", "Bob")
	alice.wait(uiSettle, "the preview", `__t.item(`+jsString(conv)+`).textContent.includes('Yes! 👋')`)

	// Reading was told to the server: after a reload nothing is unread.
	bob.do(chromedp.Reload())
	bob.wait(uiSettle, "the list after reload", `!!__t.item(`+jsString(conv)+`)`)
	bob.waitMessage(conv, "ping 2", "Alice")
	if b := evalJS[string](bob, pageHelpers+`__t.badge(`+jsString(conv)+`)`); b != "" {
		t.Errorf("badge %q after reload: read was not sent", b)
	}
	if s := evalJS[string](bob, `document.querySelector('[data-testid="connection-state"]').textContent`); s != "connected" {
		t.Errorf("connection-state %q", s)
	}

	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		writeScreenshot(t, alice, conv)
	}
}

// writeScreenshot writes docs/screenshot.png: Alice's dashboard with a conversation.
func writeScreenshot(t *testing.T, p *webPage, conv string) {
	p.do(chromedp.EmulateViewport(1200, 720))
	p.wait(uiSettle, "at the newest", `__t.atBottom()`)
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	out := filepath.Join("..", "..", "docs", "screenshot.png")
	if err := os.WriteFile(out, buf, 0o644); err != nil {
		t.Fatalf("write %s: %v", out, err)
	}
	t.Logf("wrote %s", out)
}

func TestBrowserGroup(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	alice := newPerson(t, br, srv, "alice")
	bob := newPerson(t, br, srv, "bob")
	carol := newPerson(t, br, srv, "carol")
	alice.signup("alice", "Alice")
	bob.signup("bob", "Bob")
	carol.signup("carol", "Carol")

	alice.do(chromedp.Click(testID("tab-groups")), chromedp.Click(testID("create-group")),
		chromedp.SendKeys(testID("group-name"), "Weekend trip"),
		chromedp.SendKeys(testID("group-brief"), "Where do we go?"),
		chromedp.Click(testID("group-create-submit")))
	alice.wait(uiSettle, "the new group open", `document.querySelector(__t.tid('chat-title')).textContent === 'Weekend trip (1 member)'`)
	conv := evalJS[string](alice, `location.hash.slice(1)`)
	// Bob and Carol are not Alice's friends: adding them invites them, and
	// each joins by accepting.
	for _, x := range []struct {
		who, name string
		p         *webPage
	}{{"bob", "Bob", bob}, {"carol", "Carol", carol}} {
		alice.do(chromedp.SendKeys(testID("group-member-input"), x.who), chromedp.Click(testID("group-add-member")))
		alice.wait(uiSettle, "the invitation sent to "+x.who, `document.getElementById('members-status').textContent.includes('Invitation sent to `+x.name+` (@`+x.who+`)')`)
		x.p.wait(uiArrival, "Alice's invitation", `__t.all(__t.tid('invite-item')).some((i) => i.textContent.includes('Weekend trip') && i.textContent.includes('Alice (@alice) invited you'))`)
		x.p.do(chromedp.Click(testID("invite-accept")))
		x.p.wait(uiSettle, "the group open", `document.querySelector(__t.tid('chat-title')).textContent.startsWith('Weekend trip (') && !document.querySelector(__t.tid('invite-item'))`)
		alice.wait(uiSettle, x.who+" in the members", `__t.all(__t.tid('member-item')).some((m) => m.textContent.includes('@`+x.who+`'))`)
	}
	alice.wait(uiSettle, "3 members", `document.querySelector(__t.tid('chat-title')).textContent === 'Weekend trip (3 members)'`)

	for _, p := range []*webPage{bob, carol} {
		p.do(chromedp.Click(testID("tab-groups")))
		p.openConv(conv)
		p.wait(uiSettle, "the title", `document.querySelector(__t.tid('chat-title')).textContent === 'Weekend trip (3 members)'`)
	}
	start := time.Now()
	alice.say("Who's in?")
	bob.waitMessage(conv, "Who's in?", "Alice")
	carol.waitMessage(conv, "Who's in?", "Alice")
	t.Logf("group message reached both after %v", time.Since(start).Round(time.Millisecond))
	carol.say("Me!")
	alice.waitMessage(conv, "Me!", "Carol")
	bob.waitMessage(conv, "Me!", "Carol")

	// Carol leaves: the others see two members; Bob's message reaches Alice only.
	carol.do(chromedp.Click(testID("group-leave")))
	carol.confirm("Leave Weekend trip", true)
	carol.wait(uiSettle, "the group gone", `!__t.item(`+jsString(conv)+`)`)
	alice.wait(uiSettle, "2 members", `document.querySelector(__t.tid('chat-title')).textContent === 'Weekend trip (2 members)'`)
	bob.say("Just us then")
	alice.waitMessage(conv, "Just us then", "Bob")

	// The owner removes Bob: the group leaves his list.
	alice.wait(uiSettle, "Bob's remove button", `__t.all(__t.tid('member-item')).some((m) => m.textContent.includes('@bob') && m.querySelector(__t.tid('member-remove')))`)
	alice.do(chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('[data-testid="member-item"]')].find((m) => m.textContent.includes('@bob')).querySelector('[data-testid="member-remove"]')`)))
	alice.confirm("Remove Bob", true)
	bob.wait(uiSettle, "the group gone", `!__t.item(`+jsString(conv)+`)`)
	alice.wait(uiSettle, "1 member", `document.querySelector(__t.tid('chat-title')).textContent === 'Weekend trip (1 member)'`)
}

func TestBrowserHistory(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	b.befriend(a, "alice")
	conv := dmConv(a.ID, b.ID)
	const n = 120
	for i := 1; i <= n; i++ {
		b.send(a.ID, fmt.Sprintf("message %d", i))
	}

	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.wait(uiSettle, "120 unread", `__t.badge(`+jsString(conv)+`) === '99+' || __t.badge(`+jsString(conv)+`) === '120'`)
	alice.openConv(conv)
	alice.waitMessage(conv, "message 120", "Bob")
	alice.wait(uiSettle, "scrolled to the newest", `__t.atBottom()`)
	if got := evalJS[int](alice, pageHelpers+`__t.bodies(`+jsString(conv)+`).length`); got >= n {
		t.Errorf("opening showed %d messages at once, want one page", got)
	}

	// Scrolling to the top loads older pages, in order, without repeats.
	alice.wait(uiSettle, "all history after scrolling up",
		`(document.querySelector(__t.tid('messages')).scrollTop = 0, __t.bodies(`+jsString(conv)+`).length === `+strconv.Itoa(n)+`)`)
	seqs := evalJS[[]int](alice, `[...document.querySelectorAll('[data-testid="message"]')].map((m) => Number(m.dataset.seq))`)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("message %d has seq %d; seqs %v", i, s, seqs)
		}
	}

	// Scrolled up, a new message raises the pill and does not move the view.
	top := evalJS[float64](alice, `document.querySelector('[data-testid="messages"]').scrollTop`)
	b.send(a.ID, "while you were reading")
	alice.waitMessage(conv, "while you were reading", "Bob")
	alice.wait(uiSettle, "the new-messages pill", `!document.querySelector(__t.tid('new-messages')).hidden`)
	if now := evalJS[float64](alice, `document.querySelector('[data-testid="messages"]').scrollTop`); now != top {
		t.Errorf("the view moved from %v to %v while scrolled up", top, now)
	}
	alice.do(chromedp.Click(testID("new-messages")))
	alice.wait(uiSettle, "at the newest after the pill", `__t.atBottom() && document.querySelector(__t.tid('new-messages')).hidden`)

	// Enter sends, Shift+Enter is a new line, an emoji goes in at the caret.
	alice.do(chromedp.SendKeys(testID("composer"), "sent with Enter"), pressEnter(false))
	alice.waitMessage(conv, "sent with Enter", "Alice")
	alice.do(
		chromedp.SendKeys(testID("composer"), "line one"),
		pressEnter(true),
		chromedp.SendKeys(testID("composer"), "line two"),
	)
	if v := evalJS[string](alice, `document.querySelector('[data-testid="composer"]').value`); v != "line one\nline two" {
		t.Fatalf("composer after Shift+Enter = %q", v)
	}
	alice.do(chromedp.Evaluate[chromedp.Void](`(() => { const c = document.querySelector('[data-testid="composer"]'); c.setSelectionRange(4, 4); })()`),
		chromedp.Click(chromedp.CSS(`[data-testid="emoji"][data-emoji="😀"]`)))
	if v := evalJS[string](alice, `document.querySelector('[data-testid="composer"]').value`); v != "line😀 one\nline two" {
		t.Fatalf("composer after the emoji = %q", v)
	}
	alice.do(pressEnter(false))
	alice.waitMessage(conv, "line😀 one\nline two", "Alice")
	alice.wait(uiSettle, "the composer empty", `document.querySelector(__t.tid('composer')).value === ''`)

	// Enter that commits an input-method composition does not send.
	before := evalJS[int](alice, `document.querySelectorAll('[data-testid="message"]').length`)
	alice.do(chromedp.SendKeys(testID("composer"), "にほんご"))
	for _, ev := range []string{
		`{key: 'Enter', code: 'Enter', isComposing: true}`,
		`{key: 'Enter', code: 'Enter', keyCode: 229}`, // Safari, just after compositionend
	} {
		sent := evalJS[bool](alice, `(() => {
			const c = document.querySelector('[data-testid="composer"]');
			const e = new KeyboardEvent('keydown', Object.assign({bubbles: true, cancelable: true}, `+ev+`));
			c.dispatchEvent(e);
			return e.defaultPrevented;
		})()`)
		if sent {
			t.Errorf("composing Enter %s was taken as send", ev)
		}
	}
	if v := evalJS[string](alice, `document.querySelector('[data-testid="composer"]').value`); v != "にほんご" {
		t.Errorf("composer after composing Enter = %q", v)
	}
	if after := evalJS[int](alice, `document.querySelectorAll('[data-testid="message"]').length`); after != before {
		t.Errorf("composing Enter sent a message: %d messages, were %d", after, before)
	}
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="composer"]').value = ''`))

	// A reload keeps the history and the conversation, at the newest.
	alice.do(chromedp.Reload())
	alice.waitMessage(conv, "line😀 one\nline two", "Alice")
	alice.waitMessage(conv, "sent with Enter", "Alice")
	alice.waitMessage(conv, "message 100", "Bob")
	alice.wait(uiSettle, "scrolled to the newest after reload", `__t.atBottom()`)
}

func TestBrowserXSS(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	evilName := `<img src=x onerror="window.__xss='name'">`
	m := srv.apiSignup(t, "mallory", evilName)
	m.befriend(a, "alice")
	conv := dmConv(a.ID, m.ID)
	payload := `<script>window.__xss='script'</script><img src=x onerror="window.__xss='img'"><b onmouseover="window.__xss='b'">bold</b>`
	m.send(a.ID, payload)
	var g struct {
		Group struct {
			ID   int64  `json:"id"`
			Conv string `json:"conv"`
		} `json:"group"`
	}
	evilGroup := `<svg onload="window.__xss='group'">`
	m.call("POST", "/api/groups", map[string]any{"name": evilGroup, "brief": `<iframe src="javascript:window.__xss='brief'">`}, &g, http.StatusCreated)
	m.addMember(g.Group.ID, "alice")
	m.call("POST", "/api/messages", map[string]any{"to": g.Group.ID, "type": "group", "body": payload, "client_id": "x1"}, nil, http.StatusCreated)

	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(conv)
	alice.waitMessage(conv, payload, evilName)
	alice.wait(uiSettle, "the title, literally", `document.querySelector(__t.tid('chat-title')).textContent === 'Chatting with ' + `+jsString(evilName))
	alice.do(chromedp.Click(testID("tab-groups")))
	alice.openConv(g.Group.Conv)
	alice.waitMessage(g.Group.Conv, payload, evilName)
	alice.wait(uiSettle, "the group name, literally", `__t.item(`+jsString(g.Group.Conv)+`).textContent.includes(`+jsString(evilGroup)+`)`)
	alice.wait(uiSettle, "the brief, literally", `document.getElementById('group-brief').textContent.includes('<iframe')`)

	// Move the mouse over everything, then check nothing ran and no
	// element came from the payloads.
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('*').forEach((e) => e.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})))`))
	if v := evalJS[string](alice, `String(window.__xss)`); v != "undefined" {
		t.Errorf("a payload ran: window.__xss = %q", v)
	}
	if n := evalJS[int](alice, `document.querySelectorAll('#app script, #app img, #app svg, #app iframe, #app b').length`); n != 0 {
		t.Errorf("%d elements came from message, name or group text", n)
	}
}

func TestBrowserTabsSharePoll(t *testing.T) {
	for _, kind := range []string{"web-locks", "lease"} {
		t.Run(kind, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			a.befriend(b, "bob")
			conv := dmConv(a.ID, b.ID)

			// Bob's browser: a tab that only holds the profile open, and two
			// tabs of the app.
			holder := newPerson(t, br, srv, "bob's profile")
			holder.do(chromedp.Navigate(srv.URL + "/favicon.svg"))
			if kind == "lease" {
				// Plain HTTP has no Web Locks; the page takes this switch to
				// use its localStorage lease on localhost as well.
				holder.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('webchat:locks', 'off')`))
			}
			tab1 := holder.newTab("bob tab 1")
			tab1.login("bob")
			tab2 := holder.newTab("bob tab 2")
			tab2.open()
			tabs := []*webPage{tab1, tab2}
			for _, p := range tabs {
				p.wait(uiSettle, "the poll kind", `document.documentElement.dataset.pollKind === `+jsString(kind))
				p.openConv(conv)
			}
			leaders := func() []*webPage {
				var l []*webPage
				for _, p := range tabs {
					if evalJS[string](p, `document.documentElement.dataset.poll || ''`) == "leader" {
						l = append(l, p)
					}
				}
				return l
			}
			waitGauge(t, srv, 1)
			if l := leaders(); len(l) != 1 {
				t.Fatalf("%d tabs poll, want 1", len(l))
			}

			start := time.Now()
			a.send(b.ID, "to both tabs")
			for _, p := range tabs {
				p.waitMessage(conv, "to both tabs", "Alice")
			}
			t.Logf("both tabs showed the message after %v", time.Since(start).Round(time.Millisecond))
			if g := srv.pollsWaiting(t); g > 1 {
				t.Errorf("webchat_polls_waiting = %v with two tabs, want 1", g)
			}

			// The polling tab closes; the other takes over.
			leader := leaders()[0]
			other := tab1
			if leader == tab1 {
				other = tab2
			}
			if err := chromedp.Cancel(leader.ctx); err != nil {
				t.Fatalf("close the polling tab: %v", err)
			}
			tabs = []*webPage{other}
			other.wait(uiSettle, "taking over the poll", `document.documentElement.dataset.poll === 'leader'`)
			waitGauge(t, srv, 1)
			a.send(b.ID, "after the handover")
			other.waitMessage(conv, "after the handover", "Alice")
		})
	}
}

// waitGauge waits until the server counts want waiting polls.
func waitGauge(t *testing.T, srv *testServer, want float64) {
	t.Helper()
	storetest.WaitFor(t, uiSettle, fmt.Sprintf("webchat_polls_waiting = %v", want), func() bool {
		return srv.pollsWaiting(t) == want
	})
}

func TestBrowserPhoneWidth(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	b.send(a.ID, "hi on the phone")

	p := newPerson(t, br, srv, "alice")
	p.do(chromedp.EmulateViewport(390, 800, chromedp.EmulateMobile))
	p.login("alice")
	visible := func(sel string) string {
		return `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.getClientRects().length > 0; })()`
	}
	p.wait(uiSettle, "the list, alone", visible(".sidebar")+` && !`+visible(".chat"))
	p.openConv(conv)
	p.waitMessage(conv, "hi on the phone", "Bob")
	p.wait(uiSettle, "the chat, alone", visible(".chat")+` && !`+visible(".sidebar"))
	p.do(chromedp.Click(testID("back")))
	p.wait(uiSettle, "the list again", visible(".sidebar")+` && !`+visible(".chat"))
}

func TestBrowserSuperseded(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	bob.openConv(conv)
	waitGauge(t, srv, 1)

	// Another client with the same session (the same device) polls: the
	// page's poll is superseded and the page stops polling.
	cookies, err := chromedp.Call(bob.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.URL}})
	if err != nil {
		t.Fatalf("read the session cookie: %v", err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/poll?timeout=1", nil)
	for _, c := range cookies.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("the other poll: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the other poll: status %d", resp.StatusCode)
	}
	bob.wait(uiSettle, "the webPage to stop polling", `!document.getElementById('banner').hidden && document.documentElement.dataset.poll !== 'leader'`)
	waitGauge(t, srv, 0)

	// The person can take the messages back to this window.
	bob.do(chromedp.Click(chromedp.ID("banner-btn")))
	bob.wait(uiSettle, "polling again", `document.documentElement.dataset.poll === 'leader' && document.getElementById('banner').hidden`)
	a.send(b.ID, "after resuming")
	bob.waitMessage(conv, "after resuming", "Alice")
}

func TestBrowserReconnects(t *testing.T) {
	srv, outage := startRestartableServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	bob.openConv(conv)
	waitGauge(t, srv, 1)

	// The node goes away: the page says so and keeps trying, with backoff.
	outage.stop()
	bob.wait(uiSettle, "reconnecting", `document.querySelector(__t.tid('connection-state')).textContent === 'reconnecting'`)

	// A node comes back on the same address (same Redis, same database):
	// the page reconnects with its session and gets what was sent.
	outage.start()
	a.send(b.ID, "after the restart")
	bob.wait(uiSettle, "connected again", `document.querySelector(__t.tid('connection-state')).textContent === 'connected'`)
	bob.waitMessage(conv, "after the restart", "Alice")
}

func TestBrowserAttention(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	c := srv.apiSignup(t, "carol", "Carol")
	a.befriend(b, "bob")
	c.befriend(b, "bob")
	convA, convC := dmConv(a.ID, b.ID), dmConv(c.ID, b.ID)
	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	// Headless Chromium shows no notifications: a spy takes the place of
	// the browser's Notification, as if the person had allowed them.
	bob.do(chromedp.Evaluate[chromedp.Void](`(() => {
		window.__notes = [];
		window.Notification = class {
			constructor(title, o) { window.__notes.push(title + '|' + o.body); }
			close() {}
			static get permission() { return 'granted'; }
			static requestPermission() { return Promise.resolve('granted'); }
		};
	})()`))
	bob.openConv(convA)

	c.send(b.ID, "psst, over here")
	bob.wait(uiArrival, "a notification for another conversation", `__notes.includes('Carol|psst, over here')`)
	a.send(b.ID, "in the open conversation")
	bob.waitMessage(convA, "in the open conversation", "Alice")
	if notes := evalJS[[]string](bob, `__notes`); len(notes) != 1 {
		t.Errorf("notifications %q, want only Carol's (Alice's conversation is on screen)", notes)
	}
	if title := evalJS[string](bob, `document.title`); title != "webchat" {
		t.Errorf("title %q while the tab is in front", title)
	}

	// The tab goes to the background: the title and the icon count unread,
	// and the open conversation is not read by nobody.
	bob.do(chromedp.Evaluate[chromedp.Void](`(() => {
		Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
		Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
		document.dispatchEvent(new Event('visibilitychange'));
	})()`))
	bob.wait(uiSettle, "the title counting Carol's message", `document.title === '(1) webchat' && document.getElementById('favicon').href.startsWith('data:image/png')`)
	a.send(b.ID, "while away 1")
	a.send(b.ID, "while away 2")
	bob.wait(uiArrival, "the title counting 3", `document.title === '(3) webchat'`)
	bob.wait(uiSettle, "Alice's badge at 2", `__t.badge(`+jsString(convA)+`) === '2'`)
	bob.wait(uiSettle, "a notification though the conversation is open", `__notes.includes('Alice|while away 2')`)

	// Back in front: the open conversation is read, the title is plain.
	bob.do(chromedp.Evaluate[chromedp.Void](`(() => {
		delete document.hidden;
		delete document.visibilityState;
		document.dispatchEvent(new Event('visibilitychange'));
	})()`))
	bob.wait(uiSettle, "read and plain again", `__t.badge(`+jsString(convA)+`) === '' && __t.badge(`+jsString(convC)+`) === '1' && document.title === 'webchat' && document.getElementById('favicon').getAttribute('href') === 'favicon.svg'`)
}

func TestBrowserSendRetry(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	b.befriend(a, "alice")
	conv := dmConv(a.ID, b.ID)
	alice := newPerson(t, br, srv, "alice")
	// As over plain HTTP, where crypto.randomUUID does not exist: the page
	// makes its client ids from getRandomValues.
	if _, err := chromedp.Call(alice.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `Crypto.prototype.randomUUID = undefined;`,
	}); err != nil {
		t.Fatalf("no randomUUID: %v", err)
	}
	alice.login("alice")
	alice.openConv(conv)

	// The server takes the message, and its answer is lost on the way back.
	ctx, cancel := context.WithTimeout(alice.ctx, uiSettle)
	defer cancel()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(alice.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/api/messages", RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		t.Fatalf("intercept: %v", err)
	}
	alice.say("lost answer")
	for ev, err := range paused {
		if err != nil {
			t.Fatalf("waiting for the send: %v", err)
		}
		if _, err := chromedp.Call(alice.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset}); err != nil {
			t.Fatalf("fail the answer: %v", err)
		}
		break
	}
	if _, err := chromedp.Call(alice.ctx, fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatalf("stop intercepting: %v", err)
	}
	alice.wait(uiSettle, "the message marked for retry", `(() => { const m = __t.all(__t.tid('message') + '[data-pending]').find((m) => m.textContent.includes('lost answer')); return !!m && !!m.querySelector(__t.tid('message-retry')); })()`)
	history := func() (n int, clientID string) {
		var h struct {
			Messages []struct {
				Body     string `json:"body"`
				ClientID string `json:"client_id"`
			} `json:"messages"`
		}
		b.call("GET", "/api/conversations/"+conv+"/messages", nil, &h, http.StatusOK)
		for _, m := range h.Messages {
			if m.Body == "lost answer" {
				n++
				clientID = m.ClientID
			}
		}
		return n, clientID
	}
	if n, _ := history(); n != 1 {
		t.Fatalf("the server has %d copies before the retry, want 1", n)
	}
	pendingID := evalJS[string](alice, `document.querySelector('[data-testid="message"][data-pending]').dataset.clientId`)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(pendingID) {
		t.Errorf("client_id %q is not a random UUID", pendingID)
	}

	alice.do(chromedp.Click(testID("message-retry")))
	alice.waitMessage(conv, "lost answer", "Alice")
	n, id := history()
	if n != 1 {
		t.Errorf("the server has %d copies after the retry, want 1: the retry must reuse the client_id", n)
	}
	if id != "" && id != pendingID {
		t.Errorf("stored client_id %q, the webPage sent %q", id, pendingID)
	}
	if got := evalJS[int](alice, pageHelpers+`__t.bodies(`+jsString(conv)+`).filter((b) => b === 'lost answer').length`); got != 1 {
		t.Errorf("the webPage shows the message %d times", got)
	}
}

func TestBrowserRateLimited(t *testing.T) {
	srv := startServer(t, "RATE_SEND", "1,1")
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	b.befriend(a, "alice")
	conv := dmConv(a.ID, b.ID)
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(conv)

	for _, body := range []string{"first", "second", "third"} {
		alice.do(chromedp.SendKeys(testID("composer"), body), pressEnter(false))
	}
	alice.wait(uiSettle, "sending too fast", `__t.all(__t.tid('message') + '[data-pending]').some((m) => m.textContent.includes('Sending too fast'))`)
	// Each goes once Retry-After passed, in the order typed.
	alice.wait(uiSettle, "all three confirmed", `__t.all(__t.tid('message') + '[data-pending]').length === 0 && __t.bodies(`+jsString(conv)+`).join() === 'first,second,third'`)
	seqs := evalJS[[]int](alice, `[...document.querySelectorAll('[data-testid="message"]')].map((m) => Number(m.dataset.seq))`)
	if len(seqs) != 3 || seqs[0] >= seqs[1] || seqs[1] >= seqs[2] {
		t.Errorf("seqs %v, want increasing in the order typed", seqs)
	}
}
