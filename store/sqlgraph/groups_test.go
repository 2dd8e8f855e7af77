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

// groupFixture is a group with one member of each role, and an outsider.
type groupFixture struct {
	g                              *sqlgraph.Graph
	grp                            store.Group
	owner, admin, member, outsider store.User
}

func newGroupFixture(t testing.TB, e storetest.Engine, maxMembers int) *groupFixture {
	t.Helper()
	g := e.NewGraph(t)
	f := &groupFixture{
		g:        g,
		owner:    mkUser(t, g, "owner"),
		admin:    mkUser(t, g, "admin"),
		member:   mkUser(t, g, "member"),
		outsider: mkUser(t, g, "outsider"),
	}
	var err error
	f.grp, err = g.CreateGroup(t.Context(), f.owner.ID, "team", "the brief", maxMembers)
	checkErr(t, "create group", err, nil)
	for _, u := range []store.User{f.admin, f.member} {
		_, _, err := g.AddMember(t.Context(), f.owner.ID, f.grp.ID, u.Username)
		checkErr(t, "add "+u.Username, err, nil)
	}
	_, f.grp, err = g.SetRole(t.Context(), f.owner.ID, f.grp.ID, f.admin.ID, store.RoleAdmin)
	checkErr(t, "make admin", err, nil)
	return f
}

// checkRoles fails unless the group's members are exactly want, in order.
func checkRoles(t testing.TB, g *sqlgraph.Graph, gid store.GroupID, want ...store.Member) {
	t.Helper()
	got, err := g.GroupMembers(t.Context(), gid)
	checkErr(t, "group members", err, nil)
	if !slices.Equal(got, want) {
		t.Fatalf("group members: got %+v, want %+v", got, want)
	}
}

func member(u store.User, r store.Role) store.Member { return store.Member{User: u, Role: r} }

func TestCreateGroup(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		owner := mkUser(t, g, "owner")
		grp, err := g.CreateGroup(t.Context(), owner.ID, "Team", "what we do", 200)
		checkErr(t, "create group", err, nil)
		want := store.Group{ID: grp.ID, Name: "Team", Brief: "what we do", OwnerID: owner.ID,
			MaxMembers: 200, MemberCount: 1, Conv: fmt.Sprintf("g%d", grp.ID)}
		if grp.ID <= 0 || grp != want {
			t.Fatalf("create group: got %+v, want %+v with a positive id", grp, want)
		}

		got, err := g.Group(t.Context(), grp.ID)
		checkErr(t, "group", err, nil)
		if got != want {
			t.Fatalf("group: got %+v, want %+v", got, want)
		}
		got, role, err := g.GroupForMember(t.Context(), grp.ID, owner.ID)
		checkErr(t, "group for member", err, nil)
		if got != want || role != store.RoleOwner {
			t.Fatalf("group for member: got %+v as %q, want %+v as owner", got, role, want)
		}
		groups, err := g.UserGroups(t.Context(), owner.ID)
		checkErr(t, "user groups", err, nil)
		if !slices.Equal(groups, []store.Group{want}) {
			t.Fatalf("user groups: got %+v, want [%+v]", groups, want)
		}
		checkRoles(t, g, grp.ID, member(owner, store.RoleOwner))
	})
}

func TestCreateGroupErrors(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		owner := mkUser(t, g, "owner")
		for _, tc := range []struct {
			name  string
			owner store.UserID
			max   int
			want  error
		}{
			{"no room is invalid", owner.ID, 0, store.ErrInvalid},
			{"negative room is invalid", owner.ID, -5, store.ErrInvalid},
			{"unknown owner", owner.ID + 1, 10, store.ErrUserNotFound},
			{"room for the owner alone", owner.ID, 1, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := g.CreateGroup(t.Context(), tc.owner, "g", "", tc.max)
				checkErr(t, "create group", err, tc.want)
			})
		}
	})
}

