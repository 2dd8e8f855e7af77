package main

// Helpers for the browser tests of issue 14's review (browser_*_test.go
// beside this file): phone width, screenshots, group and friend set-ups
// through the API, and a page-side recorder of requests.

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// phoneWidth is the width the phone layouts are checked at.
const phoneWidth = 390

// widths are the two layouts every layout check runs at.
var widths = []struct {
	name string
	w, h int64
}{
	{"desktop", 1280, 800},
	{"phone", phoneWidth, 800},
}

// setWidth sizes the tab's viewport; phone width also emulates a mobile
// (touch) device, as a phone is.
func (p *webPage) setWidth(w, h int64) {
	p.t.Helper()
	if w <= phoneWidth {
		p.do(chromedp.EmulateViewport(w, h, chromedp.EmulateMobile))
		return
	}
	p.do(chromedp.EmulateViewport(w, h))
}

// shot writes a screenshot of the tab to $WEBCHAT_SHOTS/<test>-<name>.png
// when WEBCHAT_SHOTS is set (for people to look at; nothing checks them).
func (p *webPage) shot(name string) {
	p.t.Helper()
	dir := os.Getenv("WEBCHAT_SHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := strings.NewReplacer("/", "-", " ", "_").Replace(p.t.Name() + "-" + name + ".png")
	if err := os.WriteFile(filepath.Join(dir, file), buf, 0o644); err != nil {
		p.t.Errorf("write screenshot: %v", err)
	}
}

// onNewDocument runs script in every document the tab loads from now on,
// before the page's own scripts.
func (p *webPage) onNewDocument(script string) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
		p.t.Fatalf("%s: add script: %v", p.name, err)
	}
}

// recordFetches makes the tab keep every fetch it starts in
// window.__fetches as "METHOD path body" (from the next document on).
func (p *webPage) recordFetches() {
	p.onNewDocument(`(() => {
		window.__fetches = [];
		const f = window.fetch;
		window.fetch = function (url, init) {
			window.__fetches.push(((init && init.method) || 'GET') + ' ' + String(url) + ' ' + ((init && init.body) || ''));
			return f.apply(this, arguments);
		};
	})()`)
}

// visible is a page condition: sel matches an element that takes space.
func visible(sel string) string {
	return `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.getClientRects().length > 0; })()`
}

// tidSel is the CSS selector of a data-testid.
func tidSel(id string) string { return `[data-testid="` + id + `"]` }

// apiLogin logs username in as a new API client (a device of its own).
func (s *testServer) apiLogin(t *testing.T, username string) *apiUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &apiUser{t: t, base: s.URL, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var out struct {
		User struct {
			ID          int64  `json:"id"`
			DisplayName string `json:"display_name"`
		} `json:"user"`
	}
	u.call("POST", "/api/login", map[string]any{"username": username, "password": browserPassword}, &out, http.StatusOK)
	u.ID, u.Name = out.User.ID, out.User.DisplayName
	return u
}

type apiGroup struct {
	ID   int64  `json:"id"`
	Conv string `json:"conv"`
}

// createGroup makes a group owned by u and adds the usernames (u's friends,
// or anyone: the API adds them directly).
func (u *apiUser) createGroup(name string, members ...string) apiGroup {
	u.t.Helper()
	var out struct {
		Group apiGroup `json:"group"`
	}
	u.call("POST", "/api/groups", map[string]any{"name": name}, &out, http.StatusCreated)
	for _, m := range members {
		u.addMember(out.Group.ID, m)
	}
	return out.Group
}

func (u *apiUser) sendGroup(gid int64, body string) int64 {
	u.t.Helper()
	var out struct {
		Message struct {
			Seq int64 `json:"seq"`
		} `json:"message"`
	}
	u.call("POST", "/api/messages", map[string]any{"to": gid, "type": "group", "body": body, "client_id": fmt.Sprintf("t-%d", time.Now().UnixNano())}, &out, http.StatusCreated)
	return out.Message.Seq
}

// historyBodies lists the bodies of conv's newest page, as u reads it, with
// the client_id of each.
func (u *apiUser) historyBodies(conv string) (bodies, clientIDs []string) {
	u.t.Helper()
	var h struct {
		Messages []struct {
			Body     string `json:"body"`
			ClientID string `json:"client_id"`
		} `json:"messages"`
	}
	u.call("GET", "/api/conversations/"+conv+"/messages?limit=100", nil, &h, http.StatusOK)
	for _, m := range h.Messages {
		bodies = append(bodies, m.Body)
		clientIDs = append(clientIDs, m.ClientID)
	}
	return bodies, clientIDs
}

// unread is u's unread count of conv, from /api/me.
func (u *apiUser) unread(conv string) int64 {
	u.t.Helper()
	var me struct {
		Friends []struct {
			Conv   string `json:"conv"`
			Unread int64  `json:"unread"`
		} `json:"friends"`
		Groups []struct {
			Conv   string `json:"conv"`
			Unread int64  `json:"unread"`
		} `json:"groups"`
	}
	u.call("GET", "/api/me", nil, &me, http.StatusOK)
	for _, f := range me.Friends {
		if f.Conv == conv {
			return f.Unread
		}
	}
	for _, g := range me.Groups {
		if g.Conv == conv {
			return g.Unread
		}
	}
	return 0
}

// browserTabs opens n app tabs of one person (one browser context), in
// lease mode when lease is set, logged in as username.
func browserTabs(t *testing.T, srv *testServer, username string, n int, lease bool) []*webPage {
	t.Helper()
	br := startBrowser(t)
	holder := newPerson(t, br, srv, username+"'s profile")
	holder.do(chromedp.Navigate(srv.URL + "/favicon.svg"))
	if lease {
		holder.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('webchat:locks', 'off')`))
	}
	tabs := make([]*webPage, n)
	for i := range tabs {
		tabs[i] = holder.newTab(fmt.Sprintf("%s tab %d", username, i+1))
		if i == 0 {
			tabs[i].login(username)
		} else {
			tabs[i].open()
		}
	}
	return tabs
}

// pollRole is the tab's data-poll: leader, follower or "".
func (p *webPage) pollRole() string {
	p.t.Helper()
	return evalJS[string](p, `document.documentElement.dataset.poll || ''`)
}
