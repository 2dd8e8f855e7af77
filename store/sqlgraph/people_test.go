package sqlgraph_test

import (
	"slices"
	"testing"

	"webchat/store/sqlgraph"

	"webchat/store"
)

func TestPastFriends(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a, b, c, d, e := mkUser(t, g, "ann"), mkUser(t, g, "ben"), mkUser(t, g, "cat"), mkUser(t, g, "dan"), mkUser(t, g, "eve")
		befriend(t, g, a, b) // then unfriended: past
		befriend(t, g, c, a) // then unfriended, from the other side: past
		befriend(t, g, a, d) // still friends: not past
		// Eve asked and ann declined: never friends.
		res, err := g.RequestFriend(t.Context(), e.ID, "ann")
		checkErr(t, "eve asks", err, nil)
		_, err = g.DeclineRequest(t.Context(), a.ID, res.Request.ID)
		checkErr(t, "decline", err, nil)
		for _, o := range []store.User{b, c} {
			_, err := g.Unfriend(t.Context(), a.ID, o.ID)
			checkErr(t, "unfriend", err, nil)
		}
		past, err := g.PastFriends(t.Context(), a.ID)
		checkErr(t, "past friends", err, nil)
		if want := []store.User{b, c}; !slices.Equal(past, want) {
			t.Fatalf("ann's past friends: got %+v, want %+v", past, want)
		}
		past, err = g.PastFriends(t.Context(), b.ID)
		checkErr(t, "ben's past friends", err, nil)
		if want := []store.User{a}; !slices.Equal(past, want) {
			t.Fatalf("ben's past friends: got %+v, want %+v", past, want)
		}

		// Friends again (a second accepted request): not past, listed once
		// when they part again.
		befriend(t, g, b, a)
		past, err = g.PastFriends(t.Context(), a.ID)
		checkErr(t, "past friends after making up", err, nil)
		if want := []store.User{c}; !slices.Equal(past, want) {
			t.Fatalf("after making up with ben: got %+v, want %+v", past, want)
		}
		_, err = g.Unfriend(t.Context(), a.ID, b.ID)
		checkErr(t, "unfriend again", err, nil)
		past, err = g.PastFriends(t.Context(), a.ID)
		checkErr(t, "past friends after parting again", err, nil)
		if want := []store.User{b, c}; !slices.Equal(past, want) {
			t.Fatalf("after parting again: got %+v, want %+v", past, want)
		}
		past, err = g.PastFriends(t.Context(), e.ID)
		checkErr(t, "eve's past friends", err, nil)
		if past == nil || len(past) != 0 {
			t.Fatalf("eve's past friends: got %#v, want an empty slice", past)
		}
	})
}

func TestUsersByID(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a := mkUser(t, g, "ann")
		mkUser(t, g, "ben") // not asked for
		c := mkUser(t, g, "cat")
		got, err := g.UsersByID(t.Context(), []store.UserID{c.ID, a.ID, 999, c.ID})
		checkErr(t, "users by id", err, nil)
		if want := []store.User{a, c}; !slices.Equal(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		got, err = g.UsersByID(t.Context(), nil)
		checkErr(t, "no ids", err, nil)
		if got == nil || len(got) != 0 {
			t.Fatalf("no ids: got %#v, want an empty slice", got)
		}
	})
}
