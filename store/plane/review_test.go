package plane_test

// Tests for what a code review found in the plane (issue 14, items 1–5).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"webchat/store"
	"webchat/store/plane"
)

// cancelAfterHook cancels a context once a pipeline holding a command whose
// arguments contain mark has been answered: the caller "hangs up" right
// after that step.
type cancelAfterHook struct {
	mark   string
	cancel context.CancelFunc
}

func (h cancelAfterHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h cancelAfterHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h cancelAfterHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			for _, a := range c.Args() {
				if s, ok := a.(string); ok && strings.Contains(s, h.mark) {
					h.cancel()
					return err
				}
			}
		}
		return err
	}
}

// A sender who hangs up once the message is stored does not leave it
// delivered to nobody: a group too big for the send script to deliver
// itself (delivery is then a second, pipelined step, as on a cluster).
func TestSendDeliversAStoredMessageAfterTheSenderHangsUp(t *testing.T) {
	p, rdb, acc := newPlane(t, plane.Options{})
	g := store.GroupID(3)
	for i := 1; i <= 520; i++ { // above the script's 512
		acc.members[g] = append(acc.members[g], store.UserID(i))
	}
	ctx := context.Background()
	if err := p.RegisterDevice(ctx, 2, "d"); err != nil {
		t.Fatal(err)
	}
	// Rebuild the members key first, so that the send below is one script.
	if _, _, err := p.History(ctx, 1, store.GroupConv(g), 0, 1); err != nil {
		t.Fatal(err)
	}
	sendCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rdb.AddHook(cancelAfterHook{mark: ":{c:g3}:1:hang", cancel: cancel}) // the send's client_id key
	if _, err := p.Send(sendCtx, plane.Outgoing{From: 1, Conv: store.GroupConv(g), To: int64(g), Body: "stored", ClientID: "hang"}); err != nil {
		t.Logf("send answered %v (the sender had gone)", err)
	}
	if sendCtx.Err() == nil {
		t.Fatal("the hook never cancelled the send: the test did not test anything")
	}
	st, err := p.Poll(ctx, 2, "d", -1, 0, plane.PollStart, "")
	if err != nil || len(st.Events) != 1 || !strings.Contains(string(st.Events[0]), `"body":"stored"`) {
		t.Fatalf("member 2's poll after the sender hung up: %+v %v", st, err)
	}
}

// The revoke after the SQL commit runs even when the caller has hung up:
// otherwise a rebuild that read SQL before the commit puts a removed
// member's right back for good.
func TestRevokeFinishesAfterTheCallerHangsUp(t *testing.T) {
	p, rdb, acc := newPlane(t, plane.Options{})
	g := store.GroupID(4)
	acc.members[g] = []store.UserID{1, 2}
	ctx := context.Background()
	conv := store.GroupConv(g)
	if _, _, err := p.History(ctx, 1, conv, 0, 1); err != nil { // builds the members key
		t.Fatal(err)
	}
	membersKey := p.Options().Prefix + "members:{c:g4}"
	revokeCtx, cancel := context.WithCancel(ctx)
	err := p.Revoke(revokeCtx, conv, 2, func(ctx context.Context) (bool, error) {
		acc.members[g] = []store.UserID{1}
		// A rebuild that read SQL before this commit writes now, and the
		// caller hangs up as the commit returns.
		rdb.SAdd(ctx, membersKey, 2)
		cancel()
		return false, nil
	})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if in, err := rdb.SIsMember(ctx, membersKey, 2).Result(); err != nil || in {
		t.Fatalf("the removed member is in the members key again (%v, %v)", in, err)
	}
	if _, err := p.Send(ctx, plane.Outgoing{From: 2, Conv: conv, To: int64(g), Body: "still here?"}); !errors.Is(err, store.ErrNotMember) {
		t.Fatalf("the removed member's send: %v", err)
	}
}

