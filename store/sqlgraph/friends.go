package sqlgraph

import (
	"context"
	"database/sql"
	"errors"

	"webchat/store"
)

// Friend request statuses, as stored and as FriendRequest.Status shows them.
const (
	statusPending  = "pending"
	statusAccepted = "accepted"
	statusDeclined = "declined"
)

// FriendResult is what RequestFriend did.
type FriendResult struct {
	// Request is the new pending request (Created), the one already
	// pending from you, or theirs that was just accepted (Friend != nil).
	Request store.FriendRequest
	// Created reports whether a new pending request was made.
	Created bool
	// Friend is the other user when the two became friends at once
	// because they had already asked you; nil otherwise.
	Friend *store.User
}

// requestSelect reads a request with both users filled, in scanRequest's
// order; callers add the WHERE clause.
const requestSelect = `SELECT r.id, r.status, r.created_at,
	f.id, f.username, f.display_name, t.id, t.username, t.display_name
	FROM friend_requests r
	JOIN users f ON f.id = r.from_id
	JOIN users t ON t.id = r.to_id`

func scanRequest(s rowScanner) (store.FriendRequest, error) {
	var q store.FriendRequest
	err := s.Scan(&q.ID, &q.Status, &q.CreatedAt,
		&q.From.ID, &q.From.Username, &q.From.DisplayName,
		&q.To.ID, &q.To.Username, &q.To.DisplayName)
	return q, err
}

// RequestFriend asks the user named toUsername (any case) to be from's
// friend. An unknown name is ErrUserNotFound, yourself ErrSelf, a friend
// ErrAlreadyFriends. Asking again while your request is pending returns it
// with Created false. If they had already asked you, their request is
// accepted and you are friends at once (Friend set). Two people asking each
// other at the same moment end up friends with no request left pending,
// whichever order the two transactions run in.
func (g *Graph) RequestFriend(ctx context.Context, from store.UserID, toUsername string) (FriendResult, error) {
	res, err := g.requestFriend(ctx, from, toUsername)
	switch {
	case err == nil:
	case g.d.isUniqueViolation(err):
		// The partial unique index refused a second pending request for
		// the pair: the other side's request committed between our look
		// and our insert. That cannot happen under SQLite's write lock
		// but can where writers do not serialize (PostgreSQL's READ
		// COMMITTED). Once more, the look sees their request and we
		// become friends, as if ours had come second.
		res, err = g.requestFriend(ctx, from, toUsername)
	case errors.Is(err, store.ErrRequestNotFound):
		// Their request, which we were accepting, was answered between
		// our look and our update (by us on another device: only we may
		// answer it). Under SQLite's write lock we would have seen that
		// answer; once more, we do: already friends after an accept, a
		// new request of ours after a decline.
		res, err = g.requestFriend(ctx, from, toUsername)
	}
	return res, err
}

