package main

// Accessibility (issue 14, item 18): WCAG AA contrast computed from the
// page's own styles, a message log that announces only what is new, one
// tab stop for the emoji, buttons that name whom they act on. (Focus after
// Back is in browser_phone_review_test.go.)

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// contrastJS answers, for every visible text in root (a selector), the
// contrast of its colour on what is behind it, as WCAG 2 computes it:
// [{text, fg, bg, ratio, need}], worst first. The background is every
// ancestor's background colour composited, from the first opaque one (or a
// gradient: each of its colours is tried, the worst kept; or the white
// canvas). Inactive controls (disabled), text hidden from assistive
// technology (aria-hidden: avatars' initials) and text with no letter or
// digit (emoji, "·") are exempt, as WCAG exempts them.
const contrastJS = `((root) => {
	const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
	const over = (top, under) => ({r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1});
	const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
	const hex = (c) => '#' + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
	const backs = (el) => {
		const layers = [];
		let bases = [{r: 255, g: 255, b: 255, a: 1}];
		for (let e = el; e; e = e.parentElement) {
			const cs = getComputedStyle(e);
			const grad = cs.backgroundImage.includes('gradient') ? (cs.backgroundImage.match(/rgba?\([^)]+\)/g) || []).map(parse) : [];
			const bg = parse(cs.backgroundColor);
			if (grad.length) { bases = grad.map((g) => bg && bg.a ? over(g, bg) : g); break; }
			if (bg && bg.a >= 1) { bases = [bg]; break; }
			if (bg && bg.a > 0) layers.push(bg);
		}
		return bases.map((b) => layers.reduceRight((acc, l) => over(l, acc), b));
	};
	const out = [];
	const walk = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		const text = n.textContent.trim();
		const el = n.parentElement;
		if (!text || !/[\p{L}\p{N}]/u.test(text) || !el || !el.getClientRects().length) continue;
		if (el.closest('[aria-hidden="true"], :disabled, option, script, style')) continue;
		const cs = getComputedStyle(el);
		if (cs.visibility !== 'visible') continue;
		let opacity = 1;
		for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
		const fg0 = parse(cs.color);
		const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
		const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
		let worst = null;
		for (const bg of backs(el)) {
			const fg = over({...fg0, a: fg0.a * opacity}, bg);
			const r = ratio(fg, bg);
			if (!worst || r < worst.ratio) worst = {text: text.slice(0, 40), cls: el.className || el.tagName, fg: hex(fg), bg: hex(bg), ratio: Math.round(r * 100) / 100, need};
		}
		out.push(worst);
	}
	return out.sort((a, b) => a.ratio / a.need - b.ratio / b.need);
})`

type contrastRow struct {
	Text  string  `json:"text"`
	Cls   string  `json:"cls"`
	FG    string  `json:"fg"`
	BG    string  `json:"bg"`
	Ratio float64 `json:"ratio"`
	Need  float64 `json:"need"`
}

// checkContrast fails the test for every text under root below AA, and
// logs the lowest ratio found, per scene.
func (p *webPage) checkContrast(scene, root string) {
	p.t.Helper()
	rows := evalJS[[]contrastRow](p, contrastJS+`(`+jsString(root)+`)`)
	if len(rows) == 0 {
		p.t.Fatalf("%s: no text found under %s", scene, root)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		key := r.Cls + r.FG + r.BG
		if r.Ratio < r.Need && !seen[key] {
			seen[key] = true
			p.t.Errorf("%s: %q (%s) is %s on %s: %.2f:1, AA needs %.1f:1", scene, r.Text, r.Cls, r.FG, r.BG, r.Ratio, r.Need)
		}
	}
	// The lowest ratio of each kind of text, for the record.
	low := map[string]float64{}
	var kinds []string
	for _, r := range rows {
		if v, ok := low[r.Cls]; !ok || r.Ratio < v {
			if !ok {
				kinds = append(kinds, r.Cls)
			}
			low[r.Cls] = r.Ratio
		}
	}
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, " [%s] %.2f", k, low[k])
	}
	p.t.Logf("%s: %d texts, the lowest %q (%s) %s on %s at %.2f:1; by kind:%s", scene, len(rows), rows[0].Text, rows[0].Cls, rows[0].FG, rows[0].BG, rows[0].Ratio, b.String())
}

