package main

// Text (issue 14, item 16): right-to-left messages, emoji in colour with
// one font, "@name" where a username goes.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"
)

// Hebrew and Arabic messages read right to left, Latin ones left to right,
// in the window, the list's preview and the composer.
func TestBrowserRightToLeftText(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "بوب")
			a.befriend(b, "bob")
			conv := dmConv(a.ID, b.ID)
			texts := map[string]string{
				"שלום, מה שלומך? 123":  "rtl",
				"hello, شلونك؟":        "ltr", // the first strong letter decides
				"مرحبا! كيف الحال؟ :)": "rtl",
			}
			for body := range texts {
				b.send(a.ID, body)
			}
			b.send(a.ID, "مرحبا! كيف الحال؟ :)") // the last message, for the preview
			alice := newPerson(t, br, srv, "alice")
			alice.setWidth(wd.w, wd.h)
			alice.login("alice")
			alice.wait(uiSettle, "the preview right to left", `(() => { const p = __t.item(`+jsString(conv)+`).querySelector('.item-preview'); return getComputedStyle(p).direction === 'rtl'; })()`)
			alice.wait(uiSettle, "the name right to left", `getComputedStyle(__t.item(`+jsString(conv)+`).querySelector('.item-name')).direction === 'rtl'`)
			alice.openConv(conv)
			for body, dir := range texts {
				alice.waitMessage(conv, body, "بوب")
				got := evalJS[string](alice, pageHelpers+`getComputedStyle(__t.msg(`+jsString(conv)+`, `+jsString(body)+`).querySelector(__t.tid('message-body'))).direction`)
				if got != dir {
					t.Errorf("%q is laid out %s, want %s", body, got, dir)
				}
			}
			alice.do(chromedp.SendKeys(testID("composer"), "שלום"))
			if got := evalJS[string](alice, `getComputedStyle(document.querySelector('[data-testid="composer"]')).direction`); got != "rtl" {
				t.Errorf("the composer with Hebrew in it is %s", got)
			}
			alice.shot("rtl")
		})
	}
}

// fontsOf names the fonts Chromium drew the text of the element sel with.
func (p *webPage) fontsOf(sel string) []*css.PlatformFontUsage {
	p.t.Helper()
	doc, err := chromedp.Call(p.ctx, dom.GetDocument, dom.GetDocumentParams{})
	if err != nil {
		p.t.Fatalf("get document: %v", err)
	}
	if _, err := chromedp.Call(p.ctx, css.Enable, cdp.Empty{}); err != nil {
		p.t.Fatalf("enable CSS: %v", err)
	}
	q, err := chromedp.Call(p.ctx, dom.QuerySelector, dom.QuerySelectorParams{NodeID: doc.Root.NodeID, Selector: sel})
	if err != nil || q.NodeID == 0 {
		p.t.Fatalf("find %s: %v", sel, err)
	}
	f, err := chromedp.Call(p.ctx, css.GetPlatformFontsForNode, css.GetPlatformFontsForNodeParams{NodeID: q.NodeID})
	if err != nil {
		p.t.Fatalf("fonts of %s: %v", sel, err)
	}
	return f.Fonts
}

func fontNames(fs []*css.PlatformFontUsage) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%s (%v glyphs, custom %v)", f.FamilyName, f.GlyphCount, f.IsCustomFont))
	}
	return strings.Join(s, ", ")
}

// Every emoji, in the picker and in a message, is drawn by a colour emoji
// font, never by a text font's monochrome glyph; and the page's own emoji
// font draws the picker's emoji where the system has none.
func TestBrowserEmojiInColour(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	const only = "😀☕❤️☺️🍻"
	b.send(a.ID, only)
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(conv)
	alice.waitMessage(conv, only, "Bob")
	alice.do(chromedp.Evaluate[chromedp.Void](`(() => {
		document.querySelectorAll('[data-testid="message-body"]').forEach((e) => { if (e.textContent === ` + jsString(only) + `) e.id = 'only-emoji'; });
		document.querySelectorAll('[data-testid="emoji"]').forEach((e, i) => e.id = 'emoji-' + i);
	})()`))
	check := func(sel, what string) {
		t.Helper()
		fs := alice.fontsOf(sel)
		for _, f := range fs {
			if !strings.Contains(f.FamilyName, "Emoji") {
				t.Errorf("%s is drawn with %s", what, fontNames(fs))
				return
			}
		}
	}
	check("#only-emoji", "the message "+only)
	n := evalJS[int](alice, `document.querySelectorAll('[data-testid="emoji"]').length`)
	for i := range n {
		check(fmt.Sprintf("#emoji-%d", i), "picker emoji "+evalJS[string](alice, fmt.Sprintf(`document.getElementById('emoji-%d').dataset.emoji`, i)))
	}

	// The page's fallback font, alone, has every emoji of the picker, and
	// the page's emoji face falls back to it.
	if !evalJS[bool](alice, `[...document.styleSheets].flatMap((s) => [...s.cssRules]).some((r) => r instanceof CSSFontFaceRule && r.style.getPropertyValue('font-family').includes('webchat emoji') && r.style.getPropertyValue('src').includes('emoji.woff2'))`) {
		t.Errorf("no @font-face for the emoji falls back to emoji.woff2")
	}
	alice.do(chromedp.Evaluate[chromedp.Void](`(async () => {
		const f = new FontFace('bundled-only', 'url(emoji.woff2)');
		document.fonts.add(await f.load());
		const d = document.createElement('div');
		d.id = 'bundled';
		d.style.fontFamily = 'bundled-only';
		d.textContent = [...document.querySelectorAll('[data-testid="emoji"]')].map((e) => e.dataset.emoji).join('');
		document.body.append(d);
		d.getBoundingClientRect();
		await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
	})()`, chromedp.EvalAwaitPromise))
	// A node laid out a moment ago may report no fonts yet: ask until it does.
	var fs []*css.PlatformFontUsage
	for end := time.Now().Add(uiSettle); len(fs) == 0 && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		fs = alice.fontsOf("#bundled")
	}
	if len(fs) != 1 || !fs[0].IsCustomFont {
		t.Errorf("the bundled font alone draws the picker's emoji with %s", fontNames(fs))
	}
}

// A username typed with its "@" finds the person, for a friend request and
// for adding to a group.
func TestBrowserUsernameWithAt(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	srv.apiSignup(t, "bob", "Bob")
	c := srv.apiSignup(t, "carol", "Carol")
	c.befriend(a, "alice")
	g := a.createGroup("Friends of friends")
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.do(chromedp.SendKeys(testID("add-friend-input"), " @Bob "), chromedp.Click(testID("add-friend-submit")))
	alice.wait(uiSettle, "the request sent", `!!document.querySelector(__t.tid('request-outgoing')) && document.getElementById('add-friend-status').textContent.includes('Request sent to Bob')`)
	alice.openConv(g.Conv)
	alice.showMembers()
	alice.do(chromedp.SendKeys(testID("group-member-input"), "@carol"), chromedp.Click(testID("group-add-member")))
	alice.wait(uiSettle, "Carol added", `__t.all(__t.tid('member-item')).some((m) => m.textContent.includes('@carol'))`)
}
