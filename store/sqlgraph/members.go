package sqlgraph

import (
	"context"
	"database/sql"
	"errors"

	"webchat/store"
)

// RemoveResult is what RemoveMember did.
type RemoveResult struct {
	// Group is the group after the change; when Deleted, as it was, with
	// MemberCount 0.
	Group store.Group
	// Removed is the user who left or was removed.
	Removed store.User
	// Deleted reports that the last member left and the group is gone.
	Deleted bool
	// Cancelled are the invitations that went with a deleted group.
	Cancelled []store.GroupInvite
}

// AddMember adds the user named username (any case) to group gid as a
// member, on behalf of actor, and returns the new member and the group with
// its new count. The errors, checked in this order: actor not in the group
// (or no group) ErrGroupNotFound; actor only a member ErrNotAllowed; unknown
// username ErrUserNotFound; already in the group ErrAlreadyMember; group at
// max_members ErrGroupFull. The count and the insert are in one write
// transaction, so concurrent adds never overfill a group.
func (g *Graph) AddMember(ctx context.Context, actor store.UserID, gid store.GroupID, username string) (store.Member, store.Group, error) {
	var (
		m   store.Member
		grp store.Group
	)
	err := g.inTx(ctx, "add member", func(r runner) error {
		u, err := actingAdminAndTarget(ctx, r, gid, actor, username)
		if err != nil {
			return err
		}
		m, grp, err = addMember(ctx, r, gid, u)
		return err
	})
	if err != nil {
		return store.Member{}, store.Group{}, err
	}
	return m, grp, nil
}

// actingAdminAndTarget checks, in AddMember's order, that actor may add to
// gid and that username names someone who is not in it yet.
func actingAdminAndTarget(ctx context.Context, r runner, gid store.GroupID, actor store.UserID, username string) (store.User, error) {
	a, err := actingMember(ctx, r, gid, actor)
	if err != nil {
		return store.User{}, err
	}
	if a.Role.Rank() < store.RoleAdmin.Rank() {
		return store.User{}, store.ErrNotAllowed
	}
	u, err := userByUsername(ctx, r, username)
	if err != nil {
		return store.User{}, err
	}
	switch _, err := memberOf(ctx, r, gid, u.ID); {
	case err == nil:
		return store.User{}, store.ErrAlreadyMember
	case !errors.Is(err, sql.ErrNoRows):
		return store.User{}, err
	}
	return u, nil
}

// addMember inserts u into gid as a member unless the group is full, in
// the caller's transaction (which holds the group's row lock), and returns
// the member and the group with its new count.
func addMember(ctx context.Context, r runner, gid store.GroupID, u store.User) (store.Member, store.Group, error) {
	grp, err := groupByID(ctx, r, gid)
	if err != nil {
		return store.Member{}, store.Group{}, err
	}
	if grp.MemberCount >= grp.MaxMembers {
		return store.Member{}, store.Group{}, store.ErrGroupFull
	}
	if _, err := r.exec(ctx,
		`INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`,
		gid, u.ID, store.RoleMember, nowMS()); err != nil {
		if r.d.isUniqueViolation(err) {
			return store.Member{}, store.Group{}, store.ErrAlreadyMember
		}
		return store.Member{}, store.Group{}, err
	}
	// A member needs no invitation: one still pending would let them back
	// in after a removal.
	if _, err := r.exec(ctx, `DELETE FROM group_invites WHERE group_id = ? AND to_id = ?`, gid, u.ID); err != nil {
		return store.Member{}, store.Group{}, err
	}
	grp.MemberCount++
	return store.Member{User: u, Role: store.RoleMember}, grp, nil
}

