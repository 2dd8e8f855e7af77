package main

// Tabs, widths and connections: tabs sharing one poll, the phone width, a
// superseded tab, reconnecting, attention, retries and rate limits.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"webchat/store/storetest"
)

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
