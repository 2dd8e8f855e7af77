package sqlgraph_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"webchat/store/sqlgraph"

	"webchat/store"
	"webchat/store/storetest"
)

// checkPending fails unless uid's pending requests have exactly these ids.
func checkPending(t testing.TB, g *sqlgraph.Graph, uid store.UserID, wantIn, wantOut []int64) {
	t.Helper()
	in, out, err := g.FriendRequests(t.Context(), uid)
	checkErr(t, "friend requests", err, nil)
	ids := func(qs []store.FriendRequest) []int64 {
		ids := []int64{}
		for _, q := range qs {
			ids = append(ids, q.ID)
		}
		return ids
	}
	if !slices.Equal(ids(in), wantIn) || !slices.Equal(ids(out), wantOut) {
		t.Fatalf("user %d pending: got in %v out %v, want in %v out %v", uid, ids(in), ids(out), wantIn, wantOut)
	}
}

func checkFriends(t testing.TB, g *sqlgraph.Graph, a, b store.UserID, want bool) {
	t.Helper()
	for _, p := range [][2]store.UserID{{a, b}, {b, a}} {
		ok, err := g.AreFriends(t.Context(), p[0], p[1])
		checkErr(t, "are friends", err, nil)
		if ok != want {
			t.Fatalf("are friends %d, %d: got %v, want %v", p[0], p[1], ok, want)
		}
	}
}

func TestRequestFriendErrors(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "ben")
		res, err := g.RequestFriend(t.Context(), a.ID, "ben")
		checkErr(t, "ann asks ben", err, nil)
		_, err = g.AcceptRequest(t.Context(), b.ID, res.Request.ID)
		checkErr(t, "ben accepts", err, nil)

		for _, tc := range []struct {
			name string
			from store.UserID
			to   string
			want error
		}{
			{"unknown user", a.ID, "nobody", store.ErrUserNotFound},
			{"yourself", a.ID, "ann", store.ErrSelf},
			{"yourself in another case", a.ID, "ANN", store.ErrSelf},
			{"already friends", a.ID, "ben", store.ErrAlreadyFriends},
			{"already friends the other way", b.ID, "Ann", store.ErrAlreadyFriends},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := g.RequestFriend(t.Context(), tc.from, tc.to)
				checkErr(t, "request friend", err, tc.want)
			})
		}
		checkPending(t, g, a.ID, []int64{}, []int64{})
	})
}

func TestRequestFriendTwice(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "ben")
		first, err := g.RequestFriend(t.Context(), a.ID, "Ben")
		checkErr(t, "first request", err, nil)
		want := store.FriendRequest{ID: first.Request.ID, From: a, To: b, CreatedAt: first.Request.CreatedAt, Status: "pending"}
		if !first.Created || first.Friend != nil || first.Request != want || want.CreatedAt <= 0 {
			t.Fatalf("first request: got %+v, want created %+v", first, want)
		}
		again, err := g.RequestFriend(t.Context(), a.ID, "ben")
		checkErr(t, "second request", err, nil)
		if again.Created || again.Friend != nil || again.Request != want {
			t.Fatalf("second request: got %+v, want not created %+v", again, want)
		}

		in, out, err := g.FriendRequests(t.Context(), b.ID)
		checkErr(t, "ben's requests", err, nil)
		if !slices.Equal(in, []store.FriendRequest{want}) || len(out) != 0 {
			t.Fatalf("ben's requests: got in %+v out %+v, want in [%+v]", in, out, want)
		}
		checkPending(t, g, a.ID, []int64{}, []int64{want.ID})
		checkFriends(t, g, a.ID, b.ID, false)
	})
}

func TestRequestFriendCrossingBecomesFriends(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "ben")
		asked, err := g.RequestFriend(t.Context(), a.ID, "ben")
		checkErr(t, "ann asks ben", err, nil)
		back, err := g.RequestFriend(t.Context(), b.ID, "ann")
		checkErr(t, "ben asks ann", err, nil)

		want := asked.Request
		want.Status = "accepted"
		if back.Created || back.Friend == nil || *back.Friend != a || back.Request != want {
			t.Fatalf("ben asks ann: got %+v (friend %v), want friend %+v and request %+v", back, back.Friend, a, want)
		}
		checkFriends(t, g, a.ID, b.ID, true)
		checkPending(t, g, a.ID, []int64{}, []int64{})
		checkPending(t, g, b.ID, []int64{}, []int64{})
	})
}