// Every text on every screen passes WCAG AA, at desktop and phone width.
func TestBrowserContrast(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			c := srv.apiSignup(t, "carol", "Carol")
			srv.apiSignup(t, "dave", "Dave")
			e := srv.apiSignup(t, "erin", "Erin")
			a.befriend(b, "bob")
			a.befriend(c, "carol")
			e.call("POST", "/api/friend-requests", map[string]any{"username": "alice"}, nil, http.StatusCreated)
			a.call("POST", "/api/friend-requests", map[string]any{"username": "dave"}, nil, http.StatusCreated)
			g := a.createGroup("Contrast club", "bob", "carol")
			a.call("PATCH", fmt.Sprintf("/api/groups/%d/members/%d", g.ID, b.ID), map[string]any{"role": "admin"}, nil, http.StatusOK)
			b.sendGroup(g.ID, "hello group")
			c.send(a.ID, "unread from carol")
			convB := dmConv(a.ID, b.ID)
			b.send(a.ID, "hi alice")

			alice := newPerson(t, br, srv, "alice")
			alice.setWidth(wd.w, wd.h)
			alice.open()
			alice.do(chromedp.WaitVisible(testID("login-username")),
				chromedp.SendKeys(testID("login-username"), "alice"), chromedp.SendKeys(testID("login-password"), "wrong password"), chromedp.Click(testID("login-submit")))
			alice.wait(uiSettle, "the log-in error", `!document.querySelector(__t.tid('auth-error')).hidden`)
			alice.checkContrast("log-in page", "body")
			alice.shot("auth")

			alice.login("alice")
			alice.wait(uiSettle, "requests and badges", `!!document.querySelector(__t.tid('request-item')) && !!document.querySelector(__t.tid('request-outgoing')) && __t.badge(`+jsString(dmConv(a.ID, c.ID))+`) === '1'`)
			alice.do(chromedp.SendKeys(testID("add-friend-input"), "nobody_here"), chromedp.Click(testID("add-friend-submit")))
			alice.wait(uiSettle, "an error line", `document.getElementById('add-friend-status').classList.contains('error')`)
			alice.checkContrast("contact list", "body")
			alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="add-friend-input"]').value = ''`), chromedp.SendKeys(testID("add-friend-input"), "erin"), chromedp.Click(testID("add-friend-submit"))) // she asked: friends at once
			alice.wait(uiSettle, "a good-news line", `!document.getElementById('add-friend-status').hidden && !document.getElementById('add-friend-status').classList.contains('error')`)
			alice.checkContrast("contact list with good news", "#app")
			alice.shot("list")

			alice.openConv(convB)
			alice.waitMessage(convB, "hi alice", "Bob")
			alice.failNextSend(func() { alice.say("this one fails") })
			alice.wait(uiSettle, "the failed send", fmt.Sprintf(failedWith, jsString("this one fails")))
			alice.checkContrast("conversation", "#app")
			alice.shot("conversation")

			if wd.w <= phoneWidth {
				alice.do(chromedp.Click(testID("back")))
			}
			alice.openConv(g.Conv)
			alice.showMembers()
			alice.wait(uiSettle, "roles shown", `!!document.querySelector('.role.owner') && !!document.querySelector('.role.admin')`)
			alice.checkContrast("group with members", "#app")
			alice.do(chromedp.Click(memberButton("carol", "member-remove")))
			alice.wait(uiSettle, "the dialog", `document.querySelector(__t.tid('confirm-dialog')).open`)
			alice.checkContrast("confirmation", "#confirm")
			alice.do(chromedp.Click(testID("confirm-cancel")))
		})
	}
}

