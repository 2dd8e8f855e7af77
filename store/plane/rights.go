package plane

import (
	"context"
	"time"

	"webchat/store"
)

// GrantPair writes a new friendship through to Redis after the SQL commit.
func (p *Plane) GrantPair(ctx context.Context, a, b store.UserID) error {
	c := store.DirectConv(a, b)
	key, kind := p.authKey(c)
	keys := []string{key, p.k.ver(c.String()), p.k.deny(c.String(), a), p.k.deny(c.String(), b)}
	if _, err := p.run(ctx, p.s.grant, keys, kind, 0); err != nil {
		return unavailable("grant friendship", err)
	}
	// Friends again after an unfriending: their counter goes on from SQL.
	return p.ensureSeq(ctx, c.String())
}

// GrantMember writes a new member through to an existing members key after
// the SQL commit; a missing key is rebuilt from SQL on its next use.
func (p *Plane) GrantMember(ctx context.Context, g store.GroupID, u store.UserID) error {
	c := store.GroupConv(g)
	key, kind := p.authKey(c)
	keys := []string{key, p.k.ver(c.String()), p.k.deny(c.String(), u)}
	if _, err := p.run(ctx, p.s.grant, keys, kind, int64(u)); err != nil {
		return unavailable("grant membership", err)
	}
	return nil
}

// InitGroup creates a new group's members key with its owner.
func (p *Plane) InitGroup(ctx context.Context, g store.GroupID, owner store.UserID) error {
	conv := store.GroupConv(g).String()
	if err := p.rdb.SAdd(ctx, p.k.members(conv), int64(owner)).Err(); err != nil {
		return unavailable("init group", err)
	}
	if p.archive != nil {
		return p.setSeq(ctx, conv, 0) // group ids are never reused
	}
	return nil
}

// Revoke withdraws u's right to write in c (the friendship of a direct
// conversation, u's membership of a group) around commit, the SQL change:
// before it, so no node lets u write once commit may have happened, and
// again after it, so a rebuild that read SQL meanwhile cannot bring the
// right back. If commit fails the key is dropped whole, to be rebuilt from
// SQL, since it may no longer match. commit reports whether the group is
// gone, to drop its history too.
//
// If Redis fails before commit, commit is not called: nothing changes.
// Once commit has run, the rest runs detached from ctx (a caller that hangs
// up cannot stop it) and is tried until finishBound; if it still fails the
// error says so, and the same call again (SQL has nothing left to change)
// completes it.
func (p *Plane) Revoke(ctx context.Context, c store.Conv, u store.UserID, commit func(context.Context) (gone bool, err error)) error {
	conv := c.String()
	key, _ := p.authKey(c)
	kind := "pair"
	if c.IsGroup() {
		kind = "member"
	}
	keys := []string{key, p.k.ver(conv), p.k.seq(conv), p.k.hist(conv), p.k.revoking(conv)}
	// The revoking marker outlives the steps after the commit: should they
	// never run, it still goes, and rebuilds read SQL as it is by then.
	if _, err := p.run(ctx, p.s.revoke, keys, kind, int64(u), 0, (3 * finishBound).Milliseconds()); err != nil {
		return unavailable("revoke", err)
	}
	gone, err := commit(ctx)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishBound)
	defer cancel()
	if err != nil {
		// Nothing changed in SQL: drop the key whole, to be rebuilt, and the
		// marker, so that it may be. Best effort: the right was withdrawn
		// above, and the marker expires by itself.
		p.run(ctx, p.s.revoke, keys, "all", 0, 0, 0)
		return err
	}
	drop := 0
	if gone {
		drop, kind = 1, "all"
	}
	// This one closes the window for a rebuild that read SQL before the
	// commit: until it has run, such a rebuild may have put the right back.
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		_, err := p.run(ctx, p.s.revoke, keys, kind, int64(u), drop, 0)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return unavailable("revoke after commit", err)
		case <-time.After(wait):
		}
	}
}

// ClaimGroupNews reports whether the caller is the first, within window,
// to have news of group g's members to send (its member count): the
// claim is a marker on the group's slot that expires with the window.
func (p *Plane) ClaimGroupNews(ctx context.Context, g store.GroupID, window time.Duration) (bool, error) {
	ok, err := p.rdb.SetNX(ctx, p.k.conv("gnews", store.GroupConv(g).String()), 1, window).Result()
	if err != nil {
		return false, unavailable("claim group news", err)
	}
	return ok, nil
}

// GroupSize returns how many members group g's members key holds (0 when
// it is not built yet), for estimates that must not ask SQL.
func (p *Plane) GroupSize(ctx context.Context, g store.GroupID) (int, error) {
	n, err := p.rdb.SCard(ctx, p.k.members(store.GroupConv(g).String())).Result()
	if err != nil {
		return 0, unavailable("group size", err)
	}
	return int(n), nil
}
