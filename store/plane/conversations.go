package plane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// History returns up to limit messages of c with seq below before (0: the
// newest), oldest first, and whether older ones exist. Direct history stays
// readable by both people after they unfriend; group history only by
// current members. Anyone else gets ErrConvNotFound.
//
// With an archive, a page goes on below the Redis window into SQL without
// a seam, and has_more is false only at the conversation's first message.
func (p *Plane) History(ctx context.Context, u store.UserID, c store.Conv, before int64, limit int) ([]json.RawMessage, bool, error) {
	res, err := p.history(ctx, u, c, before, limit)
	if err != nil {
		return nil, false, err
	}
	msgs := make([]json.RawMessage, 0, len(res)-5)
	for _, v := range res[5:] {
		if s, ok := v.(string); ok {
			msgs = append(msgs, json.RawMessage(s))
		}
	}
	more, _ := res[2].(int64)
	if p.archive == nil {
		return msgs, more == 1, nil
	}
	// Where the page ends: below its oldest message, or below before (or
	// the newest seq) when Redis had nothing for it; 0 when Redis lost the
	// counter, and SQL's newest is the start.
	cur, _ := res[1].(int64)
	next := before
	if cur > 0 && (next <= 0 || next > cur+1) {
		next = cur + 1
	}
	if len(msgs) > 0 {
		next = seqOf(string(msgs[0]))
	}
	if need := limit - len(msgs); need > 0 && next != 1 {
		older, err := p.archive.Messages(ctx, c.String(), next, need)
		if err != nil {
			if len(msgs) > 0 {
				// SQL is down: the window still answers, and the page
				// says there is more to come back for.
				return msgs, true, nil
			}
			return nil, false, err
		}
		page := make([]json.RawMessage, 0, len(older)+len(msgs))
		for _, m := range older {
			page = append(page, encodeMessage(m))
		}
		msgs = append(page, msgs...)
		next = 1 // SQL has nothing below: this is the start
		if len(older) > 0 {
			next = older[0].Seq
		}
	}
	return msgs, next > 1 && limit > 0, nil
}

// history runs the history script with the right-to-read check, which
// settle completes from SQL when Redis cannot say or may be stale.
func (p *Plane) history(ctx context.Context, u store.UserID, c store.Conv, before int64, limit int) ([]any, error) {
	conv := c.String()
	kind, third := "direct", p.k.pair(conv)
	if c.IsGroup() {
		kind, third = "members", p.k.members(conv)
	} else if !c.Has(u) {
		return nil, store.ErrConvNotFound
	}
	keys := []string{p.k.seq(conv), p.k.hist(conv), third, p.k.deny(conv, u)}
	for attempt := 0; ; attempt++ {
		v, err := p.run(ctx, p.s.history, keys, kind, int64(u), before, limit)
		if err != nil {
			return nil, unavailable("read history", err)
		}
		res, _ := v.([]any)
		if len(res) == 0 {
			return nil, unavailable("read history", fmt.Errorf("unexpected reply %v", v))
		}
		again, err := p.settle(ctx, c, u, res[0], attempt, store.ErrConvNotFound)
		if err != nil {
			return nil, err
		}
		if again {
			continue
		}
		if res[0] != "ok" {
			return nil, unavailable("read history", fmt.Errorf("unexpected status %v", res[0]))
		}
		if len(res) < 5 {
			return nil, unavailable("read history", fmt.Errorf("short reply %v", v))
		}
		return res, nil
	}
}

