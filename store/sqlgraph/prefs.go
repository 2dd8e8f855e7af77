package sqlgraph

import (
	"context"

	"webchat/store"
)

// Prefs returns what u chose to show others: their status and whether
// their reads send receipts. An unknown user is ErrUserNotFound.
func (g *Graph) Prefs(ctx context.Context, u store.UserID) (store.Prefs, error) {
	var p store.Prefs
	var receipts int
	err := g.pool().row(ctx, `SELECT status, receipts FROM users WHERE id = ?`, u).Scan(&p.Status, &receipts)
	if err != nil {
		return store.Prefs{}, classify("read prefs", notFound(err, store.ErrUserNotFound))
	}
	p.Receipts = receipts != 0
	if !store.ValidStatus(p.Status) {
		p.Status = store.StatusOnline
	}
	return p, nil
}

// SetStatus stores the status u chose (store.ValidStatus: the caller's
// check).
func (g *Graph) SetStatus(ctx context.Context, u store.UserID, status string) error {
	return g.setPref(ctx, u, `UPDATE users SET status = ? WHERE id = ?`, status)
}

// SetReceipts stores whether u's reads send receipts.
func (g *Graph) SetReceipts(ctx context.Context, u store.UserID, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return g.setPref(ctx, u, `UPDATE users SET receipts = ? WHERE id = ?`, v)
}

// setPref changes one column only, so that two choices made at once (a
// status here, receipts there) both stand.
func (g *Graph) setPref(ctx context.Context, u store.UserID, query string, v any) error {
	res, err := g.pool().exec(ctx, query, v, u)
	if err != nil {
		return unavailable("store prefs", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return store.ErrUserNotFound
	}
	return nil
}

// FriendIDs returns the ids of uid's friends, for a fan-out that needs no
// profiles (presence).
func (g *Graph) FriendIDs(ctx context.Context, uid store.UserID) ([]store.UserID, error) {
	const op = "friend ids"
	rows, err := g.pool().query(ctx,
		`SELECT user_hi FROM friendships WHERE user_lo = ?
		 UNION ALL
		 SELECT user_lo FROM friendships WHERE user_hi = ?`, uid, uid)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	var ids []store.UserID
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