func TestGroupNotFound(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newGroupFixture(t, e, 10)
		ctx := t.Context()
		unknown := f.grp.ID + 1
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"group unknown", func() error { _, err := f.g.Group(ctx, unknown); return err }},
			{"group for member of unknown group", func() error { _, _, err := f.g.GroupForMember(ctx, unknown, f.owner.ID); return err }},
			{"group for member of an outsider", func() error { _, _, err := f.g.GroupForMember(ctx, f.grp.ID, f.outsider.ID); return err }},
			{"members of unknown group", func() error { _, err := f.g.GroupMembers(ctx, unknown); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				checkErr(t, tc.name, tc.call(), store.ErrGroupNotFound)
			})
		}
		t.Run("member ids of unknown group are empty", func(t *testing.T) {
			ids, err := f.g.MemberIDs(ctx, unknown)
			checkErr(t, "member ids", err, nil)
			if ids == nil || len(ids) != 0 {
				t.Fatalf("member ids: got %#v, want an empty slice", ids)
			}
		})
		t.Run("groups of an outsider are empty", func(t *testing.T) {
			groups, err := f.g.UserGroups(ctx, f.outsider.ID)
			checkErr(t, "user groups", err, nil)
			if groups == nil || len(groups) != 0 {
				t.Fatalf("user groups: got %#v, want an empty slice", groups)
			}
		})
	})
}

func TestGroupMembersOrder(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		var us []store.User
		for i := range 5 {
			us = append(us, mkUser(t, g, fmt.Sprint("u", i)))
		}
		// The owner has the highest id and admins are not the lowest ids, so
		// only ordering by role first gives this order.
		grp, err := g.CreateGroup(t.Context(), us[4].ID, "team", "", 10)
		checkErr(t, "create group", err, nil)
		for _, u := range us[:4] {
			_, _, err := g.AddMember(t.Context(), us[4].ID, grp.ID, u.Username)
			checkErr(t, "add "+u.Username, err, nil)
		}
		for _, u := range []store.User{us[3], us[1]} {
			_, _, err := g.SetRole(t.Context(), us[4].ID, grp.ID, u.ID, store.RoleAdmin)
			checkErr(t, "make admin "+u.Username, err, nil)
		}
		checkRoles(t, g, grp.ID,
			member(us[4], store.RoleOwner),
			member(us[1], store.RoleAdmin), member(us[3], store.RoleAdmin),
			member(us[0], store.RoleMember), member(us[2], store.RoleMember))

		ids, err := g.MemberIDs(t.Context(), grp.ID)
		checkErr(t, "member ids", err, nil)
		want := []store.UserID{us[0].ID, us[1].ID, us[2].ID, us[3].ID, us[4].ID}
		if !slices.Equal(ids, want) {
			t.Fatalf("member ids: got %v, want %v", ids, want)
		}
	})
}

func TestUserGroupsCounts(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		a, b, c := mkUser(t, g, "ann"), mkUser(t, g, "ben"), mkUser(t, g, "cat")
		g1, err := g.CreateGroup(t.Context(), a.ID, "one", "", 10)
		checkErr(t, "create one", err, nil)
		g2, err := g.CreateGroup(t.Context(), b.ID, "two", "", 10)
		checkErr(t, "create two", err, nil)
		_, g2, err = g.AddMember(t.Context(), b.ID, g2.ID, "ann")
		checkErr(t, "add ann to two", err, nil)
		_, g2, err = g.AddMember(t.Context(), b.ID, g2.ID, "cat")
		checkErr(t, "add cat to two", err, nil)
		if g2.MemberCount != 3 {
			t.Fatalf("two after adds: member count %d, want 3", g2.MemberCount)
		}
		groups, err := g.UserGroups(t.Context(), a.ID)
		checkErr(t, "ann's groups", err, nil)
		if want := []store.Group{g1, g2}; !slices.Equal(groups, want) {
			t.Fatalf("ann's groups: got %+v, want %+v", groups, want)
		}
		groups, err = g.UserGroups(t.Context(), c.ID)
		checkErr(t, "cat's groups", err, nil)
		if want := []store.Group{g2}; !slices.Equal(groups, want) {
			t.Fatalf("cat's groups: got %+v, want %+v", groups, want)
		}
	})
}