// The message window is no live region (a screen reader would read every
// page of history loaded, and the whole list on each switch); one polite
// line announces each new message from someone else, once.
func TestBrowserAnnouncesNewMessagesOnly(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	b.befriend(a, "alice")
	conv := dmConv(a.ID, b.ID)
	for i := 1; i <= 70; i++ {
		b.send(a.ID, fmt.Sprintf("old %d", i))
	}
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(conv)
	alice.waitMessage(conv, "old 70", "Bob")
	if live := evalJS[string](alice, `(() => { for (let e = document.querySelector('[data-testid="message"]'); e; e = e.parentElement) { const l = e.getAttribute('aria-live'), r = e.getAttribute('role'); if ((l && l !== 'off') || ['log', 'status', 'alert', 'marquee', 'timer'].includes(r)) return e.id + ' ' + (r || '') + ' ' + (l || ''); } return ''; })()`); live != "" {
		t.Errorf("the messages sit in a live region: %s", live)
	}
	announcer := `document.querySelector('[data-testid="announcer"]')`
	if !evalJS[bool](alice, `(() => { const a = `+announcer+`; return !!a && a.getAttribute('aria-live') === 'polite' && a.textContent === ''; })()`) {
		t.Fatalf("no empty polite announcer after opening a conversation: %q", evalJS[string](alice, `(`+announcer+` || {}).outerHTML || ''`))
	}
	// Older history loads: nothing is announced.
	alice.wait(uiSettle, "all history", `(document.querySelector(__t.tid('messages')).scrollTop = 0, __t.bodies(`+jsString(conv)+`).length === 70)`)
	if s := evalJS[string](alice, announcer+`.textContent`); s != "" {
		t.Errorf("loading history announced %q", s)
	}
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="messages"]').scrollTop = 1e9`))
	alice.wait(uiSettle, "at the newest", `__t.atBottom()`)
	b.send(a.ID, "something new")
	alice.wait(uiArrival, "the new message announced", announcer+`.textContent === 'Bob: something new'`)
	alice.say("my own words")
	alice.waitMessage(conv, "my own words", "Alice")
	if s := evalJS[string](alice, announcer+`.textContent`); strings.Contains(s, "my own words") {
		t.Errorf("one's own message was announced: %q", s)
	}
}

// The emoji are one tab stop between the messages and the composer; arrow
// keys move between them, Enter inserts one.
func TestBrowserEmojiOneTabStop(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(conv)
	alice.do(chromedp.Focus(testID("messages")))
	stops := 0
	for ; stops < 30; stops++ {
		alice.do(chromedp.KeyEvent(kb.Tab))
		if evalJS[bool](alice, `document.activeElement === document.querySelector('[data-testid="composer"]')`) {
			break
		}
	}
	if stops != 1 {
		t.Errorf("%d tab stops between the messages and the composer, want 1 (the emoji)", stops)
	}
	alice.do(chromedp.Focus(chromedp.CSS(`[data-testid="emoji"]`)))
	alice.do(chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
	if got := evalJS[string](alice, `document.activeElement.dataset.emoji || ''`); got != "😊" {
		t.Errorf("two ArrowRights from the first emoji focus %q, want 😊", got)
	}
	alice.do(chromedp.KeyEvent(kb.End))
	if got := evalJS[string](alice, `document.activeElement.dataset.emoji || ''`); got != "🍻" {
		t.Errorf("End focuses %q, want 🍻", got)
	}
	alice.do(chromedp.KeyEvent(kb.Enter))
	alice.wait(uiSettle, "the emoji in the composer", `document.querySelector(__t.tid('composer')).value === '🍻'`)
	alice.do(chromedp.Focus(testID("messages")), chromedp.KeyEvent(kb.Tab))
	if got := evalJS[string](alice, `document.activeElement.dataset.emoji || ''`); got != "🍻" {
		t.Errorf("tabbing back to the emoji lands on %q, want the last one used, 🍻", got)
	}
}

// Buttons that act on a member say which member.
func TestBrowserMemberButtonsNameTheMember(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	srv.apiSignup(t, "bob", "Bob")
	srv.apiSignup(t, "carol", "Carol")
	g := a.createGroup("Named", "bob", "carol")
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(g.Conv)
	alice.showMembers()
	alice.wait(uiSettle, "the buttons", `__t.all(__t.tid('member-role')).length === 2`)
	bad := evalJS[[]string](alice, `__t.all(__t.tid('member-item')).flatMap((m) => {
		const name = m.querySelector('.member-name span').textContent;
		return [...m.querySelectorAll('button')].map((b) => b.getAttribute('aria-label') || b.textContent).filter((n) => !n.includes(name));
	})`)
	if len(bad) > 0 {
		t.Errorf("member buttons that do not name the member: %q", bad)
	}
}
