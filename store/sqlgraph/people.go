package sqlgraph

import (
	"context"
	"strings"

	"webchat/store"
)

// PastFriends returns the users uid was friends with and no longer is,
// ordered by id; never nil. Their direct conversation stays readable by
// both, so each may still see the other's name. Every friendship began
// with an accepted request (asking back accepts the other's), so the
// accepted requests are the record of who ever was a friend.
func (g *Graph) PastFriends(ctx context.Context, uid store.UserID) ([]store.User, error) {
	const op = "past friends"
	rows, err := g.pool().query(ctx,
		`SELECT DISTINCT `+userCols+` FROM friend_requests r
		 JOIN users u ON u.id = CASE WHEN r.from_id = ? THEN r.to_id ELSE r.from_id END
		 WHERE r.status = 'accepted' AND (r.from_id = ? OR r.to_id = ?)
		   AND NOT EXISTS (SELECT 1 FROM friendships f WHERE f.user_lo = r.pair_lo AND f.user_hi = r.pair_hi)
		 ORDER BY 1`, uid, uid, uid)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	out := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return out, nil
}

// UsersByID returns the users with the given ids that exist, ordered by
// id; never nil. It checks no right to see them: the caller does.
func (g *Graph) UsersByID(ctx context.Context, ids []store.UserID) ([]store.User, error) {
	const op = "users by id"
	out := []store.User{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := g.pool().query(ctx,
		`SELECT `+userCols+` FROM users u WHERE u.id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) ORDER BY 1`, args...)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return out, nil
}
