package plane

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// receipt tells others that u read c up to seq (from prev): in a direct
// conversation the other person, at once; in a group the authors of the
// messages read, their read counts batched to one flush per ReceiptGap. A
// user who turned receipts off tells nobody. receipts is what the read
// script found of u's choice ("" when Redis lacks it); paired, that the
// pair key said they are friends (else SQL is asked).
func (p *Plane) receipt(ctx context.Context, u store.UserID, c store.Conv, prev, seq int64, receipts string, paired bool) error {
	if receipts == "" {
		pr, err := p.loadPrefs(ctx, u)
		if err != nil {
			return err
		}
		receipts = boolArg(pr.Receipts)
	}
	if receipts != "1" {
		return nil
	}
	conv := c.String()
	if !c.IsGroup() {
		// An ex-friend reads the history but learns nothing of the reads.
		if !paired {
			if ok, err := p.stillFriends(ctx, c); err != nil || !ok {
				return err
			}
		}
		payload := fmt.Appendf(nil, `{"type":"receipt","conv":"%s","user_id":%d,"seq":%d}`, conv, u, seq)
		_, err := p.Publish(ctx, []Delivery{{To: c.Other(u), Payload: payload}})
		return err
	}
	keys := []string{p.k.reads(conv), p.k.rcpt(conv), p.k.members(conv)}
	v, err := p.run(ctx, p.s.receipt, keys, int64(u), prev, seq, ReceiptGap.Milliseconds())
	if err != nil {
		return unavailable("queue receipt", err)
	}
	due, _ := v.(int64)
	switch {
	case due == 0:
		return nil // not a member: nothing to count
	case due > 0:
		return p.schedule(ctx, receiptMember(conv), time.UnixMilli(due))
	}
	// Due now. Scheduled first, so that a flush cut short here is done by
	// the sweeper.
	if err := p.schedule(ctx, receiptMember(conv), time.Now().Add(ReceiptGap)); err != nil {
		return err
	}
	_, err = p.flushReceipts(ctx, conv)
	return err
}

// flushReceipts sends a group's batched read counts to the authors, to
// their polling devices. It returns when a flush is due next ("-": none).
func (p *Plane) flushReceipts(ctx context.Context, conv string) (string, error) {
	keys := []string{p.k.rcpt(conv), p.k.reads(conv), p.k.hist(conv), p.k.seq(conv)}
	v, err := p.run(ctx, p.s.rcptFlush, keys, maxReceiptSpan)
	if err != nil {
		return "", unavailable("flush receipts", err)
	}
	res, _ := v.([]any)
	if len(res) == 0 {
		return "", unavailable("flush receipts", fmt.Errorf("unexpected reply %v", v))
	}
	switch res[0] {
	case "none":
		return "-", nil
	case "later":
		if len(res) > 1 {
			if s, ok := res[1].(string); ok {
				return s, nil
			}
		}
		return "", unavailable("flush receipts", fmt.Errorf("unexpected reply %v", v))
	}
	var ds []Delivery
	for i := 1; i+2 < len(res); i += 3 {
		author := toInt(res[i])
		seq, n := toInt(res[i+1]), toInt(res[i+2])
		payload := fmt.Appendf(nil, `{"type":"receipt","conv":"%s","seq":%d,"read_count":%d}`, conv, seq, n)
		ds = append(ds, Delivery{To: store.UserID(author), Payload: payload, Live: true})
	}
	if _, err := p.Publish(ctx, ds); err != nil {
		return "", err
	}
	return "-", nil
}

// Readers answers GET .../receipts: who, other than u, has read c up to
// seq. In a direct conversation that is the other person, if they read
// that far and send receipts. Who may not read c gets ErrConvNotFound.
func (p *Plane) Readers(ctx context.Context, u store.UserID, c store.Conv, seq int64) ([]store.UserID, error) {
	res, err := p.history(ctx, u, c, 0, 0)
	if err != nil {
		return nil, err
	}
	conv := c.String()
	if !c.IsGroup() {
		if paired, _ := res[4].(int64); paired != 1 {
			if ok, err := p.stillFriends(ctx, c); err != nil || !ok {
				return []store.UserID{}, err
			}
		}
		peer := c.Other(u)
		pipe := p.rdb.Pipeline()
		read := pipe.HGet(ctx, p.k.unread(peer), conv+":read")
		on := pipe.HGet(ctx, p.k.presence(peer), "receipts")
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, unavailable("read receipts", err)
		}
		upto, _ := read.Int64()
		if upto >= seq && on.Val() == "1" { // unknown is off: never shown by mistake
			return []store.UserID{peer}, nil
		}
		return []store.UserID{}, nil
	}
	ids, err := p.rdb.ZRangeByScore(ctx, p.k.reads(conv), &redis.ZRangeBy{Min: strconv.FormatInt(seq, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, unavailable("read receipts", err)
	}
	out := make([]store.UserID, 0, len(ids))
	for _, s := range ids {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && store.UserID(n) != u {
			out = append(out, store.UserID(n))
		}
	}
	return out, nil
}

// stillFriends says whether the two of a direct conversation are friends
// (the pair key, or SQL when Redis lost it).
func (p *Plane) stillFriends(ctx context.Context, c store.Conv) (bool, error) {
	n, err := p.rdb.Exists(ctx, p.k.pair(c.String())).Result()
	if err != nil {
		return false, unavailable("read friendship", err)
	}
	if n == 1 || p.access == nil {
		return n == 1, nil
	}
	return p.access.AreFriends(ctx, c.Lo, c.Hi)
}

// ForgetReader takes a member who left a group out of its read counts.
func (p *Plane) ForgetReader(ctx context.Context, g store.GroupID, u store.UserID) error {
	if err := p.rdb.ZRem(ctx, p.k.reads(store.GroupConv(g).String()), int64(u)).Err(); err != nil {
		return unavailable("forget reader", err)
	}
	return nil
}
