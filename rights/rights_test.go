package rights_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/rights"
	"webchat/store"
	"webchat/store/plane"
	"webchat/store/sqlgraph"
	"webchat/store/storetest"
)

// world is a real SQLite graph and a real Redis plane, and the service
// over them: no HTTP.
type world struct {
	t     *testing.T
	ctx   context.Context
	graph *sqlgraph.Graph
	plane *plane.Plane
	svc   *rights.Service
	rdb   *redis.Client
	pfx   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: storetest.Redis(t).Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	graph := storetest.NewGraph(t)
	pfx := storetest.Prefix(t)
	pl := plane.New(rdb, rdb, graph, plane.Options{Prefix: pfx})
	t.Cleanup(pl.Close)
	svc := rights.New(graph, pl, nil, rights.Options{})
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &world{t: t, ctx: context.Background(), graph: graph, plane: pl, svc: svc, rdb: rdb, pfx: pfx}
}

// user signs a user up with one device, "<username>-1".
func (w *world) user(username string) rights.Actor {
	w.t.Helper()
	u, err := w.graph.CreateUser(w.ctx, username, username, []byte("x"))
	if err != nil {
		w.t.Fatal(err)
	}
	a := rights.Actor{User: u.ID, Device: username + "-1"}
	w.device(a.User, a.Device)
	return a
}

func (w *world) device(u store.UserID, dev string) {
	w.t.Helper()
	if err := w.plane.RegisterDevice(w.ctx, u, dev); err != nil {
		w.t.Fatal(err)
	}
}

// events returns the types of the events waiting for the device, and
// acknowledges them.
func (w *world) events(u store.UserID, dev string) []string {
	w.t.Helper()
	step, err := w.plane.Poll(w.ctx, u, dev, -1, 0, plane.PollNow, "")
	if err != nil {
		w.t.Fatal(err)
	}
	var types []string
	var last int64 = -1
	for _, ev := range step.Events {
		var e struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(ev), &e); err != nil {
			w.t.Fatal(err)
		}
		types = append(types, e.Type)
		last = e.ID
	}
	if last >= 0 {
		if _, err := w.plane.Poll(w.ctx, u, dev, last, 0, plane.PollNow, ""); err != nil {
			w.t.Fatal(err)
		}
	}
	return types
}

func (w *world) wantEvents(u store.UserID, dev string, want ...string) {
	w.t.Helper()
	got := w.events(u, dev)
	if len(got) != len(want) {
		w.t.Fatalf("%d/%s got %v, want %v", u, dev, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			w.t.Fatalf("%d/%s got %v, want %v", u, dev, got, want)
		}
	}
}

func (w *world) send(from rights.Actor, conv store.Conv, to int64) error {
	_, err := w.plane.Send(w.ctx, plane.Outgoing{From: from.User, FromDevice: from.Device, Conv: conv, To: to, Body: "hi"})
	return err
}

// A friendship asked for and accepted is a right in Redis at once, and
// both people hear of it, on every device but the one that acted; ended,
// the right is gone at once, and both hear of that.
func TestFriendshipIsWrittenThroughAndAnnounced(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.user("alice"), w.user("bob")
	w.device(alice.User, "alice-2")
	res, err := w.svc.RequestFriend(w.ctx, alice, "bob")
	if err != nil || !res.Created {
		t.Fatalf("request: %+v %v", res, err)
	}
	w.wantEvents(alice.User, alice.Device)
	w.wantEvents(alice.User, "alice-2", "friend_request")
	w.wantEvents(bob.User, bob.Device, "friend_request")
	conv := store.DirectConv(alice.User, bob.User)
	if err := w.send(alice, conv, int64(bob.User)); !errors.Is(err, store.ErrNotFriends) {
		t.Fatalf("a send before the answer: %v", err)
	}

	if _, err := w.svc.AcceptRequest(w.ctx, bob, res.Request.ID); err != nil {
		t.Fatal(err)
	}
	w.wantEvents(bob.User, bob.Device)
	w.wantEvents(alice.User, alice.Device, "friend_added")
	w.wantEvents(alice.User, "alice-2", "friend_added")
	if err := w.send(alice, conv, int64(bob.User)); err != nil {
		t.Fatalf("a send between friends: %v", err)
	}
	w.events(bob.User, bob.Device) // the message

	if err := w.svc.Unfriend(w.ctx, bob, alice.User); err != nil {
		t.Fatal(err)
	}
	if err := w.send(alice, conv, int64(bob.User)); !errors.Is(err, store.ErrNotFriends) {
		t.Fatalf("a send after the friendship ended: %v", err)
	}
	w.wantEvents(alice.User, alice.Device, "friend_removed")
	w.wantEvents(bob.User, bob.Device)
	// Ending it again is no error and tells nobody.
	if err := w.svc.Unfriend(w.ctx, alice, bob.User); err != nil {
		t.Fatal(err)
	}
	w.wantEvents(bob.User, bob.Device)
	if err := w.svc.Unfriend(w.ctx, alice, alice.User); !errors.Is(err, store.ErrUserNotFound) {
		t.Fatalf("unfriending yourself: %v", err)
	}
}

