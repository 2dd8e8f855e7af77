package sqlgraph

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"webchat/store"
)

const inviteSelect = `SELECT i.id, i.created_at, ` + groupCols + `,
	f.id, f.username, f.display_name, t.id, t.username, t.display_name
	FROM group_invites i
	JOIN chat_groups g ON g.id = i.group_id
	JOIN users f ON f.id = i.from_id
	JOIN users t ON t.id = i.to_id`

// InviteLifetime is how long an invitation can be accepted.
const InviteLifetime = 30 * 24 * time.Hour

// inviteLive is the condition on inviteSelect's rows of an invitation that
// can still be accepted: not older than InviteLifetime, and whoever made it
// still an owner or admin of the group (an admin who is demoted or leaves
// takes their invitations' authority along).
const inviteLive = ` i.created_at > ? AND EXISTS (SELECT 1 FROM group_members a
	WHERE a.group_id = i.group_id AND a.user_id = i.from_id AND a.role IN ('owner', 'admin'))`

func liveSince() int64 { return time.Now().Add(-InviteLifetime).UnixMilli() }

func scanInvite(s rowScanner) (store.GroupInvite, error) {
	var iv store.GroupInvite
	g := &iv.Group
	err := s.Scan(&iv.ID, &iv.CreatedAt, &g.ID, &g.Name, &g.Brief, &g.OwnerID, &g.MaxMembers, &g.MemberCount,
		&iv.From.ID, &iv.From.Username, &iv.From.DisplayName, &iv.To.ID, &iv.To.Username, &iv.To.DisplayName)
	g.Conv = store.GroupConv(g.ID).String()
	return iv, err
}

// AddResult is what AddOrInvite did: Member is set when the user was added,
// Invite when they were invited (Created false when the invitation existed
// already).
type AddResult struct {
	Member  *store.Member
	Invite  *store.GroupInvite
	Group   store.Group
	Created bool
}

