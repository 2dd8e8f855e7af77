package store

import (
	"context"
	"database/sql"
	"errors"
)

// RemoveResult is what RemoveMember did.
type RemoveResult struct {
	// Group is the group after the change; when Deleted, as it was, with
	// MemberCount 0.
	Group Group
	// Removed is the user who left or was removed.
	Removed User
	// Deleted reports that the last member left and the group is gone.
	Deleted bool
}

// AddMember adds the user named username (any case) to group gid as a
// member, on behalf of actor, and returns the new member and the group with
// its new count. The errors, checked in this order: actor not in the group
// (or no group) ErrGroupNotFound; actor only a member ErrNotAllowed; unknown
// username ErrUserNotFound; already in the group ErrAlreadyMember; group at
// max_members ErrGroupFull. The count and the insert are in one write
// transaction, so concurrent adds never overfill a group.
func (g *Graph) AddMember(ctx context.Context, actor UserID, gid GroupID, username string) (Member, Group, error) {
	var (
		m   Member
		grp Group
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
		return Member{}, Group{}, err
	}
	return m, grp, nil
}

// actingAdminAndTarget checks, in AddMember's order, that actor may add to
// gid and that username names someone who is not in it yet.
func actingAdminAndTarget(ctx context.Context, r runner, gid GroupID, actor UserID, username string) (User, error) {
	a, err := actingMember(ctx, r, gid, actor)
	if err != nil {
		return User{}, err
	}
	if a.Role.Rank() < RoleAdmin.Rank() {
		return User{}, ErrNotAllowed
	}
	u, err := userByUsername(ctx, r, username)
	if err != nil {
		return User{}, err
	}
	switch _, err := memberOf(ctx, r, gid, u.ID); {
	case err == nil:
		return User{}, ErrAlreadyMember
	case !errors.Is(err, sql.ErrNoRows):
		return User{}, err
	}
	return u, nil
}

// addMember inserts u into gid as a member unless the group is full, in
// the caller's transaction (which holds the group's row lock), and returns
// the member and the group with its new count.
func addMember(ctx context.Context, r runner, gid GroupID, u User) (Member, Group, error) {
	grp, err := groupByID(ctx, r, gid)
	if err != nil {
		return Member{}, Group{}, err
	}
	if grp.MemberCount >= grp.MaxMembers {
		return Member{}, Group{}, ErrGroupFull
	}
	if _, err := r.exec(ctx,
		`INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`,
		gid, u.ID, RoleMember, nowMS()); err != nil {
		if r.d.isUniqueViolation(err) {
			return Member{}, Group{}, ErrAlreadyMember
		}
		return Member{}, Group{}, err
	}
	grp.MemberCount++
	return Member{User: u, Role: RoleMember}, grp, nil
}

// SetRole sets target's role in group gid to admin or member, on behalf of
// actor, who must be the owner. RoleOwner transfers ownership: target
// becomes the owner (and the group's owner_id) and actor an admin. Errors:
// a role other than owner, admin or member is ErrInvalid; actor not in the
// group (or no group) ErrGroupNotFound; actor not the owner ErrNotAllowed;
// target == actor ErrSelf; target not in the group ErrMemberNotFound.
// Setting the role a member already has changes nothing and succeeds.
func (g *Graph) SetRole(ctx context.Context, actor UserID, gid GroupID, target UserID, role Role) (Member, Group, error) {
	if role.Rank() == 0 {
		return Member{}, Group{}, errInvalidRole
	}
	var (
		m   Member
		grp Group
	)
	err := g.inTx(ctx, "set role", func(r runner) error {
		a, err := actingMember(ctx, r, gid, actor)
		if err != nil {
			return err
		}
		if a.Role != RoleOwner {
			return ErrNotAllowed
		}
		if target == actor {
			return ErrSelf
		}
		if m, err = memberOf(ctx, r, gid, target); err != nil {
			return notFound(err, ErrMemberNotFound)
		}
		if role == RoleOwner {
			// Demote first: group_members_one_owner allows one owner
			// per group at every statement, not only at commit.
			if err := setRole(ctx, r, gid, actor, RoleAdmin); err != nil {
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
		return Member{}, Group{}, err
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
func (g *Graph) RemoveMember(ctx context.Context, actor UserID, gid GroupID, target UserID) (RemoveResult, error) {
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
				if _, err := r.exec(ctx, `DELETE FROM group_members WHERE group_id = ?`, gid); err != nil {
					return err
				}
				if _, err := r.exec(ctx, `DELETE FROM chat_groups WHERE id = ?`, gid); err != nil {
					return err
				}
				grp.MemberCount = 0
				res = RemoveResult{Group: grp, Removed: a.User, Deleted: true}
				return nil
			}
			if a.Role == RoleOwner {
				return ErrOwnerMustTransfer
			}
		} else {
			if a.Role.Rank() < RoleAdmin.Rank() {
				return ErrNotAllowed
			}
			if victim, err = memberOf(ctx, r, gid, target); err != nil {
				return notFound(err, ErrMemberNotFound)
			}
			if a.Role.Rank() <= victim.Role.Rank() {
				return ErrNotAllowed
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
func actingMember(ctx context.Context, r runner, gid GroupID, actor UserID) (Member, error) {
	res, err := r.exec(ctx, `UPDATE chat_groups SET owner_id = owner_id WHERE id = ?`, gid)
	if err != nil {
		return Member{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return Member{}, err
	} else if n == 0 {
		return Member{}, ErrGroupNotFound
	}
	m, err := memberOf(ctx, r, gid, actor)
	return m, notFound(err, ErrGroupNotFound)
}

func setRole(ctx context.Context, r runner, gid GroupID, uid UserID, role Role) error {
	_, err := r.exec(ctx, `UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?`, role, gid, uid)
	return err
}