// MarkRead marks c read up to seq for u (capped at the conversation's last
// seq) and sends a read event to u's other devices. The unread count clears
// only if no newer message was counted meanwhile. It returns the count left.
func (p *Plane) MarkRead(ctx context.Context, u store.UserID, dev string, c store.Conv, seq int64) (int64, error) {
	res, err := p.history(ctx, u, c, 0, 0)
	if err != nil {
		return 0, err
	}
	conv := c.String()
	last, _ := res[1].(int64)
	paired, _ := res[4].(int64)
	if last == 0 && seq > 0 && p.archive != nil {
		// A counter lost with Redis and not yet restored: SQL knows.
		if last, err = p.archive.LastSeq(ctx, conv); err != nil {
			return 0, err
		}
	}
	seq = min(seq, last)
	payload := fmt.Appendf(nil, `{"type":"read","conv":"%s","seq":%d}`, conv, seq)
	keys := []string{p.k.evid(u), p.k.devices(u), p.k.unread(u), p.k.presence(u)}
	if p.archive != nil && p.single {
		keys = append(keys, p.archiveKey(conv)) // the marker goes to SQL too
	}
	v, err := p.run(ctx, p.s.read, keys, p.kp, userTag(u), payload, dev, conv, seq, p.ttlMS(), p.o.InboxCap, int64(u))
	if err != nil {
		return 0, unavailable("mark read", err)
	}
	out, _ := v.([]any)
	if len(out) != 4 {
		return 0, unavailable("mark read", fmt.Errorf("unexpected reply %v", v))
	}
	n, _ := out[0].(int64)
	rose, _ := out[1].(int64)
	if rose == 1 && p.archive != nil && !p.single {
		err := p.rdb.XAdd(ctx, &redis.XAddArgs{Stream: p.archiveKey(conv), Values: []any{"u", int64(u), "c", conv, "s", seq}}).Err()
		if err != nil {
			return 0, unavailable("queue read marker", err)
		}
	}
	if rose == 1 {
		prev, _ := out[2].(int64)
		receipts, _ := out[3].(string)
		if err := p.receipt(ctx, u, c, prev, seq, receipts, paired == 1); err != nil {
			// The marker stands (one source of truth); the other side sees
			// it on their next /api/me or receipts request.
			return n, fmt.Errorf("%w: %w", ErrReceiptNotSent, err)
		}
	}
	return n, nil
}

// ErrReceiptNotSent wraps a failure to tell others of a read that was
// recorded: the read itself succeeded.
var ErrReceiptNotSent = errors.New("read recorded, receipt not sent")

// Summary is what the contact list shows besides the graph.
type Summary struct {
	Unread  map[string]int64             // conv → unread count
	Friends map[store.UserID]FriendState // for each of people
	Last    map[string]json.RawMessage   // conv → newest message
	Self    store.Prefs                  // what u chose to show
}

// FriendState is what u may see of a friend: their presence as the
// presence events told it, and how far they read the direct conversation
// (0 when they turned receipts off).
type FriendState struct {
	Presence string
	Since    int64 // when Presence began; 0 when they never showed
	LastSeen int64
	PeerRead int64
}