func TestAddMember(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		for _, tc := range []struct {
			name     string
			max      int
			actor    func(f *groupFixture) store.UserID
			group    func(f *groupFixture) store.GroupID
			username string
			want     error
		}{
			{name: "owner adds", max: 10, username: "newbie"},
			{name: "admin adds", max: 10, actor: func(f *groupFixture) store.UserID { return f.admin.ID }, username: "newbie"},
			{name: "username in any case", max: 10, username: "NewBie"},
			{name: "last slot", max: 4, username: "newbie"},
			{name: "member may not", max: 10, actor: func(f *groupFixture) store.UserID { return f.member.ID }, username: "newbie", want: store.ErrNotAllowed},
			{name: "outsider finds no group", max: 10, actor: func(f *groupFixture) store.UserID { return f.outsider.ID }, username: "newbie", want: store.ErrGroupNotFound},
			{name: "unknown group", max: 10, group: func(f *groupFixture) store.GroupID { return f.grp.ID + 1 }, username: "newbie", want: store.ErrGroupNotFound},
			{name: "unknown user", max: 10, username: "nobody", want: store.ErrUserNotFound},
			{name: "already member", max: 10, username: "Member", want: store.ErrAlreadyMember},
			{name: "owner already member", max: 10, username: "owner", want: store.ErrAlreadyMember},
			{name: "full", max: 3, username: "newbie", want: store.ErrGroupFull},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newGroupFixture(t, e, tc.max)
				newbie := mkUser(t, f.g, "newbie")
				actor, gid := f.owner.ID, f.grp.ID
				if tc.actor != nil {
					actor = tc.actor(f)
				}
				if tc.group != nil {
					gid = tc.group(f)
				}
				m, grp, err := f.g.AddMember(t.Context(), actor, gid, tc.username)
				checkErr(t, "add member", err, tc.want)
				wantCount := 3
				if tc.want == nil {
					wantCount = 4
					if want := member(newbie, store.RoleMember); m != want {
						t.Fatalf("add member: got %+v, want %+v", m, want)
					}
					want := f.grp
					want.MemberCount = wantCount
					if grp != want {
						t.Fatalf("add member: group %+v, want %+v", grp, want)
					}
				}
				ids, err := f.g.MemberIDs(t.Context(), f.grp.ID)
				checkErr(t, "member ids", err, nil)
				if len(ids) != wantCount {
					t.Fatalf("members after: got %v, want %d", ids, wantCount)
				}
			})
		}
	})
}

// TestAddMemberConcurrentLastSlots races more adders than free slots: the
// count check and the insert share a write transaction, so the group ends
// exactly full and every other add is ErrGroupFull.
func TestAddMemberConcurrentLastSlots(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		const maxMembers, adders = 5, 16
		g := e.NewGraph(t)
		owner := mkUser(t, g, "owner")
		grp, err := g.CreateGroup(t.Context(), owner.ID, "team", "", maxMembers)
		checkErr(t, "create group", err, nil)
		var names []string
		for i := range adders {
			names = append(names, mkUser(t, g, fmt.Sprint("user", i)).Username)
		}
		errs := make([]error, adders)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() {
				<-start
				_, _, errs[i] = g.AddMember(t.Context(), owner.ID, grp.ID, name)
			})
		}
		close(start)
		wg.Wait()
		added := 0
		for i, err := range errs {
			if err == nil {
				added++
				continue
			}
			checkErr(t, "add "+names[i], err, store.ErrGroupFull)
		}
		if added != maxMembers-1 {
			t.Fatalf("added: got %d, want %d", added, maxMembers-1)
		}
		got, err := g.Group(t.Context(), grp.ID)
		checkErr(t, "group", err, nil)
		if got.MemberCount != maxMembers {
			t.Fatalf("member count: got %d, want %d", got.MemberCount, maxMembers)
		}
	})
}
