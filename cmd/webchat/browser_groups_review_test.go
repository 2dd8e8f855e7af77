package main

// Groups (issue 14, item 14): owners hand over and leave, destructive
// clicks ask first, the members panel leaves room for names and the chat,
// and former members keep their names.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// memberButton is the JS path of the button testid in member uname's row.
func memberButton(uname, testid string) chromedp.JSPath {
	return chromedp.JSPath(`[...document.querySelectorAll('[data-testid="member-item"]')].find((m) => m.textContent.includes('@` + uname + `')).querySelector('[data-testid="` + testid + `"]')`)
}

// showMembers opens the members panel if it is closed (narrow screens).
func (p *webPage) showMembers() {
	p.t.Helper()
	p.wait(uiSettle, "the members toggle", visible(tidSel("members-toggle")))
	if evalJS[string](p, `document.querySelector('[data-testid="members-toggle"]').getAttribute('aria-expanded')`) != "true" {
		p.do(chromedp.Click(testID("members-toggle")))
	}
	// A width change closes or opens the panel at the next rendering
	// step, which may come after the look at aria-expanded above; so the
	// wait opens it again if it closed under the click.
	p.wait(uiSettle, "the members panel", `(() => { const t = document.querySelector(__t.tid('members-toggle')); if (t.getAttribute('aria-expanded') !== 'true') t.click(); return true; })() && `+visible(tidSel("members-panel"))+` && __t.all(__t.tid('member-item')).length > 0`)
}

// confirm waits for the confirmation dialog, checks its text has want, and
// answers it.
func (p *webPage) confirm(want string, ok bool) {
	p.t.Helper()
	p.wait(uiSettle, "a confirmation saying "+want, `(() => { const d = document.querySelector(__t.tid('confirm-dialog')); return !!d && d.open && d.textContent.includes(`+jsString(want)+`); })()`)
	if ok {
		p.do(chromedp.Click(testID("confirm-ok")))
	} else {
		p.do(chromedp.Click(testID("confirm-cancel")))
	}
	p.wait(uiSettle, "the dialog closed", `!document.querySelector(__t.tid('confirm-dialog')).open`)
}

// groupRoles is username → role in gid, as u reads it.
func (u *apiUser) groupRoles(gid int64) map[string]string {
	u.t.Helper()
	var out struct {
		Members []struct {
			Username string `json:"username"`
			Role     string `json:"role"`
		} `json:"members"`
	}
	u.call("GET", fmt.Sprintf("/api/groups/%d", gid), nil, &out, http.StatusOK)
	roles := map[string]string{}
	for _, m := range out.Members {
		roles[m.Username] = m.Role
	}
	return roles
}

// The owner makes someone else owner, then leaves; removing asks first.
func TestBrowserGroupOwnerHandsOver(t *testing.T) {
	for _, wd := range widths {
		t.Run(wd.name, func(t *testing.T) {
			srv := startServer(t)
			br := startBrowser(t)
			a := srv.apiSignup(t, "alice", "Alice")
			b := srv.apiSignup(t, "bob", "Bob")
			srv.apiSignup(t, "carol", "Carol")
			g := a.createGroup("Book club", "bob", "carol")
			alice := newPerson(t, br, srv, "alice")
			alice.setWidth(wd.w, wd.h)
			alice.login("alice")
			alice.openConv(g.Conv)
			alice.showMembers()
			alice.shot("members")

			// Removing Carol asks; Cancel keeps her.
			alice.do(chromedp.Click(memberButton("carol", "member-remove")))
			alice.confirm("Remove Carol", false)
			if r := b.groupRoles(g.ID); r["carol"] != "member" {
				t.Fatalf("Carol was removed though the removal was cancelled: %v", r)
			}
			alice.do(chromedp.Click(memberButton("carol", "member-remove")))
			alice.shot("confirm-remove")
			alice.confirm("Remove Carol", true)
			alice.wait(uiSettle, "Carol gone from the list", `!__t.all(__t.tid('member-item')).some((m) => m.textContent.includes('@carol'))`)

			// Handing over: Bob becomes the owner, Alice an admin.
			alice.do(chromedp.Click(memberButton("bob", "member-owner")))
			alice.confirm("Make Bob the owner", true)
			alice.wait(uiSettle, "Bob shown as owner", `__t.all(__t.tid('member-item')).some((m) => m.textContent.includes('@bob') && m.querySelector('.role.owner'))`)
			if r := b.groupRoles(g.ID); r["bob"] != "owner" || r["alice"] != "admin" {
				t.Fatalf("roles after the hand-over: %v", r)
			}
			// Now an admin, Alice leaves after saying yes.
			alice.do(chromedp.Click(testID("group-leave")))
			alice.confirm("Leave Book club", true)
			alice.wait(uiSettle, "the group gone", `!__t.item(`+jsString(g.Conv)+`)`)
			if r := b.groupRoles(g.ID); len(r) != 1 || r["bob"] != "owner" {
				t.Fatalf("roles after Alice left: %v", r)
			}
		})
	}
}