// A member who may not remove another is refused before anything
// changes; a removal is a revoked right at once; the group's news of
// several joins and leaves comes as one group_updated per window; the
// last member's leaving deletes the group and cancels its invitations.
func TestMembershipChanges(t *testing.T) {
	w := newWorld(t)
	owner, friend, other, stranger := w.user("olive"), w.user("fred"), w.user("otto"), w.user("sam")
	w.befriend(owner, friend)
	w.befriend(owner, other)
	g, err := w.svc.CreateGroup(w.ctx, owner, "Club", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	conv := store.GroupConv(g.ID)
	for _, u := range []rights.Actor{friend, other} {
		res, err := w.svc.AddOrInvite(w.ctx, owner, g.ID, w.name(u))
		if err != nil || res.Member == nil {
			t.Fatalf("add %s: %+v %v", w.name(u), res, err)
		}
	}
	inv, err := w.svc.AddOrInvite(w.ctx, owner, g.ID, "sam")
	if err != nil || inv.Invite == nil {
		t.Fatalf("invite a stranger: %+v %v", inv, err)
	}
	w.wantEvents(stranger.User, stranger.Device, "group_invite")
	for _, u := range []rights.Actor{owner, friend, other} {
		w.events(u.User, u.Device)
	}

	members := w.pfx + "members:{c:" + conv.String() + "}"
	if n, err := w.rdb.Exists(w.ctx, members).Result(); n != 1 || err != nil {
		t.Fatalf("the group's members key: %d %v", n, err)
	}
	if err := w.svc.RemoveMember(w.ctx, friend, g.ID, other.User); !errors.Is(err, store.ErrNotAllowed) {
		t.Fatalf("a member removing another: %v", err)
	}
	if n, err := w.rdb.Exists(w.ctx, members).Result(); n != 1 || err != nil {
		t.Fatalf("a refused removal touched the members key: %d %v", n, err)
	}
	if err := w.send(other, conv, int64(g.ID)); err != nil {
		t.Fatalf("the refused removal changed something: %v", err)
	}
	if err := w.svc.RemoveMember(w.ctx, owner, g.ID, other.User); err != nil {
		t.Fatal(err)
	}
	if err := w.send(other, conv, int64(g.ID)); !errors.Is(err, store.ErrNotMember) {
		t.Fatalf("a removed member's send: %v", err)
	}
	if _, err := w.svc.SetRole(w.ctx, owner, g.ID, friend.User, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	// One window: the removal's news (and the joins' before it, claimed
	// in the same window or the one before) comes as group_updated, and
	// Close waits for it.
	if err := w.svc.Close(w.ctx); err != nil {
		t.Fatal(err)
	}
	got := w.events(friend.User, friend.Device)
	updates := 0
	for _, typ := range got {
		if typ == "group_updated" {
			updates++
		}
	}
	// One for the role, at most two for the member-count windows.
	if updates < 2 || updates > 3 {
		t.Fatalf("friend got %v: want group_updated for the role and one per window", got)
	}
	w.wantEvents(other.User, other.Device, "group_left")

	// The last two leave: the group goes, and its invitation with it.
	if err := w.svc.RemoveMember(w.ctx, friend, g.ID, friend.User); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.RemoveMember(w.ctx, owner, g.ID, owner.User); err != nil {
		t.Fatal(err)
	}
	w.wantEvents(stranger.User, stranger.Device, "group_invite_cancelled")
	if _, _, err := w.svc.AcceptInvite(w.ctx, stranger, inv.Invite.ID); !errors.Is(err, store.ErrInviteNotFound) {
		t.Fatalf("accepting the invitation of a deleted group: %v", err)
	}
	if err := w.svc.Close(w.ctx); err != nil {
		t.Fatal(err)
	}
}

// befriend makes a and b friends through the service.
func (w *world) befriend(a, b rights.Actor) {
	w.t.Helper()
	res, err := w.svc.RequestFriend(w.ctx, a, w.name(b))
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.svc.AcceptRequest(w.ctx, b, res.Request.ID); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) name(a rights.Actor) string {
	w.t.Helper()
	u, err := w.graph.UserByID(w.ctx, a.User)
	if err != nil {
		w.t.Fatal(err)
	}
	return u.Username
}

// Close gives up when the news cannot be sent in time.
func TestCloseIsBounded(t *testing.T) {
	w := newWorld(t)
	owner, friend := w.user("olive"), w.user("fred")
	w.befriend(owner, friend)
	g, err := w.svc.CreateGroup(w.ctx, owner, "Club", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AddOrInvite(w.ctx, owner, g.ID, "fred"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Millisecond)
	defer cancel()
	if err := w.svc.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with news a window away: %v", err)
	}
}
