package plane

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// History returns up to limit messages of c with seq below before (0: the
// newest), oldest first, and whether older ones exist. Direct history stays
// readable by both people after they unfriend; group history only by
// current members. Anyone else gets ErrConvNotFound.
func (p *Plane) History(ctx context.Context, u store.UserID, c store.Conv, before int64, limit int) ([]json.RawMessage, bool, error) {
	res, err := p.history(ctx, u, c, before, limit)
	if err != nil {
		return nil, false, err
	}
	msgs := make([]json.RawMessage, 0, len(res)-3)
	for _, v := range res[3:] {
		if s, ok := v.(string); ok {
			msgs = append(msgs, json.RawMessage(s))
		}
	}
	more, _ := res[2].(int64)
	return msgs, more == 1, nil
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
		if len(res) < 3 {
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
	if last, _ := res[1].(int64); seq > last {
		seq = last
	}
	conv := c.String()
	payload := fmt.Appendf(nil, `{"type":"read","conv":"%s","seq":%d}`, conv, seq)
	v, err := p.run(ctx, p.s.read, []string{p.k.evid(u), p.k.devices(u), p.k.unread(u)},
		p.kp, userTag(u), payload, dev, conv, seq, p.ttlMS(), p.o.InboxCap)
	if err != nil {
		return 0, unavailable("mark read", err)
	}
	n, _ := v.(int64)
	return n, nil
}

// Summary is what the contact list shows besides the graph.
type Summary struct {
	Unread map[string]int64           // conv → unread count
	Online map[store.UserID]bool      // a device polled within OnlineWindow
	Last   map[string]json.RawMessage // conv → newest message
}

// OnlineWindow is how recently a device must have polled for its user to
// show as online.
const OnlineWindow = 70 * time.Second

// Summary reads unread counts, who of people is online and the newest
// message of each conversation, in one pipeline.
func (p *Plane) Summary(ctx context.Context, u store.UserID, people []store.UserID, convs []string) (Summary, error) {
	pipe := p.rdb.Pipeline()
	unread := pipe.HGetAll(ctx, p.k.unread(u))
	since := fmt.Sprint(time.Now().Add(-OnlineWindow).UnixMilli())
	online := make(map[store.UserID]*redis.IntCmd, len(people))
	for _, f := range people {
		online[f] = pipe.ZCount(ctx, p.k.devices(f), since, "+inf")
	}
	last := make(map[string]*redis.StringCmd, len(convs))
	for _, c := range convs {
		last[c] = pipe.LIndex(ctx, p.k.hist(c), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil && unread.Err() != nil {
		return Summary{}, unavailable("read summary", err)
	}
	s := Summary{Unread: map[string]int64{}, Online: map[store.UserID]bool{}, Last: map[string]json.RawMessage{}}
	for k, v := range unread.Val() {
		if strings.IndexByte(k, ':') >= 0 {
			continue // <conv>:read, :last, :seen
		}
		var n int64
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			s.Unread[k] = n
		}
	}
	for f, c := range online {
		s.Online[f] = c.Val() > 0
	}
	for c, cmd := range last {
		if cmd.Err() == nil && cmd.Val() != "" {
			s.Last[c] = json.RawMessage(cmd.Val())
		}
	}
	return s, nil
}