// Summary reads unread counts, what u may see of people (u's friends),
// u's own choices and the newest message of each conversation, in one
// pipeline.
//
// all says that convs are all of u's conversations (the contact list):
// only then may unread counts that Redis lost be restored from SQL, once
// for all of them.
func (p *Plane) Summary(ctx context.Context, u store.UserID, people []store.UserID, convs []string, all bool) (s Summary, err error) {
	pipe := p.rdb.Pipeline()
	unread := pipe.HGetAll(ctx, p.k.unread(u))
	self := pipe.HMGet(ctx, p.k.presence(u), "status", "receipts")
	type friendCmds struct {
		pres *redis.SliceCmd
		read *redis.StringCmd
	}
	friends := make(map[store.UserID]friendCmds, len(people))
	for _, f := range people {
		friends[f] = friendCmds{
			pres: pipe.HMGet(ctx, p.k.presence(f), "shown", "since", "seen", "receipts"),
			read: pipe.HGet(ctx, p.k.unread(f), store.DirectConv(u, f).String()+":read"),
		}
	}
	last := make(map[string]*redis.StringCmd, len(convs))
	for _, c := range convs {
		last[c] = pipe.LIndex(ctx, p.k.hist(c), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil && unread.Err() != nil {
		return Summary{}, unavailable("read summary", err)
	}
	counts := unread.Val()
	if _, back := counts[unreadRestored]; !back && all && p.archive != nil {
		if c, ok := p.restoreUnread(ctx, u, convs); ok {
			counts = c
		}
	}
	s = Summary{Unread: map[string]int64{}, Friends: map[store.UserID]FriendState{}, Last: map[string]json.RawMessage{}}
	if s.Self, err = p.selfPrefs(ctx, u, self.Val()); err != nil {
		return Summary{}, err
	}
	for k, v := range counts {
		if strings.IndexByte(k, ':') >= 0 || k == unreadRestored {
			continue // <conv>:read, :last, and the restore mark
		}
		var n int64
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			s.Unread[k] = n
		}
	}
	for f, c := range friends {
		s.Friends[f] = friendState(c.pres.Val(), c.read.Val())
	}
	for c, cmd := range last {
		if cmd.Err() == nil && cmd.Val() != "" {
			s.Last[c] = json.RawMessage(cmd.Val())
		}
	}
	if p.archive != nil {
		p.lastFromArchive(ctx, convs, s.Last)
	}
	return s, nil
}

// unreadRestored is the field of a user's unread hash that says its counts
// came back from SQL after Redis lost them (restoreunread.lua).
const unreadRestored = "~"

// restoreUnread brings u's unread counts back from SQL when Redis lost
// them, and returns the counts as they are now. SQL counts each
// conversation up to its seq base (the counter restored from SQL, with
// everything later counted by Redis), all of it for a conversation with
// no counter yet, and nothing for one whose counter never went away. A
// failure leaves the counts as Redis has them, to be tried again.
func (p *Plane) restoreUnread(ctx context.Context, u store.UserID, convs []string) (map[string]string, bool) {
	pipe := p.rdb.Pipeline()
	bases := make([]*redis.StringCmd, len(convs))
	seqs := make([]*redis.IntCmd, len(convs))
	for i, c := range convs {
		bases[i] = pipe.Get(ctx, p.k.seqbase(c))
		seqs[i] = pipe.Exists(ctx, p.k.seq(c))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, false
	}
	var spans []store.UnreadSpan
	for i, c := range convs {
		switch base, err := bases[i].Int64(); {
		case err == nil:
			spans = append(spans, store.UnreadSpan{Conv: c, Upto: base})
		case seqs[i].Val() == 0:
			spans = append(spans, store.UnreadSpan{Conv: c, Upto: math.MaxInt64})
		}
	}
	counts, err := p.archive.Unread(ctx, u, spans)
	if err != nil {
		return nil, false
	}
	marks, err := p.archive.ReadMarkers(ctx, u)
	if err != nil {
		return nil, false
	}
	args := make([]any, 0, 4*len(spans))
	for _, sp := range spans {
		n := counts[sp.Conv]
		args = append(args, sp.Conv, n.N, n.Last, marks[sp.Conv])
	}
	if _, err := p.run(ctx, p.s.restoreUnread, []string{p.k.unread(u)}, args...); err != nil {
		return nil, false
	}
	now, err := p.rdb.HGetAll(ctx, p.k.unread(u)).Result()
	if err != nil {
		return nil, false
	}
	return now, true
}

// lastFromArchive fills in, from SQL, the newest message of conversations
// whose Redis window is empty (lost with Redis, not written to since).
func (p *Plane) lastFromArchive(ctx context.Context, convs []string, last map[string]json.RawMessage) {
	var empty []string
	for _, c := range convs {
		if _, ok := last[c]; !ok {
			empty = append(empty, c)
		}
	}
	if len(empty) == 0 {
		return
	}
	ms, err := p.archive.LastMessages(ctx, empty)
	if err != nil {
		return // best effort: the preview comes back with the next message
	}
	for c, m := range ms {
		last[c] = encodeMessage(m)
	}
}

// selfPrefs reads u's choices from their presence hash (status, receipts),
// or from SQL when Redis lacks them.
func (p *Plane) selfPrefs(ctx context.Context, u store.UserID, h []any) (store.Prefs, error) {
	status, receipts := field(h, 0), field(h, 1)
	if status != "" && receipts != "" {
		return store.Prefs{Status: status, Receipts: receipts == "1"}, nil
	}
	return p.loadPrefs(ctx, u)
}

// friendState reads a friend's presence hash (shown, since, seen,
// receipts) and their read marker of the direct conversation.
// A hash Redis did not answer (nil h) reads as unknown: offline, nothing
// read, never a value by mistake.
func friendState(h []any, read string) FriendState {
	num := func(v string) int64 { n, _ := strconv.ParseInt(v, 10, 64); return n }
	fs := FriendState{Presence: field(h, 0), Since: num(field(h, 1)), LastSeen: num(field(h, 2))}
	if fs.Presence == "" {
		fs.Presence = store.PresenceOffline
	}
	if field(h, 3) == "1" { // receipts on, as far as Redis knows
		fs.PeerRead = num(read)
	}
	return fs
}

// field is HMGET's answer i as a string, "" when absent.
func field(h []any, i int) string {
	if i >= len(h) {
		return ""
	}
	v, _ := h[i].(string)
	return v
}
