package main

// The chat a person sees: signing up and in, direct and group chats,
// history, and names and bodies shown as text.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

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
