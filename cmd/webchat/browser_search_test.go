package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Search from the browser: a CJK substring and a word in another case find
// their messages, only the participants find them, a query too short is
// refused without asking the server, and a hit opens its conversation at
// the message, loading history back to it, by keyboard, at desktop and
// phone width.
func TestBrowserSearch(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	srv.apiSignup(t, "carol", "Carol")
	b.befriend(a, "alice")
	conv := dmConv(a.ID, b.ID)
	b.send(a.ID, "大家你好啊")
	b.send(a.ID, "Hello world")
	for i := 1; i <= 80; i++ { // the hits are far above the first page
		b.send(a.ID, fmt.Sprintf("filler %d", i))
	}

	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	search := func(p *webPage, q string) {
		p.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="search-input"]').value = ''`), chromedp.SendKeys(testID("search-input"), q+kb.Enter))
	}
	// Archiving takes up to ARCHIVE_DELAY: search until the hit is there.
	alice.wait(uiSettle*4, "a hit for 你好", `(() => {
		const hits = document.querySelectorAll(__t.tid('search-result'));
		if (hits.length === 1 && hits[0].dataset.seq === '1') return true;
		const input = document.querySelector(__t.tid('search-input'));
		input.value = '你好';
		input.form.requestSubmit();
		return false;
	})()`)
	if got := evalJS[string](alice, `document.querySelector(__t.tid('search-result') + ' mark').textContent`); got != "你好" {
		t.Errorf("the match is marked as %q", got)
	}
	alice.shot("hits")

	// Lower case finds "Hello"; the keyboard opens it.
	search(alice, "hello")
	alice.wait(uiSettle, "a hit for hello", `document.querySelectorAll(__t.tid('search-result')).length === 1 &&
		document.querySelector(__t.tid('search-result')).dataset.seq === '2'`)
	alice.do(chromedp.Focus(testID("search-input")), chromedp.KeyEvent(kb.ArrowDown))
	if focused := evalJS[string](alice, `document.activeElement.dataset.testid || ''`); focused != "search-result" {
		t.Fatalf("ArrowDown from the box focused %q", focused)
	}
	alice.do(chromedp.KeyEvent(kb.Enter))
	alice.wait(uiSettle*2, "the conversation at the hit", `(() => {
		const el = document.querySelector('#messages [data-testid="message"][data-seq="2"]');
		if (!el || !el.classList.contains('hit')) return false;
		const box = document.querySelector(__t.tid('messages')).getBoundingClientRect();
		const r = el.getBoundingClientRect();
		return r.top >= box.top && r.bottom <= box.bottom && document.activeElement === el;
	})()`)
	if got := evalJS[string](alice, `location.hash`); got != "#"+conv {
		t.Errorf("opened %q, want #%s", got, conv)
	}
	alice.shot("opened-at-hit")

	// Too short: said so, nothing asked. Escape clears.
	alice.do(chromedp.Evaluate[chromedp.Void](`(() => {
		window.__fetches = [];
		const f = window.fetch;
		window.fetch = function (url, init) { window.__fetches.push(String(url)); return f.apply(this, arguments); };
	})()`))
	search(alice, "a")
	alice.wait(uiSettle, "too short", `document.querySelector(__t.tid('search-empty')) !== null &&
		document.querySelector(__t.tid('search-empty')).textContent.includes('at least 2')`)
	if n := evalJS[int](alice, `window.__fetches.filter((u) => u.includes('/api/search')).length`); n != 0 {
		t.Errorf("a one-character query asked the server %d times", n)
	}
	alice.do(chromedp.Focus(testID("search-input")), chromedp.KeyEvent(kb.Escape))
	alice.wait(uiSettle, "cleared", `document.querySelector('#search-results').hidden && document.querySelector(__t.tid('search-input')).value === ''`)

	// At phone width, too.
	alice.setWidth(phoneWidth, 800)
	alice.do(chromedp.Evaluate[chromedp.Void](`history.back()`))
	search(alice, "你好")
	alice.wait(uiSettle, "a hit at phone width", `(() => {
		const hit = document.querySelector(__t.tid('search-result'));
		if (!hit) return false;
		const r = hit.getBoundingClientRect();
		return r.width > 0 && r.right <= window.innerWidth + 1;
	})()`)
	alice.shot("phone-hits")
	alice.do(chromedp.Click(testID("search-result")))
	alice.wait(uiSettle*2, "opened at phone width", `(() => {
		const el = document.querySelector('#messages [data-testid="message"][data-seq="1"]');
		return !!el && el.getBoundingClientRect().width > 0;
	})()`)
	alice.shot("phone-opened")

	// Carol, no participant, finds nothing.
	carol := newPerson(t, br, srv, "carol")
	carol.login("carol")
	search(carol, "你好")
	carol.wait(uiSettle, "no hits for carol", `document.querySelector(__t.tid('search-empty')) !== null &&
		document.querySelector(__t.tid('search-empty')).textContent.includes('No messages')`)
	if n := evalJS[int](carol, `document.querySelectorAll(__t.tid('search-result')).length`); n != 0 {
		t.Fatalf("carol found %d of others' messages", n)
	}
}
