package sqlgraph_test

import (
	"cmp"
	"slices"
	"testing"

	"webchat/store/sqlgraph"

	"webchat/store"
	"webchat/store/storetest"
)

// who picks one of a fixture's users.
type who func(f *groupFixture) store.User

var (
	theOwner    who = func(f *groupFixture) store.User { return f.owner }
	theAdmin    who = func(f *groupFixture) store.User { return f.admin }
	theMember   who = func(f *groupFixture) store.User { return f.member }
	theOutsider who = func(f *groupFixture) store.User { return f.outsider }
)

func TestSetRole(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		for _, tc := range []struct {
			name          string
			actor, target who
			role          store.Role
			unknownGroup  bool
			want          error
		}{
			{name: "owner promotes a member", actor: theOwner, target: theMember, role: store.RoleAdmin},
			{name: "owner demotes an admin", actor: theOwner, target: theAdmin, role: store.RoleMember},
			{name: "same role changes nothing", actor: theOwner, target: theMember, role: store.RoleMember},
			{name: "admin may not", actor: theAdmin, target: theMember, role: store.RoleAdmin, want: store.ErrNotAllowed},
			{name: "member may not", actor: theMember, target: theMember, role: store.RoleAdmin, want: store.ErrNotAllowed},
			{name: "owner cannot change own role", actor: theOwner, target: theOwner, role: store.RoleMember, want: store.ErrSelf},
			{name: "target not in group", actor: theOwner, target: theOutsider, role: store.RoleAdmin, want: store.ErrMemberNotFound},
			{name: "outsider finds no group", actor: theOutsider, target: theMember, role: store.RoleAdmin, want: store.ErrGroupNotFound},
			{name: "unknown group", actor: theOwner, target: theMember, role: store.RoleAdmin, unknownGroup: true, want: store.ErrGroupNotFound},
			{name: "unknown role is invalid", actor: theOwner, target: theMember, role: "king", want: store.ErrInvalid},
			{name: "empty role is invalid", actor: theOwner, target: theMember, role: "", want: store.ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newGroupFixture(t, e, 10)
				gid := f.grp.ID
				if tc.unknownGroup {
					gid++
				}
				target := tc.target(f)
				m, grp, err := f.g.SetRole(t.Context(), tc.actor(f).ID, gid, target.ID, tc.role)
				checkErr(t, "set role", err, tc.want)
				admin, mem := store.RoleAdmin, store.RoleMember
				if tc.want == nil {
					if want := member(target, tc.role); m != want {
						t.Fatalf("set role: got %+v, want %+v", m, want)
					}
					if grp != f.grp {
						t.Fatalf("set role: group %+v, want %+v", grp, f.grp)
					}
					if target == f.member {
						mem = tc.role
					} else {
						admin = tc.role
					}
				}
				want := []store.Member{member(f.owner, store.RoleOwner), member(f.admin, admin), member(f.member, mem)}
				slices.SortFunc(want, func(a, b store.Member) int {
					return cmp.Or(b.Role.Rank()-a.Role.Rank(), cmp.Compare(a.ID, b.ID))
				})
				checkRoles(t, f.g, f.grp.ID, want...)
			})
		}
	})
}

func TestSetRoleTransfersOwnership(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newGroupFixture(t, e, 10)
		m, grp, err := f.g.SetRole(t.Context(), f.owner.ID, f.grp.ID, f.member.ID, store.RoleOwner)
		checkErr(t, "transfer", err, nil)
		if want := member(f.member, store.RoleOwner); m != want {
			t.Fatalf("transfer: got %+v, want %+v", m, want)
		}
		want := f.grp
		want.OwnerID = f.member.ID
		if grp != want {
			t.Fatalf("transfer: group %+v, want %+v", grp, want)
		}
		checkRoles(t, f.g, f.grp.ID,
			member(f.member, store.RoleOwner),
			member(f.owner, store.RoleAdmin), member(f.admin, store.RoleAdmin))

		// The old owner is an admin now: no more role changes, and free to leave.
		_, _, err = f.g.SetRole(t.Context(), f.owner.ID, f.grp.ID, f.admin.ID, store.RoleMember)
		checkErr(t, "old owner sets a role", err, store.ErrNotAllowed)
		_, err = f.g.RemoveMember(t.Context(), f.owner.ID, f.grp.ID, f.owner.ID)
		checkErr(t, "old owner leaves", err, nil)
		// The new owner may transfer again.
		_, grp, err = f.g.SetRole(t.Context(), f.member.ID, f.grp.ID, f.admin.ID, store.RoleOwner)
		checkErr(t, "transfer back", err, nil)
		if grp.OwnerID != f.admin.ID {
			t.Fatalf("transfer back: owner %d, want %d", grp.OwnerID, f.admin.ID)
		}
	})
}