func (g *Graph) requestFriend(ctx context.Context, from store.UserID, toUsername string) (FriendResult, error) {
	var res FriendResult
	err := g.inTx(ctx, "request friend", func(r runner) error {
		to, err := userByUsername(ctx, r, toUsername)
		if err != nil {
			return err
		}
		if to.ID == from {
			return store.ErrSelf
		}
		me, err := userByID(ctx, r, from)
		if err != nil {
			return err
		}
		c := store.DirectConv(from, to.ID)
		t := nowMS()
		// The pending request is read before the friendship, not after.
		// Under PostgreSQL's READ COMMITTED every statement has a fresh
		// snapshot, and an accept commits the request's answer and the
		// friendship together: read in this order we see the request
		// still pending or the friendship made, whenever that accept
		// commits, never neither (which would leave a pending request
		// between friends). Friends never have a request pending, so
		// the order changes no answer otherwise.
		pending, err := scanRequest(r.row(ctx,
			requestSelect+` WHERE r.pair_lo = ? AND r.pair_hi = ? AND r.status = 'pending'`, c.Lo, c.Hi))
		switch {
		case err == nil && pending.From.ID == from:
			res = FriendResult{Request: pending}
			return nil
		case err == nil:
			// They asked first: asking back is saying yes.
			if err := setRequestStatus(ctx, r, pending.ID, statusAccepted, t); err != nil {
				return err
			}
			if err := befriend(ctx, r, c, t); err != nil {
				return err
			}
			pending.Status = statusAccepted
			res = FriendResult{Request: pending, Friend: &to}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if ok, err := areFriends(ctx, r, c); err != nil {
			return err
		} else if ok {
			return store.ErrAlreadyFriends
		}
		q := store.FriendRequest{From: me, To: to, CreatedAt: t, Status: statusPending}
		if err := r.row(ctx,
			`INSERT INTO friend_requests (from_id, to_id, pair_lo, pair_hi, status, created_at, updated_at)
			 VALUES (?, ?, ?, ?, 'pending', ?, ?) RETURNING id`,
			from, to.ID, c.Lo, c.Hi, t, t).Scan(&q.ID); err != nil {
			return err
		}
		res = FriendResult{Request: q, Created: true}
		return nil
	})
	return res, err
}

// AcceptRequest accepts the pending request reqID made to uid and makes the
// two friends; the request returned has both users filled, From being the
// new friend. Only the one asked may answer: a request of someone else's, an
// unknown one or one no longer pending is ErrRequestNotFound, so nobody
// learns about requests that are not theirs.
func (g *Graph) AcceptRequest(ctx context.Context, uid store.UserID, reqID int64) (store.FriendRequest, error) {
	return g.answerRequest(ctx, "accept friend request", uid, reqID, statusAccepted)
}

// DeclineRequest declines the pending request reqID made to uid, with the
// same rules as AcceptRequest. The asker may ask again later.
func (g *Graph) DeclineRequest(ctx context.Context, uid store.UserID, reqID int64) (store.FriendRequest, error) {
	return g.answerRequest(ctx, "decline friend request", uid, reqID, statusDeclined)
}

func (g *Graph) answerRequest(ctx context.Context, op string, uid store.UserID, reqID int64, status string) (store.FriendRequest, error) {
	var q store.FriendRequest
	err := g.inTx(ctx, op, func(r runner) error {
		var err error
		q, err = scanRequest(r.row(ctx, requestSelect+` WHERE r.id = ?`, reqID))
		if err != nil {
			return notFound(err, store.ErrRequestNotFound)
		}
		if q.To.ID != uid || q.Status != statusPending {
			return store.ErrRequestNotFound
		}
		t := nowMS()
		if err := setRequestStatus(ctx, r, q.ID, status, t); err != nil {
			return err
		}
		if status == statusAccepted {
			if err := befriend(ctx, r, store.DirectConv(q.From.ID, q.To.ID), t); err != nil {
				return err
			}
		}
		q.Status = status
		return nil
	})
	if err != nil {
		return store.FriendRequest{}, err
	}
	return q, nil
}

// setRequestStatus answers a pending request. Finding it no longer pending
// means another transaction answered it since we read it (not under SQLite's
// write lock, but possible on PostgreSQL): ErrRequestNotFound, as if we had
// come second.
func setRequestStatus(ctx context.Context, r runner, id int64, status string, t int64) error {
	res, err := r.exec(ctx,
		`UPDATE friend_requests SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'`,
		status, t, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return store.ErrRequestNotFound
	}
	return nil
}

// befriend records the friendship of a direct conversation's two users. An
// existing row is kept (with its date): being friends is idempotent.
func befriend(ctx context.Context, r runner, c store.Conv, t int64) error {
	_, err := r.exec(ctx,
		`INSERT INTO friendships (user_lo, user_hi, created_at) VALUES (?, ?, ?)
		 ON CONFLICT DO NOTHING`, c.Lo, c.Hi, t)
	return err
}

func areFriends(ctx context.Context, r runner, c store.Conv) (bool, error) {
	var n int
	err := r.row(ctx, `SELECT COUNT(*) FROM friendships WHERE user_lo = ? AND user_hi = ?`,
		c.Lo, c.Hi).Scan(&n)
	return n > 0, err
}

// Unfriend ends the friendship of uid and other and reports whether there was
// one. Their 1:1 history stays; requests are not touched (none can be
// pending between friends).
func (g *Graph) Unfriend(ctx context.Context, uid, other store.UserID) (removed bool, err error) {
	c := store.DirectConv(uid, other)
	res, err := g.pool().exec(ctx, `DELETE FROM friendships WHERE user_lo = ? AND user_hi = ?`, c.Lo, c.Hi)
	if err != nil {
		return false, unavailable("unfriend", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, unavailable("unfriend", err)
	}
	return n > 0, nil
}

// AreFriends reports whether a and b are friends. The message plane asks it
// to rebuild a missing pair key.
func (g *Graph) AreFriends(ctx context.Context, a, b store.UserID) (bool, error) {
	ok, err := areFriends(ctx, g.pool(), store.DirectConv(a, b))
	if err != nil {
		return false, unavailable("are friends", err)
	}
	return ok, nil
}

// Friends returns uid's friends ordered by id; never nil.
func (g *Graph) Friends(ctx context.Context, uid store.UserID) ([]store.User, error) {
	const op = "friends"
	// Two index lookups (the primary key by user_lo, friendships_hi by
	// user_hi) rather than one OR over both columns.
	rows, err := g.pool().query(ctx,
		`SELECT `+userCols+` FROM friendships f JOIN users u ON u.id = f.user_hi WHERE f.user_lo = ?
		 UNION ALL
		 SELECT `+userCols+` FROM friendships f JOIN users u ON u.id = f.user_lo WHERE f.user_hi = ?
		 ORDER BY 1`, uid, uid)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	friends := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, unavailable(op, err)
		}
		friends = append(friends, u)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return friends, nil
}

// FriendRequests returns uid's pending requests, those made to them
// (incoming) and those they made (outgoing), oldest first, with both users
// filled; neither slice is nil.
func (g *Graph) FriendRequests(ctx context.Context, uid store.UserID) (incoming, outgoing []store.FriendRequest, err error) {
	const op = "friend requests"
	rows, err := g.pool().query(ctx,
		requestSelect+` WHERE r.status = 'pending' AND (r.to_id = ? OR r.from_id = ?) ORDER BY r.id`,
		uid, uid)
	if err != nil {
		return nil, nil, unavailable(op, err)
	}
	defer rows.Close()
	incoming, outgoing = []store.FriendRequest{}, []store.FriendRequest{}
	for rows.Next() {
		q, err := scanRequest(rows)
		if err != nil {
			return nil, nil, unavailable(op, err)
		}
		if q.To.ID == uid {
			incoming = append(incoming, q)
		} else {
			outgoing = append(outgoing, q)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, unavailable(op, err)
	}
	return incoming, outgoing, nil
}
