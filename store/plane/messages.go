package plane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// Outgoing is a message to send. From comes from the session, never from
// the request.
type Outgoing struct {
	From       store.UserID
	FromDevice string // the sending device: it gets the answer, not a poll copy
	Conv       store.Conv
	To         int64 // the friend's user id or the group id
	Body       string
	ClientID   string // optional; makes a retry safe
}

// Sent is the outcome of a send: the stored message as the API shows it.
type Sent struct {
	Message    json.RawMessage
	Duplicate  bool // an earlier send with the same client_id
	Recipients int  // users delivered to by this call
	Copies     int  // events pushed by this call, one per live device: what it cost Redis
}

const maxRebuilds = 3

// maxScriptFanout is the largest group the send script delivers to itself
// on a single Redis; a larger one is delivered by a pipeline of scripts,
// one per member, so that other clients' commands run between them.
const maxScriptFanout = 512

func (p *Plane) authKey(c store.Conv) (key, kind string) {
	if c.IsGroup() {
		return p.k.members(c.String()), "members"
	}
	return p.k.pair(c.String()), "pair"
}

// Send stores a message and delivers it to every recipient's devices and
// the sender's other devices. The right to write is checked in Redis (the
// pair or members key); SQL is asked only when that key is missing.
//
// On a single Redis the send script delivers too, so storing, delivering
// and recording the client_id are one atomic step. On a cluster, delivery
// is a second, pipelined step, and the client_id record keeps who is done.
// A failure answers ErrUnavailable; with a client_id, a retry finishes the
// delivery and answers the first message (Duplicate), so an answered send
// always reaches every recipient. Not allowed: ErrNotFriends or
// ErrNotMember, whether or not the target exists.
func (p *Plane) Send(ctx context.Context, m Outgoing) (Sent, error) {
	conv := m.Conv.String()
	authKey, kind := p.authKey(m.Conv)
	body, err := json.Marshal(m.Body)
	if err != nil {
		return Sent{}, fmt.Errorf("encode body: %w", err)
	}
	cidJSON := []byte(`""`)
	if m.ClientID != "" {
		if cidJSON, err = json.Marshal(m.ClientID); err != nil {
			return Sent{}, fmt.Errorf("encode client_id: %w", err)
		}
	}
	keys := []string{p.k.seq(conv), p.k.hist(conv), authKey, p.k.cid(conv, m.From, m.ClientID), p.k.deny(conv, m.From)}
	if p.archive != nil {
		keys = append(keys, p.k.arch(conv))
		if p.single {
			keys = append(keys, p.archiveKey(conv)) // the script queues it for SQL
		}
	}
	args := append(make([]any, 0, 15), conv, int64(m.From), m.To, m.typ(), body, m.ClientID, cidJSON,
		p.o.HistoryCap, int64(p.o.ClientIDTTL.Seconds()), kind) // room for the delivery's five
	if p.single {
		// One Redis: the script delivers too, in the same round trip.
		args = append(args, p.kp, m.FromDevice, p.ttlMS(), p.o.InboxCap, maxScriptFanout)
	}

	var res []any
	for attempt := 0; ; attempt++ {
		v, err := p.run(ctx, p.s.send, keys, args...)
		if err != nil {
			return Sent{}, unavailable("send", err)
		}
		res, _ = v.([]any)
		if len(res) == 0 {
			return Sent{}, unavailable("send", fmt.Errorf("unexpected reply %v", v))
		}
		if res[0] == "noseq" && attempt < maxRebuilds {
			if err := p.restoreSeq(ctx, conv); err != nil {
				return Sent{}, err
			}
			continue
		}
		again, err := p.settle(ctx, m.Conv, m.From, res[0], attempt, m.forbidden())
		if err != nil {
			return Sent{}, err
		}
		if !again {
			break
		}
	}
	switch res[0] {
	case "new", "dup":
	case "gone":
		return p.sentLongAgo(ctx, conv, res)
	default:
		return Sent{}, unavailable("send", fmt.Errorf("unexpected status %v", res[0]))
	}

	msg, _ := res[1].(string)
	dup := res[0] == "dup"
	if p.archive != nil && res[2] == "0" && (dup || !p.single) {
		// On a cluster the script cannot reach the archive's stream; after
		// a script cut short, its retry queues the message again (SQL
		// keeps one copy).
		if err := p.queueArchive(ctx, conv, msg); err != nil {
			return Sent{}, err
		}
	}
	if !dup && res[2] == "1" && len(res) > 6 {
		// Stored and delivered by the script.
		n, _ := res[6].(int64)
		var copies int64
		if len(res) > 7 {
			copies, _ = res[7].(int64)
		}
		return Sent{Message: json.RawMessage(msg), Recipients: int(n), Copies: int(copies)}, nil
	}
	if dup && res[2] == "1" {
		return Sent{Message: json.RawMessage(msg), Duplicate: true}, nil // delivered long ago
	}

	// The message is stored and its delivery must finish whether or not
	// the sender waits for the answer: a hang-up from here on would leave a
	// stored message delivered to nobody (until a retry that may never come).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishBound)
	defer cancel()
	recipients := m.recipients(res[3])
	doneSet := map[string]bool{}
	for _, d := range asStrings(res[4]) {
		doneSet[d] = true
	}
	payload := make([]byte, 0, len(msg)+32)
	payload = append(append(append(payload, `{"type":"message","message":`...), msg...), '}')
	seq := seqOf(msg)
	var ds []Delivery
	for _, r := range recipients {
		if doneSet[itoa(int64(r))] {
			continue
		}
		d := Delivery{To: r, Payload: payload, Conv: conv, Seq: seq, Unread: r != m.From}
		if r == m.From {
			d.SkipDevice = m.FromDevice
		}
		ds = append(ds, d)
	}
	cidKey := p.k.cid(conv, m.From, m.ClientID)
	done, copies, err := p.publish(ctx, ds)
	if err != nil {
		if m.ClientID != "" && len(done) > 0 {
			// Remember who has it, so the retry delivers only to the rest.
			fields := make([]any, 0, 2*len(done))
			for _, u := range done {
				fields = append(fields, "d:"+itoa(int64(u)), 1)
			}
			p.rdb.HSet(ctx, cidKey, fields...) // best effort: a lost mark means a repeat, which clients drop
		}
		return Sent{}, err
	}
	if m.ClientID != "" {
		// Delivered: keep only the seq until the record expires, so a late
		// retry still answers with the first message (from history).
		fields := []string{"msg"}
		for d := range doneSet {
			fields = append(fields, "d:"+d)
		}
		if err := p.rdb.HDel(ctx, cidKey, fields...).Err(); err != nil {
			return Sent{}, unavailable("finish send", err)
		}
	}
	return Sent{Message: json.RawMessage(msg), Duplicate: dup, Recipients: len(ds), Copies: copies}, nil
}

