package main

// Presence, typing and read receipts in the browser (issue 18): the live
// dot and "last seen", the status picker, the typing line that goes away
// by itself, "Seen" and "Read by N" with the readers' names.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestBrowserPresenceTypingReceipts(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t, "PRESENCE_GRACE", "3s")
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			c := srv.apiSignup(t, "carol", "Carol")
			b.befriend(a, "alice")
			c.befriend(a, "alice")
			conv := dmConv(a.ID, b.ID)
			dot := func(want string) string {
				return `(() => { const i = __t.item(` + jsString(conv) + `); const d = i && i.querySelector('[data-presence]'); return !!d && d.dataset.presence === ` + jsString(want) + `; })()`
			}

			bob := newPerson(t, br, srv, "bob")
			bob.setWidth(wd.w, wd.h)
			bob.login("bob")
			alice := newPerson(t, br, srv, "alice")
			alice.setWidth(wd.w, wd.h)

			// Alice comes online: Bob's dot turns green at once, no reload.
			alice.login("alice")
			bob.wait(3*time.Second, "Alice online", dot("online"))
			bob.openConv(conv)
			bob.wait(uiSettle, "online under her name", `document.querySelector(__t.tid('chat-presence')).textContent === 'online'`)

			// Away, then invisible (offline, with when she was last seen),
			// from her menu, by keyboard.
			alice.do(chromedp.Focus(testID("me-menu")))
			alice.do(chromedp.KeyEvent("\r"))
			alice.wait(uiSettle, "the menu open", `document.getElementById('me-menu').open`)
			alice.checkContrast("the status menu", "#me-menu .menu")
			alice.shot("status-menu")
			pick := func(v string) {
				alice.do(chromedp.Focus(testID("status-picker")), chromedp.SetValue(testID("status-picker"), v))
				alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector(__t.tid('status-picker')).dispatchEvent(new Event('change'))`))
			}
			pick("away")
			bob.wait(3*time.Second, "Alice away", dot("away")+` && document.querySelector(__t.tid('chat-presence')).textContent === 'away'`)
			pick("invisible")
			bob.wait(3*time.Second, "Alice offline", dot("offline")+` && document.querySelector(__t.tid('chat-presence')).textContent.startsWith('last seen')`)
			bob.shot("friend-invisible")
			pick("online")
			bob.wait(3*time.Second, "Alice online again", dot("online"))
			alice.do(chromedp.KeyEvent("\x1b")) // Escape closes the menu
			alice.wait(uiSettle, "the menu closed", `!document.getElementById('me-menu').open`)

			// Typing: Bob sees it within a second; it goes by itself at its
			// until, though no stop comes (Alice keeps her draft).
			alice.openConv(conv)
			start := time.Now()
			alice.do(chromedp.SendKeys(testID("composer"), "hel"))
			bob.wait(2*time.Second, "Alice is typing", `document.querySelector(__t.tid('typing')).textContent === 'Alice is typing…'`)
			t.Logf("typing shown after %v", time.Since(start))
			bob.checkContrast("the typing line", "#typing-line")
			bob.shot("typing")
			bob.wait(9*time.Second, "the typing line gone by itself", `document.querySelector(__t.tid('typing')).textContent === ''`)
			if d := time.Since(start); d < 4*time.Second {
				t.Fatalf("the typing line went after %v, before its until", d)
			}

			// Seen: Bob has the conversation open, so he reads it.
			alice.do(chromedp.SendKeys(testID("composer"), "lo there"), chromedp.Click(testID("send")))
			bob.waitMessage(conv, "hello there", "Alice")
			alice.wait(3*time.Second, "Seen under it", `(() => { const m = __t.msg(`+jsString(conv)+`, 'hello there'); return !!m && !!m.querySelector(__t.tid('message-seen')); })()`)
			alice.checkContrast("Seen", "#message-list")
			alice.shot("seen")
			// ... and after a reload (from /api/me's peer_read).
			alice.do(chromedp.Reload())
			alice.wait(uiSettle, "Seen after a reload", `(() => { const m = __t.msg(`+jsString(conv)+`, 'hello there'); return !!m && !!m.querySelector(__t.tid('message-seen')); })()`)

			// Read by N in a group, with the names on a click.
			if wd.name == "phone" {
				alice.do(chromedp.Click(testID("back")))
			}
			g := a.createGroup("Trio", "bob", "carol")
			gconv := fmt.Sprintf("g%d", g.ID)
			seq := a.sendGroup(g.ID, "who reads this")
			alice.openConv(gconv)
			alice.waitMessage(gconv, "who reads this", "Alice")
			b.call("POST", "/api/conversations/"+gconv+"/read", map[string]any{"seq": seq}, nil, http.StatusNoContent)
			c.call("POST", "/api/conversations/"+gconv+"/read", map[string]any{"seq": seq}, nil, http.StatusNoContent)
			alice.wait(6*time.Second, "Read by 2", `(() => { const m = __t.msg(`+jsString(gconv)+`, 'who reads this'); const b = m && m.querySelector(__t.tid('message-read-by')); return !!b && b.textContent === 'Read by 2'; })()`)
			alice.do(chromedp.Focus(testID("message-read-by")), chromedp.KeyEvent("\r"))
			alice.wait(uiSettle, "the readers' names", `(() => { const l = document.querySelector(__t.tid('read-by-list')); return !!l && [...l.children].map((li) => li.textContent).sort().join(',') === 'Bob,Carol'; })()`)
			alice.checkContrast("Read by", "#message-list")
			alice.shot("read-by")

			// Alice closes her only tab: offline on Bob's page within the
			// grace and 5 s.
			closed := time.Now()
			alice.do(chromedp.Navigate("about:blank"))
			bob.wait(3*time.Second+5*time.Second, "Alice offline after her tab closed", dot("offline"))
			t.Logf("offline %v after the tab closed", time.Since(closed))
			bob.wait(uiSettle, "last seen just now", `document.querySelector(__t.tid('chat-presence')).textContent === 'last seen just now'`)
			bob.checkContrast("the chat header", ".chat-head")
			bob.shot("last-seen")
		})
	}
}
