package main

// Group invitations in the page: someone who is not a friend of the one
// adding them is invited (202 {invite}, a group_invite event, /api/me
// group_invites) and joins by accepting; declining tells the one who
// invited. The invitee's other tabs and devices follow either answer.

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// invite asks, on u's behalf, for username to join gid; they are not u's
// friend, so the answer is an invitation, whose id this answers.
func (u *apiUser) invite(gid int64, username string) int64 {
	u.t.Helper()
	var out struct {
		Invite struct {
			ID int64 `json:"id"`
		} `json:"invite"`
	}
	u.call("POST", fmt.Sprintf("/api/groups/%d/members", gid), map[string]any{"username": username}, &out, http.StatusAccepted)
	if out.Invite.ID == 0 {
		u.t.Fatalf("inviting %s to group %d answered no invitation id", username, gid)
	}
	return out.Invite.ID
}

// inviteJS is the page expression of invitation id's row (or null).
func inviteJS(id int64) string {
	return fmt.Sprintf(`document.querySelector('[data-testid="invite-item"][data-invite="%d"]')`, id)
}

// inviteButton is the Accept or Decline button (testid) of invitation id.
func inviteButton(id int64, testid string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`[data-testid="invite-item"][data-invite="%d"] [data-testid="%s"]`, id, testid))
}

// waitInvite waits until the page lists invitation id with all of texts.
func (p *webPage) waitInvite(id int64, what string, texts ...string) {
	p.t.Helper()
	cond := `(() => { const i = ` + inviteJS(id) + `; return !!i && i.getClientRects().length > 0`
	for _, s := range texts {
		cond += ` && i.textContent.includes(` + jsString(s) + `)`
	}
	p.wait(uiArrival, what, cond+`; })()`)
}

// groupListed is a page condition: conv is in the group list.
func groupListed(conv string) string {
	return `!!document.querySelector('[data-testid="group-item"][data-conv="` + conv + `"]')`
}

const membersStatus = `document.getElementById('members-status')`

// An invitation reaches the invitee live, on every device, and after a
// reload; accepting joins and opens the group (the person can send at
// once) and takes the invitation off the other tabs and devices.
func TestBrowserInviteAccepted(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			c := srv.apiSignup(t, "carol", "Carol")
			srv.apiSignup(t, "bob", "Bob")
			a.befriend(c, "carol")
			g := a.createGroup("Book club", "carol") // a friend: in at once

			bob := newPerson(t, br, srv, "bob")
			bob.setWidth(wd.w, wd.h)
			bob.login("bob")
			bobTab2 := bob.newTab("bob's second tab")
			bobTab2.setWidth(wd.w, wd.h)
			bobTab2.open()
			bobPhone := newPerson(t, br, srv, "bob's other device")
			bobPhone.setWidth(wd.w, wd.h)
			bobPhone.login("bob")
			for _, p := range []*webPage{bob, bobTab2, bobPhone} {
				p.wait(uiSettle, "the friend list", visible(tidSel("tab-friends")))
			}
			waitGauge(t, srv, 2) // both devices poll: the invitation reaches them live

			id := a.invite(g.ID, "bob")
			for _, p := range []*webPage{bob, bobTab2, bobPhone} {
				p.waitInvite(id, "Alice's invitation, live", "Book club", "Alice (@alice) invited you", "2 members")
			}
			bob.wait(uiSettle, "the Friends tab counting it", `document.querySelector('#tab-friends .tab-count').textContent === '1'`)
			if n := evalJS[int](bob, `document.querySelectorAll('[data-testid="invite-item"]').length`); n != 1 {
				t.Errorf("%d invitation rows, want 1", n)
			}
			bob.do(chromedp.Reload())
			bob.waitInvite(id, "the invitation after a reload", "Book club", "Alice (@alice) invited you", "2 members")
			bob.checkContrast("invitation", "#app")
			bob.shot("invitation")

			bob.do(chromedp.Click(inviteButton(id, "invite-accept")))
			bob.wait(uiSettle, "the group open", `document.querySelector(__t.tid('chat-title')).textContent === 'Book club (3 members)' && location.hash === '#`+g.Conv+`' && !`+inviteJS(id))
			bob.shot("accepted")
			bob.say("Hello, club")
			bob.waitMessage(g.Conv, "Hello, club", "Bob")
			if bodies, _ := a.historyBodies(g.Conv); count(bodies, "Hello, club") != 1 {
				t.Errorf("the group's history %q, want Bob's message once", bodies)
			}
			for _, p := range []*webPage{bobTab2, bobPhone} {
				p.wait(uiSettle, "the invitation gone and the group listed", `!`+inviteJS(id)+` && document.getElementById('invites').hidden && `+groupListed(g.Conv))
			}
			if wd.w <= phoneWidth {
				// The group is where Back goes: the Groups tab.
				bob.do(chromedp.Click(testID("back")))
				bob.wait(uiSettle, "the group list", visible(`[data-testid="group-item"][data-conv="`+g.Conv+`"]`))
			}
		})
	}
}