// AddOrInvite adds the user named username to group gid on behalf of
// actor, who must be its owner or an admin, if they are actor's friend;
// anyone else is invited (their consent makes them a member, so nobody
// can fill a stranger's devices with a group they never chose). The errors
// are AddMember's, for an invitation too: nobody is invited to a full
// group, nor someone who is a member.
func (g *Graph) AddOrInvite(ctx context.Context, actor store.UserID, gid store.GroupID, username string) (AddResult, error) {
	var res AddResult
	err := g.inTx(ctx, "add or invite member", func(r runner) error {
		u, err := actingAdminAndTarget(ctx, r, gid, actor, username)
		if err != nil {
			return err
		}
		friends, err := areFriends(ctx, r, store.DirectConv(actor, u.ID))
		if err != nil {
			return err
		}
		if friends {
			m, grp, err := addMember(ctx, r, gid, u)
			res.Member, res.Group, res.Created = &m, grp, true
			return err
		}
		if res.Group, err = groupByID(ctx, r, gid); err != nil {
			return err
		}
		if res.Group.MemberCount >= res.Group.MaxMembers {
			return store.ErrGroupFull
		}
		// One invitation per person and group: asking again answers it, and
		// one that can no longer be accepted is made anew, as actor's.
		var id int64
		switch err := r.row(ctx, `SELECT id FROM group_invites WHERE group_id = ? AND to_id = ?`, gid, u.ID).Scan(&id); {
		case errors.Is(err, sql.ErrNoRows):
			if err := r.row(ctx,
				`INSERT INTO group_invites (group_id, from_id, to_id, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
				gid, actor, u.ID, nowMS()).Scan(&id); err != nil {
				return err
			}
			res.Created = true
		case err != nil:
			return err
		default:
			var live bool
			if err := r.row(ctx, `SELECT COUNT(*) > 0 FROM group_invites i WHERE i.id = ? AND`+inviteLive, id, liveSince()).Scan(&live); err != nil {
				return err
			}
			if !live {
				if _, err := r.exec(ctx, `UPDATE group_invites SET from_id = ?, created_at = ? WHERE id = ?`, actor, nowMS(), id); err != nil {
					return err
				}
				res.Created = true
			}
		}
		iv, err := scanInvite(r.row(ctx, inviteSelect+` WHERE i.id = ?`, id))
		res.Invite = &iv
		return err
	})
	if err != nil {
		return AddResult{}, err
	}
	return res, nil
}

// GroupInvites returns the invitations waiting for uid's answer, oldest
// first; never nil.
func (g *Graph) GroupInvites(ctx context.Context, uid store.UserID) ([]store.GroupInvite, error) {
	const op = "group invites"
	rows, err := g.pool().query(ctx, inviteSelect+` WHERE i.to_id = ? AND`+inviteLive+` ORDER BY i.id`, uid, liveSince())
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	out := []store.GroupInvite{}
	for rows.Next() {
		iv, err := scanInvite(rows)
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, iv)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return out, nil
}

// AcceptInvite makes uid a member of the group that invitation id (which
// must be uid's) is for, and deletes it. Errors: ErrInviteNotFound;
// ErrGroupFull, which keeps the invitation for later; an invitee who is a
// member already (added meanwhile) gets the membership they have, and the
// invitation goes.
func (g *Graph) AcceptInvite(ctx context.Context, uid store.UserID, id int64) (store.Member, store.Group, store.GroupInvite, error) {
	var (
		m   store.Member
		grp store.Group
		iv  store.GroupInvite
	)
	err := g.inTx(ctx, "accept group invite", func(r runner) error {
		var err error
		if iv, err = takeInvite(ctx, r, id, ` AND i.to_id = ? AND`+inviteLive, uid, liveSince()); err != nil {
			return err
		}
		// The group's row lock, as for any change of its members.
		if _, err := r.exec(ctx, `UPDATE chat_groups SET owner_id = owner_id WHERE id = ?`, iv.Group.ID); err != nil {
			return err
		}
		if m, err = memberOf(ctx, r, iv.Group.ID, uid); err == nil {
			grp, err = groupByID(ctx, r, iv.Group.ID)
			return err
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		m, grp, err = addMember(ctx, r, iv.Group.ID, iv.To)
		return err
	})
	if err != nil {
		return store.Member{}, store.Group{}, store.GroupInvite{}, err
	}
	return m, grp, iv, nil
}

// DeclineInvite deletes invitation id, which must be uid's, and returns it.
func (g *Graph) DeclineInvite(ctx context.Context, uid store.UserID, id int64) (store.GroupInvite, error) {
	var iv store.GroupInvite
	err := g.inTx(ctx, "decline group invite", func(r runner) error {
		var err error
		iv, err = takeInvite(ctx, r, id, ` AND i.to_id = ?`, uid)
		return err
	})
	return iv, err
}

// CancelInvite withdraws invitation id on behalf of actor, who made it or
// is an owner or admin of its group, and returns it. Anyone else, and an
// invitation that does not exist, is ErrInviteNotFound.
func (g *Graph) CancelInvite(ctx context.Context, actor store.UserID, id int64) (store.GroupInvite, error) {
	var iv store.GroupInvite
	err := g.inTx(ctx, "cancel group invite", func(r runner) error {
		var err error
		iv, err = takeInvite(ctx, r, id, ` AND (i.from_id = ? OR EXISTS (SELECT 1 FROM group_members a
			WHERE a.group_id = i.group_id AND a.user_id = ? AND a.role IN ('owner', 'admin')))`, actor, actor)
		return err
	})
	return iv, err
}

// invitationsOf lists the invitations to group gid, whatever their state.
func invitationsOf(ctx context.Context, r runner, gid store.GroupID) ([]store.GroupInvite, error) {
	rows, err := r.query(ctx, inviteSelect+` WHERE i.group_id = ? ORDER BY i.id`, gid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.GroupInvite
	for rows.Next() {
		iv, err := scanInvite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, iv)
	}
	return out, rows.Err()
}

// takeInvite reads and deletes invitation id if it meets cond (which
// follows "WHERE i.id = ?", with its args).
func takeInvite(ctx context.Context, r runner, id int64, cond string, args ...any) (store.GroupInvite, error) {
	iv, err := scanInvite(r.row(ctx, inviteSelect+` WHERE i.id = ?`+cond, append([]any{id}, args...)...))
	if err != nil {
		return store.GroupInvite{}, notFound(err, store.ErrInviteNotFound)
	}
	if _, err := r.exec(ctx, `DELETE FROM group_invites WHERE id = ?`, id); err != nil {
		return store.GroupInvite{}, err
	}
	return iv, nil
}