// SetRole sets target's role in group gid to admin or member, on behalf of
// actor, who must be the owner. RoleOwner transfers ownership: target
// becomes the owner (and the group's owner_id) and actor an admin. Errors:
// a role other than owner, admin or member is ErrInvalid; actor not in the
// group (or no group) ErrGroupNotFound; actor not the owner ErrNotAllowed;
// target == actor ErrSelf; target not in the group ErrMemberNotFound.
// Setting the role a member already has changes nothing and succeeds.
func (g *Graph) SetRole(ctx context.Context, actor store.UserID, gid store.GroupID, target store.UserID, role store.Role) (store.Member, store.Group, error) {
	if role.Rank() == 0 {
		return store.Member{}, store.Group{}, errInvalidRole
	}
	var (
		m   store.Member
		grp store.Group
	)
	err := g.inTx(ctx, "set role", func(r runner) error {
		a, err := actingMember(ctx, r, gid, actor)
		if err != nil {
			return err
		}
		if a.Role != store.RoleOwner {
			return store.ErrNotAllowed
		}
		if target == actor {
			return store.ErrSelf
		}
		if m, err = memberOf(ctx, r, gid, target); err != nil {
			return notFound(err, store.ErrMemberNotFound)
		}
		if role == store.RoleOwner {
			// Demote first: group_members_one_owner allows one owner
			// per group at every statement, not only at commit.
			if err := setRole(ctx, r, gid, actor, store.RoleAdmin); err != nil {
				return err
			}
			if _, err := r.exec(ctx, `UPDATE chat_groups SET owner_id = ? WHERE id = ?`, target, gid); err != nil {
				return err
			}
		}
		if m.Role != role {
			if err := setRole(ctx, r, gid, target, role); err != nil {
				return err
			}
			m.Role = role
		}
		grp, err = groupByID(ctx, r, gid)
		return err
	})
	if err != nil {
		return store.Member{}, store.Group{}, err
	}
	return m, grp, nil
}

// RemoveMember takes target out of group gid on behalf of actor.
//
// actor == target is leaving: anyone may leave, except the owner while
// others remain (ErrOwnerMustTransfer); the last member leaving deletes the
// group (Deleted). Otherwise actor must be an owner or admin ranking
// strictly above target (an admin cannot remove an admin), else
// ErrNotAllowed. Actor not in the group (or no group) is ErrGroupNotFound;
// target not in it ErrMemberNotFound.
func (g *Graph) RemoveMember(ctx context.Context, actor store.UserID, gid store.GroupID, target store.UserID) (RemoveResult, error) {
	var res RemoveResult
	err := g.inTx(ctx, "remove member", func(r runner) error {
		a, err := actingMember(ctx, r, gid, actor)
		if err != nil {
			return err
		}
		grp, err := groupByID(ctx, r, gid)
		if err != nil {
			return err
		}
		victim := a
		if target == actor {
			if grp.MemberCount <= 1 {
				// The last one out: nobody could ever join again.
				// Its invitations go with it (ON DELETE CASCADE): say to whom.
				invitees, err := invitationsOf(ctx, r, gid)
				if err != nil {
					return err
				}
				if _, err := r.exec(ctx, `DELETE FROM group_members WHERE group_id = ?`, gid); err != nil {
					return err
				}
				if _, err := r.exec(ctx, `DELETE FROM chat_groups WHERE id = ?`, gid); err != nil {
					return err
				}
				grp.MemberCount = 0
				res = RemoveResult{Group: grp, Removed: a.User, Deleted: true, Cancelled: invitees}
				return nil
			}
			if a.Role == store.RoleOwner {
				return store.ErrOwnerMustTransfer
			}
		} else {
			if a.Role.Rank() < store.RoleAdmin.Rank() {
				return store.ErrNotAllowed
			}
			if victim, err = memberOf(ctx, r, gid, target); err != nil {
				return notFound(err, store.ErrMemberNotFound)
			}
			if a.Role.Rank() <= victim.Role.Rank() {
				return store.ErrNotAllowed
			}
		}
		if _, err := r.exec(ctx, `DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, gid, target); err != nil {
			return err
		}
		grp.MemberCount--
		res = RemoveResult{Group: grp, Removed: victim.User}
		return nil
	})
	if err != nil {
		return RemoveResult{}, err
	}
	return res, nil
}

// actingMember locks group gid for the rest of the transaction and returns
// actor's membership; ErrGroupNotFound if there is no such group or actor is
// not in it. The lock is a no-op update of the group's row: on SQLite the
// transaction already holds the database's write lock, but on PostgreSQL it
// is what serializes concurrent changes to one group, so AddMember's count
// and a transfer's owner check cannot go stale before commit.
func actingMember(ctx context.Context, r runner, gid store.GroupID, actor store.UserID) (store.Member, error) {
	res, err := r.exec(ctx, `UPDATE chat_groups SET owner_id = owner_id WHERE id = ?`, gid)
	if err != nil {
		return store.Member{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.Member{}, err
	} else if n == 0 {
		return store.Member{}, store.ErrGroupNotFound
	}
	m, err := memberOf(ctx, r, gid, actor)
	return m, notFound(err, store.ErrGroupNotFound)
}

func setRole(ctx context.Context, r runner, gid store.GroupID, uid store.UserID, role store.Role) error {
	_, err := r.exec(ctx, `UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?`, role, gid, uid)
	return err
}