// TestRequestFriendCrossingConcurrent sends A→B and B→A at the same moment
// for many pairs: whichever runs first, each pair must end as friends, with
// one request created, the other answered by it, and nothing pending.
func TestRequestFriendCrossingConcurrent(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		const pairs = 20
		type side struct {
			res sqlgraph.FriendResult
			err error
		}
		users := make([][2]store.User, pairs)
		results := make([][2]side, pairs)
		for i := range pairs {
			users[i] = [2]store.User{mkUser(t, g, fmt.Sprint("left", i)), mkUser(t, g, fmt.Sprint("right", i))}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range pairs {
			for s := range 2 {
				wg.Go(func() {
					<-start
					from, to := users[i][s], users[i][1-s]
					res, err := g.RequestFriend(t.Context(), from.ID, to.Username)
					results[i][s] = side{res, err}
				})
			}
		}
		close(start)
		wg.Wait()

		for i, pair := range results {
			created, befriended := 0, 0
			for s, r := range pair {
				checkErr(t, fmt.Sprintf("pair %d side %d", i, s), r.err, nil)
				if r.res.Created {
					created++
				}
				if r.res.Friend != nil {
					befriended++
					if *r.res.Friend != users[i][1-s] {
						t.Fatalf("pair %d side %d: friend %+v, want %+v", i, s, *r.res.Friend, users[i][1-s])
					}
				}
			}
			if created != 1 || befriended != 1 {
				t.Fatalf("pair %d: %d created and %d befriended, want 1 and 1: %+v", i, created, befriended, pair)
			}
			checkFriends(t, g, users[i][0].ID, users[i][1].ID, true)
			checkPending(t, g, users[i][0].ID, []int64{}, []int64{})
			checkPending(t, g, users[i][1].ID, []int64{}, []int64{})
			friends, err := g.Friends(t.Context(), users[i][0].ID)
			checkErr(t, "friends", err, nil)
			if !slices.Equal(friends, []store.User{users[i][1]}) {
				t.Fatalf("pair %d: friends %+v, want exactly %+v", i, friends, users[i][1])
			}
		}
	})
}

// TestRequestFriendRacingAccept has ben accept ann's request on one device
// while asking her on another, for many pairs at once. Whichever runs
// first, they end friends with nothing pending, and the other call sees
// what it sees coming second: the accept ErrRequestNotFound, the request
// ErrAlreadyFriends. On PostgreSQL the request can find ann's request
// pending and then lose it to the accept before its update.
func TestRequestFriendRacingAccept(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		const pairs = 20
		users := make([][2]store.User, pairs)
		reqs := make([]int64, pairs)
		for i := range pairs {
			users[i] = [2]store.User{mkUser(t, g, fmt.Sprint("ann", i)), mkUser(t, g, fmt.Sprint("ben", i))}
			res, err := g.RequestFriend(t.Context(), users[i][0].ID, users[i][1].Username)
			checkErr(t, "ann asks ben", err, nil)
			reqs[i] = res.Request.ID
		}
		acceptErrs, requestErrs := make([]error, pairs), make([]error, pairs)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range pairs {
			ann, ben := users[i][0], users[i][1]
			wg.Go(func() {
				<-start
				_, acceptErrs[i] = g.AcceptRequest(t.Context(), ben.ID, reqs[i])
			})
			wg.Go(func() {
				<-start
				_, requestErrs[i] = g.RequestFriend(t.Context(), ben.ID, ann.Username)
			})
		}
		close(start)
		wg.Wait()
		for i := range pairs {
			acceptErr, requestErr := acceptErrs[i], requestErrs[i]
			switch {
			case acceptErr == nil:
				checkErr(t, fmt.Sprint("pair ", i, ": request after accept"), requestErr, store.ErrAlreadyFriends)
			case requestErr == nil:
				checkErr(t, fmt.Sprint("pair ", i, ": accept after request"), acceptErr, store.ErrRequestNotFound)
			default:
				t.Fatalf("pair %d: accept got %v and request got %v, want one of them to succeed", i, acceptErr, requestErr)
			}
			checkFriends(t, g, users[i][0].ID, users[i][1].ID, true)
			checkPending(t, g, users[i][0].ID, []int64{}, []int64{})
			checkPending(t, g, users[i][1].ID, []int64{}, []int64{})
		}
	})
}

