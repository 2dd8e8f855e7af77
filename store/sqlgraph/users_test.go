package sqlgraph_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"webchat/store/sqlgraph"

	"webchat/store"
	"webchat/store/storetest"
)

func TestCreateUserStoresLowerCase(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		// Any bytes: BYTEA and BLOB keep a NUL or an invalid UTF-8 byte.
		hash := []byte("hash\x00\xff")
		u, err := g.CreateUser(t.Context(), "Alice_01", "Alice A.", hash)
		checkErr(t, "create user", err, nil)
		want := store.User{ID: u.ID, Username: "alice_01", DisplayName: "Alice A."}
		if u.ID <= 0 || u != want {
			t.Fatalf("create user: got %+v, want %+v with a positive id", u, want)
		}

		byID, err := g.UserByID(t.Context(), u.ID)
		checkErr(t, "user by id", err, nil)
		if byID != want {
			t.Fatalf("user by id: got %+v, want %+v", byID, want)
		}
		for _, name := range []string{"alice_01", "ALICE_01", "aLiCe_01"} {
			c, err := g.UserByUsername(t.Context(), name)
			checkErr(t, "user by username "+name, err, nil)
			if c.User != want || !bytes.Equal(c.PasswordHash, hash) {
				t.Fatalf("user by username %s: got %+v, want %+v with hash %q", name, c, want, hash)
			}
		}
	})
}

func TestCreateUserErrors(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		for _, tc := range []struct {
			name, first, second string
			want                error
		}{
			{"taken in the same case", "bob", "bob", store.ErrUsernameTaken},
			{"taken in another case", "bob", "BoB", store.ErrUsernameTaken},
			{"taken the other way round", "BOB", "bob", store.ErrUsernameTaken},
			{"different name is fine", "bob", "bobby", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				g := e.NewGraph(t)
				mkUser(t, g, tc.first)
				_, err := g.CreateUser(t.Context(), tc.second, "x", []byte("h"))
				checkErr(t, "create "+tc.second, err, tc.want)
			})
		}
	})
}

func TestCreateUserConcurrentSameName(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		const n = 10
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				name := "carol"
				if i%2 == 1 {
					name = "CAROL"
				}
				_, errs[i] = g.CreateUser(t.Context(), name, fmt.Sprint("Carol ", i), []byte("h"))
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for i, err := range errs {
			if err == nil {
				created++
				continue
			}
			checkErr(t, fmt.Sprint("create ", i), err, store.ErrUsernameTaken)
		}
		if created != 1 {
			t.Fatalf("created: got %d, want 1", created)
		}
	})
}

func TestUserNotFound(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		u := mkUser(t, g, "dave")
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"unknown username", func() error { _, err := g.UserByUsername(t.Context(), "davey"); return err }},
			{"empty username", func() error { _, err := g.UserByUsername(t.Context(), ""); return err }},
			{"unknown id", func() error { _, err := g.UserByID(t.Context(), u.ID+1); return err }},
			{"zero id", func() error { _, err := g.UserByID(t.Context(), 0); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				checkErr(t, tc.name, tc.call(), store.ErrUserNotFound)
			})
		}
	})
}
