package main

// A declined friend request (the server's friend_request_declined event):
// the asker stops waiting and is told, the decliner's other devices drop
// the request.

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserFriendRequestDeclined(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			srv.apiSignup(t, "alice", "Alice")
			srv.apiSignup(t, "bob", "Bob")
			alice := newPerson(t, br, srv, "alice")
			bob := newPerson(t, br, srv, "bob")              // the device that declines
			bobPhone := newPerson(t, br, srv, "bob's phone") // another device of his
			for _, p := range []*webPage{alice, bob, bobPhone} {
				p.setWidth(wd.w, wd.h)
			}
			alice.login("alice")
			bob.login("bob")
			bobPhone.login("bob")

			alice.do(chromedp.SendKeys(testID("add-friend-input"), "bob"), chromedp.Click(testID("add-friend-submit")))
			alice.wait(uiSettle, "waiting for Bob", `!!document.querySelector(__t.tid('request-outgoing'))`)
			for _, p := range []*webPage{bob, bobPhone} {
				p.wait(uiArrival, "Alice's request", `__t.all(__t.tid('request-item')).some((r) => r.textContent.includes('Alice'))`)
			}
			bob.do(chromedp.Click(testID("request-decline")))
			bob.wait(uiSettle, "the request gone", `!document.querySelector(__t.tid('request-item'))`)
			bobPhone.wait(uiArrival, "the request gone on Bob's other device", `!document.querySelector(__t.tid('request-item')) && document.getElementById('requests').hidden`)
			alice.wait(uiArrival, "no longer waiting, and told", `!document.querySelector(__t.tid('request-outgoing')) && document.getElementById('add-friend-status').textContent.includes('Bob declined your friend request')`)
			alice.shot("declined")
		})
	}
}
