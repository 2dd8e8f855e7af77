package main

// The connection pill and which tab polls (issue 14, items 11 and 13).

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// connTrack records every text the connection pill shows from now on in
// window.__conn, so a test sees a "reconnecting" that came and went.
const connTrack = `(() => {
	const el = document.querySelector('[data-testid="connection-state"]');
	window.__conn = [el.textContent];
	new MutationObserver(() => window.__conn.push(el.textContent)).observe(el, {childList: true, characterData: true, subtree: true});
	return true;
})()`

const connIs = `document.querySelector('[data-testid="connection-state"]').textContent === `

// connQuick is how soon the pill must say what is true. The test server's
// polls wait 20 s, so a pill waiting for a long poll to answer misses it.
const connQuick = 3 * time.Second

// Reloading one of two tabs says nothing about the connection: no tab shows
// "reconnecting" on the way, and both say "connected" at once after it.
func TestBrowserReloadKeepsConnected(t *testing.T) {
	for _, kind := range []string{"web-locks", "lease"} {
		t.Run(kind, func(t *testing.T) {
			srv := startServer(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			a.befriend(b, "bob")
			conv := dmConv(a.ID, b.ID)
			tabs := browserTabs(t, srv, "bob", 2, kind == "lease")
			for _, p := range tabs {
				p.openConv(conv)
			}
			waitGauge(t, srv, 1)
			for _, p := range tabs {
				p.wait(uiSettle, "connected", connIs+`'connected'`)
			}
			// Reload the polling tab, then the other (which polls by then).
			for round := range 2 {
				var leader, other *webPage
				for _, p := range tabs {
					if p.pollRole() == "leader" {
						leader = p
					} else {
						other = p
					}
				}
				if leader == nil || other == nil {
					t.Fatalf("round %d: no single polling tab", round)
				}
				other.wait(uiSettle, "the recorder", connTrack)
				leader.do(chromedp.Reload())
				leader.wait(uiSettle, "the app after the reload", `!document.getElementById('app').hidden`)
				for _, p := range tabs {
					p.wait(connQuick, "connected within "+connQuick.String(), connIs+`'connected'`)
				}
				waitGauge(t, srv, 1)
				if seen := evalJS[[]string](other, `window.__conn`); slices.Contains(seen, "reconnecting") {
					t.Errorf("round %d: the other tab showed %q while its sibling reloaded", round, seen)
				}
				a.send(b.ID, fmt.Sprintf("after reload %d", round))
				for _, p := range tabs {
					p.waitMessage(conv, fmt.Sprintf("after reload %d", round), "Alice")
				}
			}
		})
	}
}

// After an outage the pill says "connected" as soon as the server answers
// again, not when the next long poll ends.
func TestBrowserConnectedSoonAfterOutage(t *testing.T) {
	srv, outage := startRestartableServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	bob.openConv(dmConv(a.ID, b.ID))
	waitGauge(t, srv, 1)

	outage.stop()
	bob.wait(uiSettle, "reconnecting", connIs+`'reconnecting'`)
	bob.shot("reconnecting")
	outage.start()
	// The network coming back ("online") ends the backoff wait; the poll
	// that follows answers at once.
	bob.do(chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event('online'))`))
	bob.wait(connQuick, "connected within "+connQuick.String()+" of the server answering", connIs+`'connected'`)
	bob.shot("connected")
}

// Over plain HTTP (the lease), a tab whose poll a sibling superseded follows
// that sibling, and polls again once the sibling closes.
func TestBrowserSupersededBySiblingFollows(t *testing.T) {
	srv := startServer(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	tabs := browserTabs(t, srv, "bob", 2, true)
	for _, p := range tabs {
		p.openConv(conv)
	}
	waitGauge(t, srv, 1)
	var leader, other *webPage
	for _, p := range tabs {
		if p.pollRole() == "leader" {
			leader = p
		} else {
			other = p
		}
	}
	if leader == nil || other == nil {
		t.Fatalf("no single polling tab")
	}

	// The leader stops seeing the lease while it leads, as a tab the browser
	// throttles in the background does: it neither renews nor reads it.
	// The other tab takes the lapsed lease and polls, superseding the
	// leader's poll.
	leader.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const get = Storage.prototype.getItem, set = Storage.prototype.setItem, del = Storage.prototype.removeItem;
		const blind = (k) => k === 'webchat:poll-lease' && document.documentElement.dataset.poll === 'leader';
		let mine = null;
		Storage.prototype.getItem = function (k) {
			if (blind(k)) return mine || (mine = get.call(this, k));
			return get.call(this, k);
		};
		Storage.prototype.setItem = function (k, v) { if (!blind(k)) set.call(this, k, v); };
		Storage.prototype.removeItem = function (k) { if (!blind(k)) del.call(this, k); };
	})()`))
	other.wait(uiSettle, "the other tab to take over", `document.documentElement.dataset.poll === 'leader'`)
	leader.wait(uiSettle, "the superseded tab to stop polling", `document.documentElement.dataset.poll !== 'leader'`)
	waitGauge(t, srv, 1)
	leader.wait(uiSettle, "following, not stopped", `document.documentElement.dataset.poll === 'follower' && document.getElementById('banner').hidden`)
	a.send(b.ID, "while the sibling polls")
	leader.waitMessage(conv, "while the sibling polls", "Alice")

	// The sibling closes: the superseded tab competes again and polls.
	if err := chromedp.Cancel(other.ctx); err != nil {
		t.Fatalf("close the polling tab: %v", err)
	}
	leader.wait(uiSettle, "polling again", `document.documentElement.dataset.poll === 'leader'`)
	waitGauge(t, srv, 1)
	a.send(b.ID, "after the sibling closed")
	leader.waitMessage(conv, "after the sibling closed", "Alice")
}
