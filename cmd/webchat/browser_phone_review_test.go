package main

// The phone (issue 14, item 15, and item 18's focus after Back): Back goes
// from a conversation to the list, focus lands on the conversation left,
// and the keyboard opening keeps the newest messages in view.

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

const listAlone = `(() => { const v = (s) => { const e = document.querySelector(s); return !!e && e.getClientRects().length > 0; }; return v('.sidebar') && !v('.chat'); })()`

// focusedOn is a page condition: keyboard focus is on conv's list item.
func focusedOn(conv string) string {
	return `(() => { const a = document.activeElement; return !!a && a.dataset.conv === ` + jsString(conv) + ` && a.matches('[data-testid="friend-item"], [data-testid="group-item"], [data-testid="past-item"]'); })()`
}

func TestBrowserPhoneBack(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	b.send(a.ID, "hi on the phone")

	p := newPerson(t, br, srv, "alice")
	p.setWidth(phoneWidth, 800)
	p.login("alice")
	p.wait(uiSettle, "the list, alone", listAlone)

	// The browser's Back (a phone's back gesture) returns to the list, in
	// the app, with focus on the conversation left.
	p.openConv(conv)
	p.waitMessage(conv, "hi on the phone", "Bob")
	p.do(chromedp.NavigateBack())
	p.wait(uiSettle, "the list again, in the app", listAlone+` && location.hash === '' && !document.getElementById('app').hidden`)
	p.wait(uiSettle, "focus on Bob's item", focusedOn(conv))
	p.shot("after-back")
	// Forward goes back into the conversation.
	p.do(chromedp.NavigateForward())
	p.wait(uiSettle, "the conversation again", `location.hash === '#`+conv+`' && !document.getElementById('chat-main').hidden`)

	// The page's own back button does the same, and leaves no step behind
	// that would bring the chat back on the next Back.
	p.do(chromedp.Click(testID("back")))
	p.wait(uiSettle, "the list again", listAlone)
	p.wait(uiSettle, "focus on Bob's item", focusedOn(conv))

	// Opened from its address (a link, a reload), Back still goes to the list.
	p.do(chromedp.Navigate(srv.URL + "/#" + conv))
	p.waitMessage(conv, "hi on the phone", "Bob")
	p.do(chromedp.NavigateBack())
	p.wait(uiSettle, "the list after Back from the address", listAlone+` && !document.getElementById('app').hidden`)
}

// Focus after Back on a wide screen too (Alt+Left, the browser's Back).
func TestBrowserDesktopBackFocus(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	p := newPerson(t, br, srv, "alice")
	p.login("alice")
	p.openConv(conv)
	p.do(chromedp.NavigateBack())
	p.wait(uiSettle, "no conversation open", `document.getElementById('chat-main').hidden && location.hash === ''`)
	p.wait(uiSettle, "focus on Bob's item", focusedOn(conv))
}

// The on-screen keyboard shrinks the window: the newest message stays in
// view above the composer.
func TestBrowserPhoneKeyboardKeepsNewest(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	for i := 1; i <= 30; i++ {
		b.send(a.ID, fmt.Sprintf("line %d", i))
	}
	p := newPerson(t, br, srv, "alice")
	p.setWidth(phoneWidth, 800)
	p.login("alice")
	p.openConv(conv)
	p.waitMessage(conv, "line 30", "Bob")
	p.wait(uiSettle, "at the newest", `__t.atBottom()`)
	if !evalJS[bool](p, `/interactive-widget=resizes-content/.test(document.querySelector('meta[name=viewport]').content)`) {
		t.Errorf("the viewport does not ask the keyboard to resize the page (interactive-widget=resizes-content)")
	}
	p.do(chromedp.Click(testID("composer")))
	p.setWidth(phoneWidth, 420) // the keyboard takes the lower half
	newestShown := `(() => { const box = document.querySelector(__t.tid('messages')).getBoundingClientRect(); const m = __t.msg(` + jsString(conv) + `, 'line 30').getBoundingClientRect(); return m.bottom <= box.bottom + 1 && m.top >= box.top; })()`
	p.wait(uiSettle, "the newest message in view with the keyboard up", newestShown)
	p.shot("keyboard")
	p.setWidth(phoneWidth, 800)
	p.wait(uiSettle, "and with it down", newestShown+` && __t.atBottom()`)
}
