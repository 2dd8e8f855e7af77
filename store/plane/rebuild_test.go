package plane_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/storetest"
)

// racingAccess answers from SQL as it was when the read began, and runs
// during (once) between that read and the answer: a revoke that commits
// while a rebuild is reading SQL.
type racingAccess struct {
	*fakeAccess
	during func()
}

func (r *racingAccess) race() {
	if f := r.during; f != nil {
		r.during = nil
		f()
	}
}

func (r *racingAccess) AreFriends(ctx context.Context, a, b store.UserID) (bool, error) {
	ok, err := r.fakeAccess.AreFriends(ctx, a, b)
	r.race()
	return ok, err
}

func (r *racingAccess) MemberIDs(ctx context.Context, g store.GroupID) ([]store.UserID, error) {
	ids, err := r.fakeAccess.MemberIDs(ctx, g)
	ids = slices.Clone(ids)
	r.race()
	return ids, err
}

// A rebuild of a missing pair or members key that read SQL before a revoke
// committed must not bring the revoked right back: the revoke bumps the
// conversation's version and the rebuild, seeing it changed, reads SQL
// again.
func TestRebuildRacingARevokeKeepsTheRightRevoked(t *testing.T) {
	ctx := context.Background()
	srv := storetest.Redis(t)
	rdb := srv.Client(t)
	prefix := storetest.Prefix(t)
	fake := &fakeAccess{friends: map[[2]store.UserID]bool{}, members: map[store.GroupID][]store.UserID{}}
	acc := &racingAccess{fakeAccess: fake}
	p := plane.New(rdb, rdb, acc, plane.Options{Prefix: prefix})
	t.Cleanup(p.Close)

	t.Run("unfriend", func(t *testing.T) {
		conv := store.DirectConv(1, 2)
		fake.friends[[2]store.UserID{1, 2}] = true // in SQL; the pair key was never written
		acc.during = func() {
			err := p.Revoke(ctx, conv, 1, func(context.Context) (bool, error) {
				delete(fake.friends, [2]store.UserID{1, 2})
				return false, nil
			})
			if err != nil {
				t.Errorf("revoke: %v", err)
			}
		}
		_, err := p.Send(ctx, plane.Outgoing{From: 1, FromDevice: "a", Conv: conv, To: 2, Body: "after the unfriend"})
		if !errors.Is(err, store.ErrNotFriends) {
			t.Fatalf("send = %v, want not_friends", err)
		}
		if n, _ := rdb.Exists(ctx, prefix+"pair:{c:d1-2}").Result(); n != 0 {
			t.Fatal("the rebuild wrote back the revoked pair key")
		}
		if n, _ := rdb.Exists(ctx, prefix+"hist:{c:d1-2}").Result(); n != 0 {
			t.Fatal("a message was stored")
		}
	})

	t.Run("removal from a group", func(t *testing.T) {
		const g = store.GroupID(7)
		conv := store.GroupConv(g)
		fake.members[g] = []store.UserID{1, 2, 3} // the members key is missing
		acc.during = func() {
			err := p.Revoke(ctx, conv, 2, func(context.Context) (bool, error) {
				fake.members[g] = []store.UserID{1, 3}
				return false, nil
			})
			if err != nil {
				t.Errorf("revoke: %v", err)
			}
		}
		_, err := p.Send(ctx, plane.Outgoing{From: 2, FromDevice: "b", Conv: conv, Body: "after the removal"})
		if !errors.Is(err, store.ErrNotMember) {
			t.Fatalf("send = %v, want not_member", err)
		}
		if in, _ := rdb.SIsMember(ctx, prefix+"members:{c:g7}", 2).Result(); in {
			t.Fatal("the rebuild put the removed member back")
		}
		// The others still write: the second rebuild used what SQL says now.
		if _, err := p.Send(ctx, plane.Outgoing{From: 3, FromDevice: "c", Conv: conv, Body: "still here"}); err != nil {
			t.Fatalf("send by a member: %v", err)
		}
	})
}

// A refusal read from SQL just before a grant committed must not be cached
// after it: the grant bumps the version too, so the refused sender's
// marker is not written and the next try succeeds.
func TestRefusalRacingAGrantIsNotCached(t *testing.T) {
	ctx := context.Background()
	srv := storetest.Redis(t)
	rdb := srv.Client(t)
	fake := &fakeAccess{friends: map[[2]store.UserID]bool{}, members: map[store.GroupID][]store.UserID{}}
	acc := &racingAccess{fakeAccess: fake}
	p := plane.New(rdb, rdb, acc, plane.Options{Prefix: storetest.Prefix(t)})
	t.Cleanup(p.Close)

	conv := store.DirectConv(3, 4)
	acc.during = func() {
		fake.friends[[2]store.UserID{3, 4}] = true
		if err := p.GrantPair(ctx, 3, 4); err != nil {
			t.Errorf("grant: %v", err)
		}
	}
	send := func(body string) error {
		_, err := p.Send(ctx, plane.Outgoing{From: 3, Conv: conv, To: 4, Body: body})
		return err
	}
	// Asked while SQL still said no: refused, or let through if the rebuild
	// saw the grant; either is right for a send racing the grant.
	if err := send("just before"); err != nil && !errors.Is(err, store.ErrNotFriends) {
		t.Fatal(err)
	}
	if err := send("just after"); err != nil {
		t.Fatalf("the first send after the grant: %v", err)
	}
}

// While a revoke is under way (between its two steps, around the SQL
// commit), no rebuild writes the rights key: one that read SQL before the
// commit would put the right back, and if the revoke's second step never
// came nothing would take it away again. The marker that keeps them off
// goes with the second step (and expires by itself).
func TestNoRebuildWhileARevokeIsUnderWay(t *testing.T) {
	ctx := context.Background()
	srv := storetest.Redis(t)
	rdb := srv.Client(t)
	prefix := storetest.Prefix(t)
	fake := &fakeAccess{friends: map[[2]store.UserID]bool{}, members: map[store.GroupID][]store.UserID{9: {1, 2, 3}}}
	p := plane.New(rdb, rdb, fake, plane.Options{Prefix: prefix})
	t.Cleanup(p.Close)
	conv := store.GroupConv(9)
	members := prefix + "members:{c:g9}"
	err := p.Revoke(ctx, conv, 3, func(context.Context) (bool, error) {
		rdb.Del(ctx, members) // as if lost: the next read would rebuild it from SQL
		if _, _, err := p.History(ctx, 1, conv, 0, 1); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a read during the revoke: %v, want unavailable (no rebuild meanwhile)", err)
		}
		if n, _ := rdb.Exists(ctx, members).Result(); n != 0 {
			t.Error("a rebuild wrote the members key during the revoke")
		}
		fake.members[9] = []store.UserID{1, 2}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.History(ctx, 1, conv, 0, 1); err != nil {
		t.Fatalf("a read after the revoke: %v", err)
	}
	if in, _ := rdb.SIsMember(ctx, members, 3).Result(); in {
		t.Fatal("the removed member is back in the members key")
	}
}