// The owner of a group with others in it leaves in one go, naming the
// next owner; a lone owner is told that leaving deletes the group.
func TestBrowserOwnerLeaves(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	srv.apiSignup(t, "carol", "Carol")
	g := a.createGroup("Choir", "bob", "carol")
	solo := a.createGroup("Notes to self")
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")

	alice.openConv(g.Conv)
	alice.showMembers()
	alice.do(chromedp.Click(testID("group-leave")))
	alice.wait(uiSettle, "the choice of the next owner", visible(tidSel("confirm-pick")))
	alice.do(chromedp.SetValue(testID("confirm-pick"), fmt.Sprint(b.ID)))
	alice.shot("confirm-owner-leave")
	alice.confirm("You own Choir", true)
	alice.wait(uiSettle, "the group gone", `!__t.item(`+jsString(g.Conv)+`)`)
	if r := b.groupRoles(g.ID); len(r) != 2 || r["bob"] != "owner" || r["carol"] != "member" {
		t.Fatalf("roles after the owner left: %v", r)
	}

	alice.openConv(solo.Conv)
	alice.showMembers()
	alice.do(chromedp.Click(testID("group-leave")))
	alice.wait(uiSettle, "the question", `document.querySelector(__t.tid('confirm-dialog')).open`)
	// Cancel, and ask again at once: the first question's close event,
	// which comes a task later, must not answer the second.
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="confirm-cancel"]').click(), document.querySelector('[data-testid="group-leave"]').click()`))
	alice.confirm("deletes the group", true)
	alice.wait(uiSettle, "the group gone", `!__t.item(`+jsString(solo.Conv)+`)`)
}

// The members panel keeps names readable and leaves the chat room to
// breathe at every width.
func TestBrowserMembersPanelLayout(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	long := []string{"Bartholomew Fitzgerald-Montgomery", "Anastasia Kowalczyk-Wiśniewska"}
	srv.apiSignup(t, "bart", long[0])
	srv.apiSignup(t, "ana", long[1])
	g := a.createGroup("Long names", "bart", "ana")
	a.sendGroup(g.ID, "Welcome, both of you. This line is long enough to wrap on a narrow screen.")
	alice := newPerson(t, br, srv, "alice")
	alice.login("alice")
	alice.openConv(g.Conv)
	for _, w := range []int64{1280, 1001, 1000, 860, 721, 640, phoneWidth} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			alice.setWidth(w, 800)
			alice.showMembers()
			alice.shot(fmt.Sprintf("members-%d", w))
			// A name gets at least 100 px (and so is not a letter a line).
			narrowest := evalJS[float64](alice, `Math.min(...[...document.querySelectorAll('[data-testid="member-item"] .member-name')].map((e) => e.getBoundingClientRect().width))`)
			if narrowest < 100 {
				t.Errorf("width %d: a member's name gets %.0f px", w, narrowest)
			}
			// The chat keeps 400 px (all of a phone's width) beside, or
			// under, the panel.
			chat := evalJS[float64](alice, `document.querySelector('.chat-col').getBoundingClientRect().width`)
			if want := min(400, float64(w)); chat < want {
				t.Errorf("width %d: the chat gets %.0f px with the members shown, want at least %.0f", w, chat, want)
			}
		})
	}
}

// A former member's messages carry their name, for members who joined
// after they left too.
func TestBrowserFormerMemberNamed(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bobby Tables")
	srv.apiSignup(t, "carol", "Carol")
	g := a.createGroup("Old timers", "bob")
	b.sendGroup(g.ID, "I was here first")
	b.call("DELETE", fmt.Sprintf("/api/groups/%d/members/%d", g.ID, b.ID), nil, nil, http.StatusNoContent)
	a.addMember(g.ID, "carol")

	for _, who := range []string{"alice", "carol"} {
		p := newPerson(t, br, srv, who)
		p.login(who)
		p.do(chromedp.Click(testID("tab-groups")))
		p.wait(uiSettle, "the preview names Bob", `!!__t.item(`+jsString(g.Conv)+`) && __t.item(`+jsString(g.Conv)+`).textContent.includes('Bobby Tables: I was here first')`)
		p.openConv(g.Conv)
		p.waitMessage(g.Conv, "I was here first", "Bobby Tables")
	}
}
