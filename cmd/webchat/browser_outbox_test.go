package main

// What the person typed outlives a reload: unsent messages (the outbox,
// issue 14 item 12) and drafts (item 17).

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// failNextSend makes the tab's next POST /api/messages fail on the way out
// (the server never sees it), while say runs.
func (p *webPage) failNextSend(say func()) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiSettle)
	defer cancel()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/api/messages", RequestStage: fetch.RequestStageRequest},
	}}); err != nil {
		p.t.Fatalf("intercept: %v", err)
	}
	say()
	for ev, err := range paused {
		if err != nil {
			p.t.Fatalf("waiting for the send: %v", err)
		}
		if _, err := chromedp.Call(p.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionRefused}); err != nil {
			p.t.Fatalf("fail the send: %v", err)
		}
		break
	}
	if _, err := chromedp.Call(p.ctx, fetch.Disable, cdp.Empty{}); err != nil {
		p.t.Fatalf("stop intercepting: %v", err)
	}
}

const failedWith = `(() => { const m = __t.all(__t.tid('message') + '[data-pending="failed"]').find((m) => m.textContent.includes(%s)); return !!m && !!m.querySelector(__t.tid('message-retry')); })()`

// A message whose send failed is kept with its client_id across a reload,
// and sent (once) when the page is back.
func TestBrowserOutboxSurvivesReload(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			b.befriend(a, "alice")
			conv := dmConv(a.ID, b.ID)
			alice := newPerson(t, br, srv, "alice")
			alice.setWidth(wd.w, wd.h)
			alice.login("alice")
			alice.openConv(conv)

			alice.failNextSend(func() { alice.say("kept for later") })
			alice.wait(uiSettle, "the message marked failed", fmt.Sprintf(failedWith, jsString("kept for later")))
			alice.shot("failed")
			clientID := evalJS[string](alice, `document.querySelector('[data-testid="message"][data-pending]').dataset.clientId`)
			if bodies, _ := b.historyBodies(conv); slices.Contains(bodies, "kept for later") {
				t.Fatalf("the server has the message that failed on the way: %q", bodies)
			}

			alice.do(chromedp.Reload())
			alice.waitMessage(conv, "kept for later", "Alice")
			bodies, ids := b.historyBodies(conv)
			if n := count(bodies, "kept for later"); n != 1 {
				t.Fatalf("the server has %d copies, want 1: %q", n, bodies)
			}
			if i := slices.Index(bodies, "kept for later"); ids[i] != clientID {
				t.Errorf("sent with client_id %q, the page had %q", ids[i], clientID)
			}
			// Sent, it is out of the outbox: another reload sends nothing more.
			alice.do(chromedp.Reload())
			alice.waitMessage(conv, "kept for later", "Alice")
			alice.say("and one more")
			alice.waitMessage(conv, "and one more", "Alice")
			if bodies, _ := b.historyBodies(conv); count(bodies, "kept for later") != 1 {
				t.Errorf("after another reload the server has %q", bodies)
			}
		})
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// A message that failed during an outage goes by itself once the
// connection is back: nobody has to press Retry.
func TestBrowserOutboxSendsWhenBack(t *testing.T) {
	srv, outage := startRestartableServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	b.befriend(a, "alice")
	conv := dmConv(a.ID, b.ID)
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(conv)
	waitGauge(t, srv, 1)

	outage.stop()
	alice.say("written offline")
	alice.wait(uiSettle, "the message marked failed", fmt.Sprintf(failedWith, jsString("written offline")))
	outage.start()
	alice.do(chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event('online'))`))
	alice.waitMessage(conv, "written offline", "Alice")
	if bodies, _ := b.historyBodies(conv); count(bodies, "written offline") != 1 {
		t.Errorf("the server has %q", bodies)
	}
}

// A draft stays in its conversation's composer across a reload, and is
// gone once sent.
func TestBrowserDraftSurvivesReload(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	c := srv.apiSignup(t, "carol", "Carol")
	b.befriend(a, "alice")
	c.befriend(a, "alice")
	convB, convC := dmConv(a.ID, b.ID), dmConv(a.ID, c.ID)
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(convB)
	alice.do(chromedp.SendKeys(testID("composer"), "half a thought"))
	alice.openConv(convC)
	alice.do(chromedp.SendKeys(testID("composer"), "for carol"))

	alice.do(chromedp.Reload())
	alice.wait(uiSettle, "Carol's draft back", `location.hash === '#`+convC+`' && document.querySelector(__t.tid('composer')).value === 'for carol'`)
	alice.openConv(convB)
	alice.wait(uiSettle, "Bob's draft back", `document.querySelector(__t.tid('composer')).value === 'half a thought'`)
	alice.do(pressEnter(false))
	alice.waitMessage(convB, "half a thought", "Alice")
	alice.do(chromedp.Reload())
	alice.wait(uiSettle, "no draft once sent", `!document.getElementById('chat-main').hidden && location.hash === '#`+convB+`' && document.querySelector(__t.tid('composer')).value === ''`)
}