// Declining takes the invitation off the invitee's tabs and devices and
// tells the one who invited: in the group's members panel while it is on
// screen, else in the banner.
func TestBrowserInviteDeclined(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			srv.apiSignup(t, "bob", "Bob")
			c := srv.apiSignup(t, "carol", "Carol")
			g := a.createGroup("Night owls")

			alice := newPerson(t, br, srv, "alice")
			alice.setWidth(wd.w, wd.h)
			alice.login("alice")
			bob := newPerson(t, br, srv, "bob")
			bob.setWidth(wd.w, wd.h)
			bob.login("bob")
			bobTab2 := bob.newTab("bob's second tab")
			bobTab2.setWidth(wd.w, wd.h)
			bobTab2.open()
			bobPhone := newPerson(t, br, srv, "bob's other device")
			bobPhone.setWidth(wd.w, wd.h)
			bobPhone.login("bob")

			alice.openConv(g.Conv)
			alice.showMembers()
			alice.do(chromedp.SendKeys(testID("group-member-input"), "bob"), chromedp.Click(testID("group-add-member")))
			alice.wait(uiSettle, "the invitation sent", membersStatus+`.textContent === 'Invitation sent to Bob (@bob). They join once they accept.' && !`+membersStatus+`.hidden`)
			if !evalJS[bool](alice, membersStatus+`.classList.contains('info')`) {
				t.Errorf("the invitation-sent line fades like passing news; it is news to come back to (class %q)", evalJS[string](alice, membersStatus+`.className`))
			}
			alice.do(chromedp.SendKeys(testID("group-member-input"), "@bob"), chromedp.Click(testID("group-add-member")))
			alice.wait(uiSettle, "asking again", membersStatus+`.textContent === 'Bob (@bob) is invited already; they join once they accept.'`)
			if n := evalJS[int](alice, `document.querySelectorAll('[data-testid="member-item"]').length`); n != 1 {
				t.Errorf("%d members listed after inviting, want 1 (Bob is not a member until he accepts)", n)
			}

			bob.wait(uiArrival, "Alice's invitation", `!!document.querySelector(__t.tid('invite-item'))`)
			id := evalJS[int64](bob, `Number(document.querySelector('[data-testid="invite-item"]').dataset.invite)`)
			for _, p := range []*webPage{bob, bobTab2, bobPhone} {
				p.waitInvite(id, "Alice's invitation", "Night owls", "Alice (@alice) invited you", "1 member")
			}
			bob.do(chromedp.Click(inviteButton(id, "invite-decline")))
			bob.wait(uiSettle, "the invitation gone, and said", `!`+inviteJS(id)+` && document.getElementById('invites').hidden && document.getElementById('invites-status').textContent === 'You declined the invitation to Night owls.'`)
			bobTab2.wait(uiSettle, "the invitation gone from Bob's second tab", `!`+inviteJS(id)+` && document.getElementById('invites').hidden`)
			bobPhone.wait(uiArrival, "the invitation gone from Bob's other device", `!`+inviteJS(id)+` && document.getElementById('invites').hidden`)
			alice.wait(uiArrival, "told in the members panel", membersStatus+`.textContent === 'Bob (@bob) declined your invitation to Night owls.' && `+visible("#members-status"))
			alice.checkContrast("invitation declined", "#app")
			alice.shot("declined")
			for _, p := range []*webPage{bob, bobTab2, bobPhone} {
				if evalJS[bool](p, groupListed(g.Conv)) {
					t.Errorf("%s lists the group Bob declined", p.name)
				}
			}

			// With the members off screen (the list on a phone, the panel
			// closed on a desktop), the banner says it, until OK.
			ivC := a.invite(g.ID, "carol")
			if wd.w <= phoneWidth {
				alice.do(chromedp.Click(testID("back")))
			} else {
				alice.do(chromedp.Click(testID("members-toggle")))
			}
			alice.wait(uiSettle, "the group off screen", `!`+visible("#members-panel"))
			c.call("POST", fmt.Sprintf("/api/group-invites/%d/decline", ivC), nil, nil, http.StatusNoContent)
			alice.wait(uiArrival, "told in the banner", `document.getElementById('banner-text').textContent === 'Carol (@carol) declined your invitation to Night owls.' && `+visible("#banner"))
			alice.checkContrast("banner", "#banner")
			alice.do(chromedp.Click(chromedp.ID("banner-btn")))
			alice.wait(uiSettle, "the banner closed", `document.getElementById('banner').hidden`)
		})
	}
}