func TestAnswerRequest(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		accept := func(g *sqlgraph.Graph, uid store.UserID, id int64) (store.FriendRequest, error) {
			return g.AcceptRequest(t.Context(), uid, id)
		}
		decline := func(g *sqlgraph.Graph, uid store.UserID, id int64) (store.FriendRequest, error) {
			return g.DeclineRequest(t.Context(), uid, id)
		}
		type answer func(*sqlgraph.Graph, store.UserID, int64) (store.FriendRequest, error)
		for _, tc := range []struct {
			name    string
			answer  answer
			who     string // ann asked ben; eve is a stranger
			otherID bool   // answer a request id that does not exist
			before  answer // answered by ben first
			want    error
			friends bool
		}{
			{name: "accepted by the one asked", answer: accept, who: "ben", friends: true},
			{name: "declined by the one asked", answer: decline, who: "ben"},
			{name: "accept by the asker is not found", answer: accept, who: "ann", want: store.ErrRequestNotFound},
			{name: "decline by the asker is not found", answer: decline, who: "ann", want: store.ErrRequestNotFound},
			{name: "accept by a stranger is not found", answer: accept, who: "eve", want: store.ErrRequestNotFound},
			{name: "decline by a stranger is not found", answer: decline, who: "eve", want: store.ErrRequestNotFound},
			{name: "accept of an unknown id is not found", answer: accept, who: "ben", otherID: true, want: store.ErrRequestNotFound},
			{name: "decline of an unknown id is not found", answer: decline, who: "ben", otherID: true, want: store.ErrRequestNotFound},
			{name: "accept after accept is not found", answer: accept, who: "ben", before: accept, want: store.ErrRequestNotFound, friends: true},
			{name: "accept after decline is not found", answer: accept, who: "ben", before: decline, want: store.ErrRequestNotFound},
			{name: "decline after accept is not found", answer: decline, who: "ben", before: accept, want: store.ErrRequestNotFound, friends: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				g := e.NewGraph(t)
				users := map[string]store.User{}
				for _, name := range []string{"ann", "ben", "eve"} {
					users[name] = mkUser(t, g, name)
				}
				asked, err := g.RequestFriend(t.Context(), users["ann"].ID, "ben")
				checkErr(t, "ann asks ben", err, nil)
				id := asked.Request.ID
				if tc.otherID {
					id += 100
				}
				if tc.before != nil {
					_, err := tc.before(g, users["ben"].ID, id)
					checkErr(t, "first answer", err, nil)
				}
				got, err := tc.answer(g, users[tc.who].ID, id)
				checkErr(t, "answer", err, tc.want)
				if tc.want == nil {
					want := asked.Request
					want.Status = "declined"
					if tc.friends {
						want.Status = "accepted"
					}
					if got != want {
						t.Fatalf("answer: got %+v, want %+v", got, want)
					}
					checkPending(t, g, users["ann"].ID, []int64{}, []int64{})
					checkPending(t, g, users["ben"].ID, []int64{}, []int64{})
				}
				checkFriends(t, g, users["ann"].ID, users["ben"].ID, tc.friends)
			})
		}
	})
}

func TestDeclinedMayAskAgain(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "ben")
		first, err := g.RequestFriend(t.Context(), a.ID, "ben")
		checkErr(t, "first request", err, nil)
		_, err = g.DeclineRequest(t.Context(), b.ID, first.Request.ID)
		checkErr(t, "decline", err, nil)
		again, err := g.RequestFriend(t.Context(), a.ID, "ben")
		checkErr(t, "ask again", err, nil)
		if !again.Created || again.Request.ID == first.Request.ID {
			t.Fatalf("ask again: got %+v, want a new request (first was %d)", again, first.Request.ID)
		}
		checkPending(t, g, b.ID, []int64{again.Request.ID}, []int64{})
	})
}

func TestUnfriend(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a, b, c := mkUser(t, g, "ann"), mkUser(t, g, "ben"), mkUser(t, g, "cat")
		befriend(t, g, a, b)
		befriend(t, g, a, c)

		removed, err := g.Unfriend(t.Context(), b.ID, a.ID) // from the higher id's side
		checkErr(t, "unfriend", err, nil)
		if !removed {
			t.Fatal("unfriend: got removed false, want true")
		}
		checkFriends(t, g, a.ID, b.ID, false)
		checkFriends(t, g, a.ID, c.ID, true)
		removed, err = g.Unfriend(t.Context(), a.ID, b.ID)
		checkErr(t, "unfriend again", err, nil)
		if removed {
			t.Fatal("unfriend again: got removed true, want false")
		}
		friends, err := g.Friends(t.Context(), b.ID)
		checkErr(t, "ben's friends", err, nil)
		if friends == nil || len(friends) != 0 {
			t.Fatalf("ben's friends: got %#v, want an empty slice", friends)
		}
		// Unfriended people may become friends again.
		res, err := g.RequestFriend(t.Context(), b.ID, "ann")
		checkErr(t, "ask again", err, nil)
		if !res.Created {
			t.Fatalf("ask again: got %+v, want a new request", res)
		}
	})
}

func TestFriendsOrderedByID(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		u1, u2, u3, u4 := mkUser(t, g, "u1"), mkUser(t, g, "u2"), mkUser(t, g, "u3"), mkUser(t, g, "u4")
		// u3 is the higher id of its pairs with u1 and u2 and the lower of its
		// pair with u4: both halves of the query must answer, merged in order.
		befriend(t, g, u3, u4)
		befriend(t, g, u3, u1)
		befriend(t, g, u2, u3)
		friends, err := g.Friends(t.Context(), u3.ID)
		checkErr(t, "friends", err, nil)
		if want := []store.User{u1, u2, u4}; !slices.Equal(friends, want) {
			t.Fatalf("friends: got %+v, want %+v", friends, want)
		}
	})
}

// befriend makes a and b friends through a request and its acceptance.
func befriend(t testing.TB, g *sqlgraph.Graph, a, b store.User) {
	t.Helper()
	res, err := g.RequestFriend(t.Context(), a.ID, b.Username)
	checkErr(t, "request "+b.Username, err, nil)
	_, err = g.AcceptRequest(t.Context(), b.ID, res.Request.ID)
	checkErr(t, "accept "+a.Username, err, nil)
}
