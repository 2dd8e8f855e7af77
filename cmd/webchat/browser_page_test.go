package main

// Chromium and its tabs: starting the browser, a person's page, and the
// helpers that drive it and wait on it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// startBrowser starts headless Chromium with an empty profile. A missing
// Chromium fails the test: make test installs Debian's package.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if p := os.Getenv("CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("chromium is not installed (%v); make test installs it (apt-get install chromium)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// webPage is one browser tab.
type webPage struct {
	t       *testing.T
	name    string
	ctx     context.Context
	browser context.Context
	base    string

	mu   sync.Mutex
	errs []string
}

// newPerson opens a tab in a new browser context: another person's browser.
func newPerson(t *testing.T, browser context.Context, srv *testServer, name string) *webPage {
	return openTab(t, browser, srv.URL, name, chromedp.WithNewBrowserContext())
}

// newTab opens another tab of the same person (same cookies and storage).
// It is the first tab's sibling, not its child, so either can close alone;
// closing the first tab, which owns the browser context, closes them all.
func (p *webPage) newTab(name string) *webPage {
	id := chromedp.FromContext(p.ctx).BrowserContextID
	return openTab(p.t, p.browser, p.base, name, chromedp.WithExistingBrowserContext(id))
}

func openTab(t *testing.T, parent context.Context, base, name string, opts ...chromedp.ContextOption) *webPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	p := &webPage{t: t, name: name, ctx: ctx, browser: parent, base: base}
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, with no deadline
		t.Fatalf("%s: open tab: %v", name, err)
	}
	// Uncaught exceptions, console.error and refused content (CSP) are bugs.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			bad := m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network")
			if bad {
				p.mu.Lock()
				p.errs = append(p.errs, m.String())
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errs {
			t.Errorf("%s: webPage console: %s", name, e)
		}
	})
	return p
}

func (p *webPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiSettle)
	defer cancel()
	for _, a := range actions {
		// A node the page re-rendered between the action's query and the
		// action itself (news arriving at that moment) is looked for
		// again: the action never took effect on the old one.
		err := chromedp.Do(ctx, a)
		for try := 0; err != nil && strings.Contains(err.Error(), "Could not find node with given id") && try < 5; try++ {
			time.Sleep(50 * time.Millisecond)
			err = chromedp.Do(ctx, a)
		}
		if err != nil {
			p.fail("%v", err)
		}
	}
}

func (p *webPage) fail(format string, args ...any) {
	p.t.Helper()
	// Show what the page showed, for a readable failure.
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	p.t.Fatalf("%s: %s\npage text:\n%s", p.name, fmt.Sprintf(format, args...), tail(text, 3000))
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](p *webPage, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiSettle)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition in the page until it is true.
func (p *webPage) wait(within time.Duration, what, cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, within+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](pageHelpers+cond,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		p.fail("waited %v for %s (%s): %v", within, what, cond, err)
	}
}

// pageHelpers are small functions the conditions use; Poll wraps the
// expression in a function body, so they are defined inline.
const pageHelpers = `(() => {
  const all = (s, r = document) => [...r.querySelectorAll(s)];
  const tid = (id) => '[data-testid="' + id + '"]';
  window.__t = {
    all, tid,
    item: (conv) => document.querySelector('[data-conv="' + conv + '"]' + ':is(' + tid('friend-item') + ',' + tid('group-item') + ')'),
    badge: (conv) => { const i = __t.item(conv); const b = i && i.querySelector(tid('unread-badge')); return b ? b.textContent : ''; },
    bodies: (conv) => all(tid('message') + '[data-conv="' + conv + '"]').map((m) => m.querySelector(tid('message-body')).textContent),
    msg: (conv, body) => all(tid('message') + '[data-conv="' + conv + '"]').find((m) => m.querySelector(tid('message-body')).textContent === body),
    atBottom: () => { const b = document.querySelector(tid('messages')); return b.scrollHeight - b.scrollTop - b.clientHeight <= 2; },
  };
  return true;
})() && `

// pressEnter presses Enter (with Shift if asked) the way a keyboard does: one
// keyDown carrying the text "\r", which the page may cancel, and a keyUp.
// SendKeys's "\n" adds a separate char event that inserts a line break
// even when the page cancelled the keydown, which no real keyboard does.
func pressEnter(shift bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var mods int64
		if shift {
			mods = 8 // Shift
		}
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", Modifiers: mods,
				WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			}
			if typ == input.DispatchKeyEventTypeKeyDown {
				p.Text = "\r"
				p.UnmodifiedText = "\r"
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func testID(id string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="` + id + `"]`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (p *webPage) open() {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + "/"))
}

func (p *webPage) signup(username, display string) {
	p.t.Helper()
	p.open()
	p.do(
		chromedp.WaitVisible(testID("signup-username")),
		chromedp.SendKeys(testID("signup-username"), username),
		chromedp.SendKeys(testID("signup-display-name"), display),
		chromedp.SendKeys(testID("signup-password"), browserPassword),
		chromedp.Click(testID("signup-submit")),
		chromedp.WaitVisible(testID("tab-friends")),
	)
}

func (p *webPage) login(username string) {
	p.t.Helper()
	p.open()
	p.do(
		chromedp.WaitVisible(testID("login-username")),
		chromedp.SendKeys(testID("login-username"), username),
		chromedp.SendKeys(testID("login-password"), browserPassword),
		chromedp.Click(testID("login-submit")),
		chromedp.WaitVisible(testID("tab-friends")),
	)
}

// openConv clicks a conversation in the list and waits until it is shown.
func (p *webPage) openConv(conv string) {
	p.t.Helper()
	if strings.HasPrefix(conv, "g") {
		p.do(chromedp.Click(testID("tab-groups")))
	} else {
		p.do(chromedp.Click(testID("tab-friends")))
	}
	p.wait(uiSettle, "conversation "+conv+" in the list", `!!__t.item(`+jsString(conv)+`)`)
	p.do(chromedp.Click(chromedp.CSS(`[data-conv="` + conv + `"]:is([data-testid="friend-item"],[data-testid="group-item"])`)))
	p.wait(uiSettle, "conversation "+conv+" open", `!document.getElementById('chat-main').hidden && location.hash === '#'+`+jsString(conv))
}

// say types a message and presses Send.
func (p *webPage) say(body string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(testID("composer"), body), chromedp.Click(testID("send")))
}

func (p *webPage) waitMessage(conv, body, from string) {
	p.t.Helper()
	p.wait(uiArrival, fmt.Sprintf("message %q from %s", body, from),
		`(() => { const m = __t.msg(`+jsString(conv)+`, `+jsString(body)+`); return !!m && !m.hasAttribute('data-pending') && m.querySelector(__t.tid('message-from')).textContent === `+jsString(from)+`; })()`)
}

// --- tests -------------------------------------------------------------------