func TestRemoveMember(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		for _, tc := range []struct {
			name          string
			actor, target who
			unknownGroup  bool
			want          error
		}{
			{name: "member leaves", actor: theMember, target: theMember},
			{name: "admin leaves", actor: theAdmin, target: theAdmin},
			{name: "owner removes admin", actor: theOwner, target: theAdmin},
			{name: "owner removes member", actor: theOwner, target: theMember},
			{name: "admin removes member", actor: theAdmin, target: theMember},
			{name: "owner cannot leave while others remain", actor: theOwner, target: theOwner, want: store.ErrOwnerMustTransfer},
			{name: "admin may not remove owner", actor: theAdmin, target: theOwner, want: store.ErrNotAllowed},
			{name: "member may not remove member", actor: theMember, target: theAdmin, want: store.ErrNotAllowed},
			{name: "member may not remove owner", actor: theMember, target: theOwner, want: store.ErrNotAllowed},
			{name: "target not in group", actor: theOwner, target: theOutsider, want: store.ErrMemberNotFound},
			{name: "outsider finds no group", actor: theOutsider, target: theMember, want: store.ErrGroupNotFound},
			{name: "outsider leaving finds no group", actor: theOutsider, target: theOutsider, want: store.ErrGroupNotFound},
			{name: "unknown group", actor: theOwner, target: theMember, unknownGroup: true, want: store.ErrGroupNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newGroupFixture(t, e, 10)
				gid := f.grp.ID
				if tc.unknownGroup {
					gid++
				}
				target := tc.target(f)
				res, err := f.g.RemoveMember(t.Context(), tc.actor(f).ID, gid, target.ID)
				checkErr(t, "remove member", err, tc.want)
				wantCount := 3
				if tc.want == nil {
					wantCount = 2
					want := f.grp
					want.MemberCount = wantCount
					if res.Group != want || res.Removed != target || res.Deleted || res.Cancelled != nil {
						t.Fatalf("remove member: got %+v, want group %+v and removed %+v", res, want, target)
					}
					_, _, err := f.g.GroupForMember(t.Context(), f.grp.ID, target.ID)
					checkErr(t, "group for removed member", err, store.ErrGroupNotFound)
				}
				grp, err := f.g.Group(t.Context(), f.grp.ID)
				checkErr(t, "group", err, nil)
				if grp.MemberCount != wantCount {
					t.Fatalf("member count after: got %d, want %d", grp.MemberCount, wantCount)
				}
			})
		}
	})
}

func TestAdminMayNotRemoveAdmin(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newGroupFixture(t, e, 10)
		_, _, err := f.g.SetRole(t.Context(), f.owner.ID, f.grp.ID, f.member.ID, store.RoleAdmin)
		checkErr(t, "make second admin", err, nil)
		_, err = f.g.RemoveMember(t.Context(), f.admin.ID, f.grp.ID, f.member.ID)
		checkErr(t, "admin removes admin", err, store.ErrNotAllowed)
	})
}

func TestLastMemberLeavingDeletesGroup(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		owner, other := mkUser(t, g, "owner"), mkUser(t, g, "other")
		grp, err := g.CreateGroup(t.Context(), owner.ID, "solo", "", 10)
		checkErr(t, "create group", err, nil)
		_, _, err = g.AddMember(t.Context(), owner.ID, grp.ID, "other")
		checkErr(t, "add other", err, nil)
		_, err = g.RemoveMember(t.Context(), owner.ID, grp.ID, other.ID)
		checkErr(t, "remove other", err, nil)

		res, err := g.RemoveMember(t.Context(), owner.ID, grp.ID, owner.ID)
		checkErr(t, "owner leaves last", err, nil)
		want := grp
		want.MemberCount = 0
		if res.Group != want || res.Removed != owner || !res.Deleted || len(res.Cancelled) != 0 {
			t.Fatalf("owner leaves last: got %+v, want deleted %+v", res, want)
		}
		_, err = g.Group(t.Context(), grp.ID)
		checkErr(t, "deleted group", err, store.ErrGroupNotFound)
		ids, err := g.MemberIDs(t.Context(), grp.ID)
		checkErr(t, "member ids of deleted group", err, nil)
		if len(ids) != 0 {
			t.Fatalf("member ids of deleted group: got %v, want none", ids)
		}
		groups, err := g.UserGroups(t.Context(), owner.ID)
		checkErr(t, "owner's groups", err, nil)
		if len(groups) != 0 {
			t.Fatalf("owner's groups: got %+v, want none", groups)
		}
		// A new group must not inherit the deleted one's id: Redis keys (its
		// history) are named after it.
		next, err := g.CreateGroup(t.Context(), owner.ID, "next", "", 10)
		checkErr(t, "create next group", err, nil)
		if next.ID == grp.ID {
			t.Fatalf("new group reused the deleted group's id %d", grp.ID)
		}
	})
}