// A full group refuses the one accepting (409 group_full): the page says
// so and keeps the invitation, which they accept once there is room.
func TestBrowserInviteGroupFull(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	c := srv.apiSignup(t, "carol", "Carol")
	srv.apiSignup(t, "bob", "Bob")
	a.befriend(c, "carol")
	var out struct {
		Group apiGroup `json:"group"`
	}
	a.call("POST", "/api/groups", map[string]any{"name": "Pair", "max_members": 2}, &out, http.StatusCreated)
	g := out.Group
	id := a.invite(g.ID, "bob")
	a.addMember(g.ID, "carol") // Alice's friend: in at once, and the group is full

	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	bob.waitInvite(id, "the invitation", "Pair", "2 members")
	bob.do(chromedp.Click(inviteButton(id, "invite-accept")))
	bob.wait(uiSettle, "the group-full line", `(() => { const s = document.getElementById('invites-status'); return !s.hidden && s.classList.contains('error') && s.textContent.includes('Pair is full (2 of 2 members)') && s.textContent.includes('The invitation stays'); })()`)
	bob.wait(uiSettle, "the invitation kept, answerable", `!!`+inviteJS(id)+` && !document.querySelector('[data-invite="`+fmt.Sprint(id)+`"] [data-testid="invite-accept"]').disabled`)
	if evalJS[bool](bob, groupListed(g.Conv)) {
		t.Errorf("the full group is listed")
	}
	bob.checkContrast("group full", "#app")
	bob.shot("full")

	c.call("DELETE", fmt.Sprintf("/api/groups/%d/members/%d", g.ID, c.ID), nil, nil, http.StatusNoContent)
	bob.do(chromedp.Click(inviteButton(id, "invite-accept")))
	bob.wait(uiSettle, "in the group", `document.querySelector(__t.tid('chat-title')).textContent === 'Pair (2 members)' && !`+inviteJS(id)+` && document.getElementById('invites-status').hidden`)
}

