package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// webchatDriver speaks webchat's HTTP API (DESIGN.md).
type webchatDriver struct{}

func (webchatDriver) setup(ctx context.Context, e *engine) error {
	pw := "loadtest-" + e.runID
	err := e.parallel(ctx, len(e.users), func(ctx context.Context, i int) error {
		u := e.users[i]
		var out wUserAnswer
		resp, err := doJSON(ctx, e.setHC, "POST", u.base+"/api/signup", "",
			wSignup{Username: u.name, Password: pw, DisplayName: fmt.Sprintf("Load %d", i)}, &out, 201)
		if err != nil {
			return fmt.Errorf("sign up %s: %w (run the server with BCRYPT_COST=4 RATE_AUTH=0 RATE_AUTH_USER=0 RATE_ADD=0 RATE_FANOUT=0 RATE_SEND=0)", u.name, err)
		}
		if out.User.ID <= 0 || out.User.Username != u.name {
			return &reqError{kind: "protocol", msg: fmt.Sprintf("sign-up answered user %+v for %s", out.User, u.name)}
		}
		u.id, u.cookie = out.User.ID, cookieHeader(resp)
		if u.cookie == "" {
			return &reqError{kind: "protocol", msg: "sign-up set no session cookie"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if e.cfg.Scenario == "group" {
		return setupGroups(ctx, e)
	}
	pairs := e.pairs()
	return e.parallel(ctx, len(pairs), func(ctx context.Context, i int) error {
		a, b := e.users[pairs[i][0]], e.users[pairs[i][1]]
		var req wFriendAnswer
		_, err := doJSON(ctx, e.setHC, "POST", a.base+"/api/friend-requests", a.cookie, wFriendRequestBody{Username: b.name}, &req, 200, 201)
		if err != nil {
			return fmt.Errorf("friend request %s → %s: %w", a.name, b.name, err)
		}
		if req.Friend != nil {
			return nil // they had asked already: friends at once
		}
		if req.Request == nil || req.Request.ID <= 0 {
			return &reqError{kind: "protocol", msg: "friend request answered no request id"}
		}
		var acc wFriendAnswer
		_, err = doJSON(ctx, e.setHC, "POST", fmt.Sprintf("%s/api/friend-requests/%d/accept", b.base, req.Request.ID), b.cookie, nil, &acc, 200)
		if err != nil {
			return fmt.Errorf("accept %s → %s: %w", a.name, b.name, err)
		}
		if acc.Friend == nil || acc.Friend.ID != a.id {
			return &reqError{kind: "protocol", msg: fmt.Sprintf("accept answered friend %+v, want %d", acc.Friend, a.id)}
		}
		return nil
	})
}

// setupGroups creates every group (its first member owns it) and adds the
// other members.
func setupGroups(ctx context.Context, e *engine) error {
	err := e.parallel(ctx, len(e.groups), func(ctx context.Context, gi int) error {
		g := e.groups[gi]
		owner := e.users[g.members[0]]
		var out wGroupAnswer
		_, err := doJSON(ctx, e.setHC, "POST", owner.base+"/api/groups", owner.cookie,
			wCreateGroup{Name: fmt.Sprintf("load %s %d", e.runID, gi), Brief: "", MaxMembers: max(len(g.members), 2)}, &out, 201)
		if err != nil {
			return fmt.Errorf("create group %d: %w", gi, err)
		}
		if out.Group.ID <= 0 || out.Group.Conv != "g"+strconv.FormatInt(out.Group.ID, 10) {
			return &reqError{kind: "protocol", msg: fmt.Sprintf("create group answered %+v", out.Group)}
		}
		g.id, g.conv = out.Group.ID, out.Group.Conv
		return nil
	})
	if err != nil {
		return err
	}
	type add struct{ g, m int }
	var adds []add
	for gi, g := range e.groups {
		for _, m := range g.members[1:] {
			adds = append(adds, add{gi, int(m)})
		}
	}
	return e.parallel(ctx, len(adds), func(ctx context.Context, i int) error {
		g := e.groups[adds[i].g]
		owner, m := e.users[g.members[0]], e.users[adds[i].m]
		var out wMemberAnswer
		resp, err := doJSON(ctx, e.setHC, "POST", fmt.Sprintf("%s/api/groups/%d/members", owner.base, g.id), owner.cookie, wAddMember{Username: m.name}, &out, 201, 202)
		if err != nil {
			return fmt.Errorf("add %s to group %d: %w", m.name, g.id, err)
		}
		if resp.StatusCode == 202 {
			// Not the owner's friend: invited, and the member accepts.
			if out.Invite == nil || out.Invite.To.ID != m.id {
				return &reqError{kind: "protocol", msg: fmt.Sprintf("add member answered an invitation %+v, want one for id %d", out.Invite, m.id)}
			}
			var joined wJoined
			if _, err := doJSON(ctx, e.setHC, "POST", fmt.Sprintf("%s/api/group-invites/%d/accept", m.base, out.Invite.ID), m.cookie, nil, &joined, 200); err != nil {
				return fmt.Errorf("%s accepts group %d: %w", m.name, g.id, err)
			}
			out.Member.ID = joined.Member.ID
		}
		if out.Member.ID != m.id {
			return &reqError{kind: "protocol", msg: fmt.Sprintf("add member answered %+v, want id %d", out.Member, m.id)}
		}
		return nil
	})
}

// settle polls at once until nothing waits: setup left friend and group
// events in every inbox.
func (d webchatDriver) settle(ctx context.Context, e *engine, u *user) error {
	for range 200 {
		a, err := d.pollOnce(ctx, e.setHC, u, 0)
		if err != nil {
			return fmt.Errorf("settle %s: %w", u.name, err)
		}
		if len(a.Events) == 0 {
			return nil
		}
	}
	return fmt.Errorf("settle %s: events kept coming", u.name)
}

func (d webchatDriver) pollOnce(ctx context.Context, hc *http.Client, u *user, timeout int) (wPoll, error) {
	q := "timeout=" + strconv.Itoa(timeout)
	if u.cursor != "" {
		q += "&cursor=" + url.QueryEscape(u.cursor)
	}
	var a wPoll
	_, err := doJSON(ctx, hc, "GET", u.base+"/api/poll?"+q, u.cookie, nil, &a, 200)
	if err != nil {
		return a, err
	}
	if a.Cursor == "" {
		return a, &reqError{kind: "protocol", msg: "poll answered no cursor"}
	}
	u.cursor = a.Cursor
	return a, nil
}

func (d webchatDriver) poll(ctx context.Context, e *engine, u *user) ([]delivery, error) {
	pctx, cancel := context.WithTimeout(ctx, time.Duration(e.cfg.PollTimeout)*time.Second+15*time.Second)
	defer cancel()
	a, err := d.pollOnce(pctx, e.pollHC, u, e.cfg.PollTimeout)
	if err != nil {
		return nil, err
	}
	var out []delivery
	var bad error
	for _, ev := range a.Events {
		if ev.ID <= 0 {
			bad = &reqError{kind: "protocol", msg: fmt.Sprintf("event without id: %+v", ev)}
		}
		if ev.Type != "message" {
			continue
		}
		m := ev.Message
		if m == nil || m.Seq <= 0 || m.Conv == "" || m.From <= 0 {
			bad = &reqError{kind: "protocol", msg: fmt.Sprintf("message event %+v", ev)}
			continue
		}
		out = append(out, delivery{body: m.Body, conv: m.Conv, seq: m.Seq, from: m.From})
	}
	if a.Resync {
		// The device was dropped (its inbox overflowed or it expired): what
		// waited is gone; a browser reloads history, which does not count.
		e.tr.error("poll_resync", time.Now())
	}
	if bad != nil {
		e.protocolError(bad)
		e.tr.error("poll_protocol", time.Now())
	}
	return out, nil
}

// convOf is the conversation u sends to at dest.
func (webchatDriver) convOf(e *engine, u *user, dest int) string {
	if e.cfg.Scenario == "group" {
		return e.groups[dest].conv
	}
	f := e.users[dest]
	return fmt.Sprintf("d%d-%d", min(u.id, f.id), max(u.id, f.id))
}

func (d webchatDriver) typing(ctx context.Context, e *engine, u *user, dest int) error {
	_, err := doJSON(ctx, e.sendHC, "POST", u.base+"/api/conversations/"+d.convOf(e, u, dest)+"/typing", u.cookie, wTyping{Typing: true}, nil, 204)
	return err
}

func (webchatDriver) read(ctx context.Context, e *engine, u *user, conv string, seq int64) error {
	_, err := doJSON(ctx, e.sendHC, "POST", u.base+"/api/conversations/"+conv+"/read", u.cookie, wRead{Seq: seq}, nil, 204)
	return err
}

func (webchatDriver) send(ctx context.Context, e *engine, u *user, dest int, body, clientID string) (sendAnswer, error) {
	req := wSend{Body: body, ClientID: clientID}
	var want string
	if e.cfg.Scenario == "group" {
		g := e.groups[dest]
		req.To, req.Type, want = g.id, "group", g.conv
	} else {
		f := e.users[dest]
		req.To, req.Type = f.id, "single"
		lo, hi := min(u.id, f.id), max(u.id, f.id)
		want = fmt.Sprintf("d%d-%d", lo, hi)
	}
	var out wMessageAnswer
	_, err := doJSON(ctx, e.sendHC, "POST", u.base+"/api/messages", u.cookie, req, &out, 200, 201)
	if err != nil {
		return sendAnswer{}, err
	}
	m := out.Message
	if m.Seq <= 0 || m.Conv != want || m.From != u.id || m.Type != req.Type {
		return sendAnswer{}, &reqError{kind: "protocol", msg: fmt.Sprintf("send answered %+v, want conv %s from %d", m, want, u.id)}
	}
	return sendAnswer{conv: m.Conv, seq: m.Seq}, nil
}
