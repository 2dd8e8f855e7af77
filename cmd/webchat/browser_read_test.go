package main

// Reading and reaching (issue 14, item 17): nothing is marked read while the
// reader is scrolled up, and an ex-friend's conversation stays reachable.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// A message that arrives while the reader is scrolled up stays unread (on
// the server too) until they come down to it.
func TestBrowserNoReadWhileScrolledUp(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			b.befriend(a, "alice")
			conv := dmConv(a.ID, b.ID)
			for i := 1; i <= 60; i++ {
				b.send(a.ID, fmt.Sprintf("message %d", i))
			}
			alice := newPerson(t, br, srv, "alice")
			alice.recordFetches()
			alice.setWidth(wd.w, wd.h)
			alice.login("alice")
			alice.openConv(conv)
			alice.waitMessage(conv, "message 60", "Bob")
			alice.wait(uiSettle, "all read", `__t.badge(`+jsString(conv)+`) === ''`)
			other := srv.apiLogin(t, "alice") // another device of Alice's, to ask the server
			storeUnread := func() int64 { return other.unread(conv) }
			if u := storeUnread(); u != 0 {
				t.Fatalf("unread %d after opening", u)
			}

			// Scrolled up to the top, Alice does not see what comes in.
			alice.wait(uiSettle, "scrolled up", `(document.querySelector(__t.tid('messages')).scrollTop = 0, document.querySelector(__t.tid('messages')).scrollTop === 0 && !__t.atBottom())`)
			seq := b.send(a.ID, "while you were away up there")
			alice.wait(uiArrival, "the new-messages pill", `!!__t.msg(`+jsString(conv)+`, 'while you were away up there') && !document.querySelector(__t.tid('new-messages')).hidden`)
			alice.wait(uiSettle, "its badge", `__t.badge(`+jsString(conv)+`) === '1'`)
			reads := evalJS[[]string](alice, `__fetches.filter((f) => f.includes('/read'))`)
			for _, r := range reads {
				if r == fmt.Sprintf(`POST /api/conversations/%s/read {"seq":%d}`, conv, seq) {
					t.Fatalf("marked read while scrolled up: %q", reads)
				}
			}
			if u := storeUnread(); u != 1 {
				t.Fatalf("the server counts %d unread while Alice is scrolled up, want 1", u)
			}
			alice.shot("scrolled-up")

			// Down at the newest, it is read.
			alice.do(chromedp.Click(testID("new-messages")))
			alice.wait(uiSettle, "read once seen", `__t.atBottom() && __t.badge(`+jsString(conv)+`) === ''`)
			alice.wait(uiSettle, "the read sent", `__fetches.includes('POST /api/conversations/`+conv+`/read {"seq":`+fmt.Sprint(seq)+`}')`)
		})
	}
}

// After unfriending, the conversation is still listed (under Past
// conversations), opens read-only, and survives a reload.
func TestBrowserPastConversationReachable(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			b.befriend(a, "alice")
			conv := dmConv(a.ID, b.ID)
			b.send(a.ID, "remember me")
			alice := newPerson(t, br, srv, "alice")
			alice.setWidth(wd.w, wd.h)
			alice.login("alice")
			alice.wait(uiSettle, "Bob a friend", `!!__t.item(`+jsString(conv)+`)`)

			b.call("DELETE", fmt.Sprintf("/api/friends/%d", a.ID), nil, nil, http.StatusNoContent)
			past := `document.querySelector('[data-testid="past-item"][data-conv="` + conv + `"]')`
			alice.wait(uiSettle, "Bob under past conversations", `!__t.item(`+jsString(conv)+`) && !!`+past+` && `+past+`.textContent.includes('Bob')`)
			for round := range 2 {
				alice.do(chromedp.Click(chromedp.CSS(`[data-testid="past-item"][data-conv="` + conv + `"]`)))
				alice.wait(uiSettle, "the conversation open", `!document.getElementById('chat-main').hidden && location.hash === '#`+conv+`'`)
				alice.waitMessage(conv, "remember me", "Bob")
				alice.wait(uiSettle, "read-only, saying why", `document.querySelector(__t.tid('composer')).disabled && document.querySelector(__t.tid('chat-title')).textContent === 'Chatting with Bob' && !document.getElementById('chat-notice').hidden && document.getElementById('chat-notice').textContent.includes('You and Bob are no longer friends')`)
				alice.shot(fmt.Sprintf("past-%d", round))
				if round == 0 {
					alice.do(chromedp.Reload())
					// Reopened from the address after the reload.
					alice.waitMessage(conv, "remember me", "Bob")
					if wd.w <= phoneWidth {
						alice.do(chromedp.Click(testID("back")))
					}
					alice.wait(uiSettle, "still listed after the reload", `!!`+past)
				}
			}
		})
	}
}