// Everything about an invitation works from the keyboard: the Groups tab
// points to the invitations, Tab reaches their buttons, Enter answers, and
// focus stays on a button while the list redraws under it.
func TestBrowserInviteKeyboard(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			srv.apiSignup(t, "bob", "Bob")
			g1 := a.createGroup("First")
			g2 := a.createGroup("Second")
			g3 := a.createGroup("Third")
			id1 := a.invite(g1.ID, "bob")

			bob := newPerson(t, br, srv, "bob")
			bob.setWidth(wd.w, wd.h)
			bob.login("bob")
			bob.waitInvite(id1, "the first invitation", "First")
			id2 := a.invite(g2.ID, "bob")
			bob.waitInvite(id2, "the second invitation", "Second")

			// From the Groups tab: the hint, then Enter lands on an Accept.
			bob.do(chromedp.Click(testID("tab-groups")))
			bob.wait(uiSettle, "the hint", visible(tidSel("invites-hint"))+` && document.querySelector(__t.tid('invites-hint')).textContent === '2 group invitations are waiting for you'`)
			bob.checkContrast("the Groups tab with the hint", "#app")
			bob.shot("hint")
			bob.do(chromedp.Focus(testID("tab-groups")))
			bob.tabTo(tidSel("invites-hint"), 3)
			bob.do(chromedp.KeyEvent(kb.Enter))
			bob.wait(uiSettle, "the Friends tab, on an Accept", `!document.getElementById('friends-pane').hidden && document.activeElement.dataset.testid === 'invite-accept'`)

			// Tab from the add-friend form reaches the newest invitation's
			// buttons, Accept then Decline.
			bob.do(chromedp.Focus(testID("add-friend-input")))
			bob.tabTo(`[data-invite="`+fmt.Sprint(id2)+`"] [data-testid="invite-accept"]`, 3)
			bob.do(chromedp.KeyEvent(kb.Tab))
			bob.wait(uiSettle, "Decline next", `document.activeElement.dataset.testid === 'invite-decline' && document.activeElement.closest('[data-invite]').dataset.invite === '`+fmt.Sprint(id2)+`'`)
			// A new invitation redraws the list: focus stays on that Decline.
			id3 := a.invite(g3.ID, "bob")
			bob.waitInvite(id3, "the third invitation", "Third")
			bob.wait(uiSettle, "focus kept", `document.activeElement.dataset.testid === 'invite-decline' && document.activeElement.closest('[data-invite]').dataset.invite === '`+fmt.Sprint(id2)+`'`)

			// Enter declines; focus goes to the next invitation's Accept.
			bob.do(chromedp.KeyEvent(kb.Enter))
			bob.wait(uiSettle, "declined, focus on the next Accept", `!`+inviteJS(id2)+` && document.activeElement.dataset.testid === 'invite-accept'`)
			next := evalJS[string](bob, `document.activeElement.closest('[data-invite]').dataset.invite`)
			bob.do(chromedp.KeyEvent(kb.Enter))
			bob.wait(uiSettle, "in the group", `!document.querySelector('[data-invite="`+next+`"]') && document.querySelector(__t.tid('chat-title')).textContent.endsWith('(2 members)') && !document.getElementById('chat-main').hidden`)
			if wd.w > phoneWidth {
				// The caret is in the composer: Enter sends.
				bob.wait(uiSettle, "the composer focused", `document.activeElement === document.querySelector(__t.tid('composer'))`)
				bob.do(chromedp.SendKeys(testID("composer"), "typed, never clicked"), pressEnter(false))
				conv := evalJS[string](bob, `location.hash.slice(1)`)
				bob.waitMessage(conv, "typed, never clicked", "Bob")
			}
		})
	}
}

// tabTo presses Tab until sel has focus, at most max times.
func (p *webPage) tabTo(sel string, max int) {
	p.t.Helper()
	for range max {
		p.do(chromedp.KeyEvent(kb.Tab))
		if evalJS[bool](p, `document.activeElement === document.querySelector(`+jsString(sel)+`)`) {
			return
		}
	}
	p.fail("%d presses of Tab did not reach %s (focus on %s)", max, sel, evalJS[string](p, `document.activeElement.outerHTML.slice(0, 200)`))
}

// holdPolls keeps the tab's long-polls from reaching the server while
// during runs: it lets end (a poll the server answers) the poll in flight,
// holds the next one, and lets it go after during. What the server says
// meanwhile waits in the device's inbox, as for a page whose connection
// stalls.
func (p *webPage) holdPolls(end, during func()) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiSettle)
	defer cancel()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/api/poll*", RequestStage: fetch.RequestStageRequest},
	}}); err != nil {
		p.t.Fatalf("intercept: %v", err)
	}
	end()
	var held fetch.RequestID
	for ev, err := range paused {
		if err != nil {
			p.t.Fatalf("waiting for the next poll: %v", err)
		}
		held = ev.RequestID
		break
	}
	during()
	if _, err := chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: held}); err != nil {
		p.t.Fatalf("let the poll go: %v", err)
	}
	if _, err := chromedp.Call(p.ctx, fetch.Disable, cdp.Empty{}); err != nil {
		p.t.Fatalf("stop intercepting: %v", err)
	}
}