// A retry whose client_id names a message that has left the history window
// answers ErrAlreadySent, never a message without its body and time.
func TestRetryAfterTheHistoryWindowIsAConflict(t *testing.T) {
	p, _, acc := newPlane(t, plane.Options{HistoryCap: 3})
	acc.friends[[2]store.UserID{1, 2}] = true
	ctx := context.Background()
	conv := store.DirectConv(1, 2)
	send := func(body, cid string) (plane.Sent, error) {
		return p.Send(ctx, plane.Outgoing{From: 1, Conv: conv, To: 2, Body: body, ClientID: cid})
	}
	if _, err := send("first", "c0"); err != nil {
		t.Fatal(err)
	}
	// Within the window the retry answers the first message.
	if s, err := send("again", "c0"); err != nil || !s.Duplicate || !strings.Contains(string(s.Message), `"body":"first"`) {
		t.Fatalf("retry within the window: %s %+v %v", s.Message, s, err)
	}
	for i := range 3 {
		if _, err := send("more", fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := send("again", "c0")
	if !errors.Is(err, store.ErrAlreadySent) {
		t.Fatalf("retry after the window: %s, %v; want ErrAlreadySent", s.Message, err)
	}
}

// Each (conv, seq) counts once as unread, however often it is delivered,
// including out of seq order; a read clears what it covers.
func TestUnreadCountsEachMessageOnce(t *testing.T) {
	p, rdb, _ := newPlane(t, plane.Options{})
	ctx := context.Background()
	conv := store.DirectConv(1, 2).String()
	deliver := func(seq int64) {
		t.Helper()
		payload := fmt.Appendf(nil, `{"type":"message","message":{"conv":%q,"seq":%d}}`, conv, seq)
		if _, err := p.Publish(ctx, []plane.Delivery{{To: 2, Payload: payload, Conv: conv, Seq: seq, Unread: true}}); err != nil {
			t.Fatal(err)
		}
	}
	unread := func() int64 {
		t.Helper()
		s, err := p.Summary(ctx, 2, nil, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return s.Unread[conv]
	}
	steps := []struct {
		seq  int64
		want int64
	}{
		{1, 1}, {1, 1}, // a repeat of the newest
		{3, 2}, {2, 3}, // out of order: 2 after 3 is new
		{2, 3}, {3, 3}, {1, 3}, // repeats below the newest
		{1500, 4}, {1499, 5}, {1499, 5}, // a jump; just below, new, then a repeat
		{1460, 6}, {1460, 6}, // 40 below the newest: within the ring, new, then a repeat
		{5700, 7}, {1500, 8}, // more than a ring (4,096) below the newest: nothing tells, counted
	}
	for _, s := range steps {
		deliver(s.seq)
		if got := unread(); got != s.want {
			t.Fatalf("after seq %d: unread %d, want %d", s.seq, got, s.want)
		}
	}
	// A read is capped at the conversation's last seq: say there are 5,701.
	if err := rdb.Set(ctx, p.Options().Prefix+"seq:{c:"+conv+"}", 5701, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.MarkRead(ctx, 2, "", store.DirectConv(1, 2), 5700); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, p.Options().Prefix+"seen:{u:2}:"+conv).Result(); n != 0 {
		t.Fatal("the read left the counted-seqs ring behind")
	}
	deliver(5700)
	deliver(5701)
	if got := unread(); got != 1 {
		t.Fatalf("after reading up to 5700 and a repeat of it and a new 5701: unread %d, want 1", got)
	}
}

// A group member whom the Redis members key misses (a write-through that
// failed) can read history and mark it read, as a send repairs it.
func TestHistoryAndReadRepairAStaleMembersKey(t *testing.T) {
	p, _, acc := newPlane(t, plane.Options{})
	g := store.GroupID(5)
	acc.members[g] = []store.UserID{1, 2}
	ctx := context.Background()
	conv := store.GroupConv(g)
	if _, err := p.Send(ctx, plane.Outgoing{From: 1, Conv: conv, To: int64(g), Body: "hello"}); err != nil {
		t.Fatal(err)
	}
	acc.members[g] = append(acc.members[g], 3) // in SQL; the write-through was lost
	msgs, _, err := p.History(ctx, 3, conv, 0, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("the new member's history: %d messages, %v", len(msgs), err)
	}
	acc.members[g] = append(acc.members[g], 4)
	if _, err := p.MarkRead(ctx, 4, "", conv, 1); err != nil {
		t.Fatalf("another new member's read: %v", err)
	}
	// Someone SQL does not know still gets nothing.
	if _, _, err := p.History(ctx, 9, conv, 0, 10); !errors.Is(err, store.ErrConvNotFound) {
		t.Fatalf("a stranger's history: %v", err)
	}
}

// A refused send or read reaches SQL once, not on every try, and a grant
// lifts the refusal at once.
func TestRefusalsAreCachedUntilAGrant(t *testing.T) {
	p, _, acc := newPlane(t, plane.Options{})
	ctx := context.Background()
	g := store.GroupID(6)
	acc.members[g] = []store.UserID{1, 2}
	group := store.GroupConv(g)
	direct := store.DirectConv(7, 8)
	tries := []struct {
		name      string
		try       func() error
		forbidden error
	}{
		{"a stranger's group send", func() error {
			_, err := p.Send(ctx, plane.Outgoing{From: 9, Conv: group, To: int64(g), Body: "let me in"})
			return err
		}, store.ErrNotMember},
		{"a stranger's group history", func() error {
			_, _, err := p.History(ctx, 9, group, 0, 10)
			return err
		}, store.ErrConvNotFound},
		{"a send to someone who is not a friend", func() error {
			_, err := p.Send(ctx, plane.Outgoing{From: 7, Conv: direct, To: 8, Body: "hi"})
			return err
		}, store.ErrNotFriends},
	}
	for _, tr := range tries {
		before := acc.asked.Load()
		for range 20 {
			if err := tr.try(); !errors.Is(err, tr.forbidden) {
				t.Fatalf("%s: %v, want %v", tr.name, err, tr.forbidden)
			}
		}
		if n := acc.asked.Load() - before; n > 2 {
			t.Fatalf("%s: 20 tries asked SQL %d times", tr.name, n)
		}
	}
	acc.members[g] = append(acc.members[g], 9)
	if err := p.GrantMember(ctx, g, 9); err != nil {
		t.Fatal(err)
	}
	if err := tries[0].try(); err != nil {
		t.Fatalf("the new member's first send: %v", err)
	}
	acc.friends[[2]store.UserID{7, 8}] = true
	if err := p.GrantPair(ctx, 7, 8); err != nil {
		t.Fatal(err)
	}
	if err := tries[2].try(); err != nil {
		t.Fatalf("the new friend's first send: %v", err)
	}
	var m store.Message
	msgs, _, err := p.History(ctx, 9, group, 0, 10)
	if err != nil || len(msgs) != 1 || json.Unmarshal(msgs[0], &m) != nil || m.Body != "let me in" {
		t.Fatalf("the new member's history: %s %v", msgs, err)
	}
}

// The ring of counted seqs wraps: a long run of new messages keeps counting
// each once, and repeats inside the ring stay uncounted.
func TestUnreadRingWraps(t *testing.T) {
	p, _, _ := newPlane(t, plane.Options{})
	ctx := context.Background()
	conv := store.DirectConv(1, 2).String()
	deliver := func(seq int64) {
		t.Helper()
		payload := fmt.Appendf(nil, `{"type":"message","message":{"conv":%q,"seq":%d}}`, conv, seq)
		if _, err := p.Publish(ctx, []plane.Delivery{{To: 2, Payload: payload, Conv: conv, Seq: seq, Unread: true}}); err != nil {
			t.Fatal(err)
		}
	}
	for seq := int64(1); seq <= 200; seq++ {
		deliver(seq)
		if seq > 3 {
			deliver(seq - 3) // a repeat of one a little older
		}
		if seq%2 == 0 {
			deliver(seq) // and of the newest
		}
	}
	s, err := p.Summary(ctx, 2, nil, nil, false)
	if err != nil || s.Unread[conv] != 200 {
		t.Fatalf("unread %d (%v), want 200", s.Unread[conv], err)
	}
}
