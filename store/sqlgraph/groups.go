package sqlgraph

import (
	"context"

	"webchat/store"
)

// groupCols are the columns of a Group, in scanGroup's order, from a
// chat_groups table aliased g. The member count is counted, not stored: it
// reads a prefix of group_members' primary key (at most max_members rows)
// and can never drift from the member rows.
const groupCols = `g.id, g.name, g.brief, g.owner_id, g.max_members,
	(SELECT COUNT(*) FROM group_members c WHERE c.group_id = g.id)`

func scanGroup(s rowScanner, extra ...any) (store.Group, error) {
	var g store.Group
	dest := append([]any{&g.ID, &g.Name, &g.Brief, &g.OwnerID, &g.MaxMembers, &g.MemberCount}, extra...)
	if err := s.Scan(dest...); err != nil {
		return store.Group{}, err
	}
	g.Conv = store.GroupConv(g.ID).String()
	return g, nil
}

// CreateGroup creates a group owned by owner, who becomes its first member
// with role owner. maxMembers counts the owner and must be at least 1
// (the gateway allows 2 to 2,000); an unknown owner is ErrUserNotFound.
// Validating the name and brief is the caller's job.
func (g *Graph) CreateGroup(ctx context.Context, owner store.UserID, name, brief string, maxMembers int) (store.Group, error) {
	if maxMembers < 1 {
		return store.Group{}, errInvalidMaxMembers
	}
	grp := store.Group{Name: name, Brief: brief, OwnerID: owner, MaxMembers: maxMembers, MemberCount: 1}
	err := g.inTx(ctx, "create group", func(r runner) error {
		if _, err := userByID(ctx, r, owner); err != nil {
			return err
		}
		t := nowMS()
		if err := r.row(ctx,
			`INSERT INTO chat_groups (name, brief, owner_id, max_members, created_at)
			 VALUES (?, ?, ?, ?, ?) RETURNING id`,
			name, brief, owner, maxMembers, t).Scan(&grp.ID); err != nil {
			return err
		}
		_, err := r.exec(ctx,
			`INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`,
			grp.ID, owner, store.RoleOwner, t)
		return err
	})
	if err != nil {
		return store.Group{}, err
	}
	grp.Conv = store.GroupConv(grp.ID).String()
	return grp, nil
}

// Group returns a group with its member count; an unknown id is
// ErrGroupNotFound. It does not check who asks: see GroupForMember.
func (g *Graph) Group(ctx context.Context, gid store.GroupID) (store.Group, error) {
	grp, err := groupByID(ctx, g.pool(), gid)
	if err != nil {
		return store.Group{}, classify("group", err)
	}
	return grp, nil
}

// GroupForMember returns a group and uid's role in it. A group that does not
// exist and one uid is not a member of are both ErrGroupNotFound, so nobody
// learns which groups exist by asking.
func (g *Graph) GroupForMember(ctx context.Context, gid store.GroupID, uid store.UserID) (store.Group, store.Role, error) {
	grp, role, err := groupForMember(ctx, g.pool(), gid, uid)
	if err != nil {
		return store.Group{}, "", classify("group for member", err)
	}
	return grp, role, nil
}

// GroupMembers returns a group's members: the owner, then admins, then
// members, each rank by user id. An unknown group is ErrGroupNotFound (a
// group always has its owner, so no rows means no group).
func (g *Graph) GroupMembers(ctx context.Context, gid store.GroupID) ([]store.Member, error) {
	const op = "group members"
	rows, err := g.pool().query(ctx,
		`SELECT `+userCols+`, m.role FROM group_members m JOIN users u ON u.id = m.user_id
		 WHERE m.group_id = ?
		 ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.id`, gid)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	var members []store.Member
	for rows.Next() {
		var m store.Member
		if err := rows.Scan(&m.ID, &m.Username, &m.DisplayName, &m.Role); err != nil {
			return nil, unavailable(op, err)
		}
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	if len(members) == 0 {
		return nil, store.ErrGroupNotFound
	}
	return members, nil
}

// MemberIDs returns the ids of a group's members in id order, for the message
// plane to rebuild a group's members key. An unknown group has no members:
// an empty, non-nil slice and no error, so a deleted group rebuilds as a
// group nobody may write to.
func (g *Graph) MemberIDs(ctx context.Context, gid store.GroupID) ([]store.UserID, error) {
	const op = "member ids"
	rows, err := g.pool().query(ctx,
		`SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id`, gid)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	ids := []store.UserID{}
	for rows.Next() {
		var id store.UserID
		if err := rows.Scan(&id); err != nil {
			return nil, unavailable(op, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return ids, nil
}

// UserGroups returns the groups uid is a member of, in id order, with their
// member counts; never nil.
func (g *Graph) UserGroups(ctx context.Context, uid store.UserID) ([]store.Group, error) {
	const op = "user groups"
	rows, err := g.pool().query(ctx,
		`SELECT `+groupCols+` FROM group_members m JOIN chat_groups g ON g.id = m.group_id
		 WHERE m.user_id = ? ORDER BY g.id`, uid)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	groups := []store.Group{}
	for rows.Next() {
		grp, err := scanGroup(rows)
		if err != nil {
			return nil, unavailable(op, err)
		}
		groups = append(groups, grp)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return groups, nil
}

// GroupByID returns a group with its member count; an unknown one is
// ErrGroupNotFound.
func (g *Graph) GroupByID(ctx context.Context, gid store.GroupID) (store.Group, error) {
	grp, err := groupByID(ctx, g.pool(), gid)
	if err != nil {
		return store.Group{}, classify("group by id", err)
	}
	return grp, nil
}

// groupByID returns ErrGroupNotFound or a raw database error.
func groupByID(ctx context.Context, r runner, gid store.GroupID) (store.Group, error) {
	grp, err := scanGroup(r.row(ctx, `SELECT `+groupCols+` FROM chat_groups g WHERE g.id = ?`, gid))
	return grp, notFound(err, store.ErrGroupNotFound)
}

// groupForMember returns ErrGroupNotFound (no group, or uid not in it) or a
// raw database error.
func groupForMember(ctx context.Context, r runner, gid store.GroupID, uid store.UserID) (store.Group, store.Role, error) {
	var role store.Role
	grp, err := scanGroup(r.row(ctx,
		`SELECT `+groupCols+`, m.role FROM group_members m JOIN chat_groups g ON g.id = m.group_id
		 WHERE m.group_id = ? AND m.user_id = ?`, gid, uid), &role)
	return grp, role, notFound(err, store.ErrGroupNotFound)
}

// memberOf returns uid as a member of gid, or sql.ErrNoRows for the caller
// to map: a missing actor and a missing target are different errors.
func memberOf(ctx context.Context, r runner, gid store.GroupID, uid store.UserID) (store.Member, error) {
	var m store.Member
	err := r.row(ctx,
		`SELECT `+userCols+`, m.role FROM group_members m JOIN users u ON u.id = m.user_id
		 WHERE m.group_id = ? AND m.user_id = ?`, gid, uid).
		Scan(&m.ID, &m.Username, &m.DisplayName, &m.Role)
	return m, err
}