// An invitation that went while it was shown, and whose news has not
// reached the page yet (its group deleted while the page's poll stalls),
// answers 404 when accepted: the page says so and drops it, and the news
// that comes after changes nothing. Names in invitations are text, never
// markup.
func TestBrowserInviteGone(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	srv.apiSignup(t, "bob", "Bob")
	g := a.createGroup("Short-lived")
	id := a.invite(g.ID, "bob")
	// And one whose names are markup, shown as the characters they are.
	m := srv.apiSignup(t, "mallory", `<b onmouseover="window.__xss='name'">Mallory</b>`)
	evil := m.createGroup(`<img src=x onerror="window.__xss='group'">`)
	evilID := m.invite(evil.ID, "bob")

	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	bob.waitInvite(id, "the invitation", "Short-lived")
	bob.waitInvite(evilID, "the invitation with markup for names", `<img src=x onerror="window.__xss='group'">`, `<b onmouseover="window.__xss='name'">Mallory</b> (@mallory) invited you`)
	bob.do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#invite-list *').forEach((e) => e.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})))`))
	if v := evalJS[string](bob, `String(window.__xss) + ' ' + document.querySelectorAll('#invite-list img, #invite-list b').length`); v != "undefined 0" {
		t.Errorf("markup in an invitation ran or made elements: %s", v)
	}
	bob.holdPolls(func() {
		m.call("POST", "/api/friend-requests", map[string]any{"username": "bob"}, nil, http.StatusCreated) // news that ends the poll in flight
	}, func() {
		a.call("DELETE", fmt.Sprintf("/api/groups/%d/members/%d", g.ID, a.ID), nil, nil, http.StatusNoContent) // the last member: the group goes
		bob.do(chromedp.Focus(inviteButton(id, "invite-accept")), chromedp.KeyEvent(kb.Enter))
		bob.wait(uiSettle, "told, and the invitation dropped", `(() => { const s = document.getElementById('invites-status'); return !s.hidden && s.textContent === 'The invitation to Short-lived is no longer open.' && !`+inviteJS(id)+`; })()`)
		bob.wait(uiSettle, "focus on the next invitation", `document.activeElement === document.querySelector('[data-invite="`+fmt.Sprint(evilID)+`"] [data-testid="invite-accept"]')`)
		a.call("POST", "/api/friend-requests", map[string]any{"username": "bob"}, nil, http.StatusCreated) // news behind the deletion's
	})
	// The news of the deletion (group_invite_cancelled) comes, then Alice's
	// friend request.
	bob.wait(uiSettle, "the news behind the deletion's", `document.querySelectorAll(__t.tid('request-item')).length === 2`)
	if !evalJS[bool](bob, inviteJS(evilID)+` !== null && `+inviteJS(id)+` === null`) {
		t.Errorf("after the news: the invitations listed are wrong")
	}
	if evalJS[bool](bob, groupListed(g.Conv)) {
		t.Errorf("the deleted group is listed")
	}
}

// An invitation withdrawn by the one who made it leaves the invitee's page
// at once.
func TestBrowserInviteWithdrawn(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	srv.apiSignup(t, "bob", "Bob")
	g := a.createGroup("Book club")
	var iv struct {
		Invite struct {
			ID int64 `json:"id"`
		} `json:"invite"`
	}
	a.call("POST", fmt.Sprintf("/api/groups/%d/members", g.ID), map[string]any{"username": "bob"}, &iv, http.StatusAccepted)
	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	bob.wait(uiSettle, "the invitation", `!!document.querySelector(__t.tid('invite-item'))`)
	a.call("DELETE", fmt.Sprintf("/api/group-invites/%d", iv.Invite.ID), nil, nil, http.StatusNoContent)
	bob.wait(uiSettle, "the invitation gone", `!document.querySelector(__t.tid('invite-item'))`)
}