// sentLongAgo answers a retry whose message left the Redis window: from
// SQL when it is archived, or ErrAlreadySent.
func (p *Plane) sentLongAgo(ctx context.Context, conv string, res []any) (Sent, error) {
	seq := int64(0)
	if len(res) > 5 {
		s, _ := res[5].(string)
		seq, _ = strconv.ParseInt(s, 10, 64)
	}
	if p.archive == nil || seq <= 0 {
		return Sent{}, store.ErrAlreadySent
	}
	msgs, err := p.archive.Messages(ctx, conv, seq+1, 1)
	if err != nil || len(msgs) == 0 || msgs[0].Seq != seq {
		return Sent{}, store.ErrAlreadySent
	}
	return Sent{Message: encodeMessage(msgs[0]), Duplicate: true}, nil
}

func (m Outgoing) typ() string {
	if m.Conv.IsGroup() {
		return store.TypeGroup
	}
	return store.TypeSingle
}

func (m Outgoing) forbidden() error {
	if m.Conv.IsGroup() {
		return store.ErrNotMember
	}
	return store.ErrNotFriends
}

// recipients are the people whose devices get the message: the friend and
// the sender, or every member (the sender among them).
func (m Outgoing) recipients(members any) []store.UserID {
	if !m.Conv.IsGroup() {
		return []store.UserID{m.Conv.Other(m.From), m.From}
	}
	ids := asStrings(members)
	out := make([]store.UserID, 0, len(ids))
	for _, s := range ids {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			out = append(out, store.UserID(n))
		}
	}
	return out
}

func asStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// seqOf reads "seq" from a message the send script built.
func seqOf(msg string) int64 {
	var m struct {
		Seq int64 `json:"seq"`
	}
	json.Unmarshal([]byte(msg), &m)
	return m.Seq
}

// finishBound bounds the steps that run detached from the request once a
// change is committed (delivering a stored message, the second revoke).
const finishBound = 10 * time.Second

// denyTTL is how long a refusal that SQL gave is cached (keys.deny). A grant
// deletes the marker, so it only ever outlives the refusal when a grant's
// write-through failed, and then by at most this long.
const denyTTL = 10 * time.Second

// settle answers a script's status about u's right in c: again when the
// script should run once more (its rights key rebuilt or dropped), or the
// caller's forbidden error. A refusal by a members key is checked in SQL,
// since a failed write-through can leave a key that refuses a member for
// good; a key SQL contradicts is dropped, to be rebuilt. Any other status
// is the caller's to read (false, nil).
func (p *Plane) settle(ctx context.Context, c store.Conv, u store.UserID, status any, attempt int, forbidden error) (again bool, err error) {
	switch status {
	case "denied":
		return false, forbidden
	case "nokey", "forbidden":
	default:
		return false, nil
	}
	if attempt == maxRebuilds {
		return false, unavailable("check rights", fmt.Errorf("rights of %s kept changing", c))
	}
	ok, err := p.rebuild(ctx, c, u)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, forbidden
	}
	if status == "forbidden" {
		if err := p.invalidate(ctx, c); err != nil {
			return false, err
		}
	}
	return true, nil
}

// rebuild asks SQL whether u may write in c (for a group: is a member),
// restores a missing pair or members key from the answer, and marks a
// refusal for denyTTL. A grant or revoke that runs meanwhile makes it read
// SQL again rather than cache what was just changed.
func (p *Plane) rebuild(ctx context.Context, c store.Conv, u store.UserID) (bool, error) {
	conv := c.String()
	authKey, kind := p.authKey(c)
	keys := []string{authKey, p.k.ver(conv), p.k.deny(conv, u), p.k.revoking(conv)}
	for attempt := 0; attempt < maxRebuilds; attempt++ {
		ver, err := p.rdb.Get(ctx, p.k.ver(conv)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return false, unavailable("read version", err)
		}
		if ver == "" {
			ver = "0"
		}
		allowed, cache := false, kind
		var ids []any
		if c.IsGroup() {
			members, err := p.access.MemberIDs(ctx, c.Group)
			if err != nil {
				return false, err
			}
			for _, id := range members {
				ids = append(ids, int64(id))
				allowed = allowed || id == u
			}
		} else if c.Has(u) {
			if allowed, err = p.access.AreFriends(ctx, c.Lo, c.Hi); err != nil {
				return false, err
			}
		}
		if !allowed && !c.IsGroup() {
			cache = "none"
		}
		deny := denyTTL.Milliseconds()
		if allowed {
			deny = 0
		}
		args := append([]any{cache, ver, deny}, ids...)
		v, err := p.run(ctx, p.s.rebuild, keys, args...)
		if err != nil {
			return false, unavailable("rebuild rights", err)
		}
		if n, _ := v.(int64); n == 1 {
			if allowed {
				// A rights key lost with Redis lost the counter too.
				if err := p.ensureSeq(ctx, conv); err != nil {
					return false, err
				}
			}
			return allowed, nil
		}
	}
	return false, unavailable("rebuild rights", fmt.Errorf("rights of %s kept changing", conv))
}

// invalidate drops a conversation's rights key, to be rebuilt from SQL.
func (p *Plane) invalidate(ctx context.Context, c store.Conv) error {
	conv := c.String()
	key, _ := p.authKey(c)
	keys := []string{key, p.k.ver(conv), p.k.seq(conv), p.k.hist(conv), p.k.revoking(conv)}
	if _, err := p.run(ctx, p.s.revoke, keys, "all", 0, 0, -1); err != nil {
		return unavailable("invalidate rights", err)
	}
	return nil
}
