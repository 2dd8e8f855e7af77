package plane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// fakeAccess answers rights from maps, for plane tests without SQL, and
// counts the questions (what would be SQL queries).
type fakeAccess struct {
	friends map[[2]store.UserID]bool
	members map[store.GroupID][]store.UserID
	asked   atomic.Int64
}

func (f *fakeAccess) AreFriends(_ context.Context, a, b store.UserID) (bool, error) {
	f.asked.Add(1)
	if a > b {
		a, b = b, a
	}
	return f.friends[[2]store.UserID{a, b}], nil
}

func (f *fakeAccess) MemberIDs(_ context.Context, g store.GroupID) ([]store.UserID, error) {
	f.asked.Add(1)
	return f.members[g], nil
}

func newPlane(t *testing.T, o plane.Options) (*plane.Plane, *redis.Client, *fakeAccess) {
	t.Helper()
	srv := storetest.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	o.Prefix = storetest.Prefix(t)
	acc := &fakeAccess{friends: map[[2]store.UserID]bool{}, members: map[store.GroupID][]store.UserID{}}
	p := plane.New(rdb, rdb, acc, o)
	t.Cleanup(p.Close)
	return p, rdb, acc
}

func TestPlaneSendPollAck(t *testing.T) {
	ctx := context.Background()
	p, rdb, acc := newPlane(t, plane.Options{})
	acc.friends[[2]store.UserID{1, 2}] = true
	if err := p.RegisterDevice(ctx, 2, "b1"); err != nil {
		t.Fatal(err)
	}
	conv := store.DirectConv(1, 2)
	for i := range 3 {
		s, err := p.Send(ctx, plane.Outgoing{From: 1, FromDevice: "a1", Conv: conv, To: 2, Body: fmt.Sprint("hi ", i), ClientID: fmt.Sprint("c", i)})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		var m store.Message
		if err := json.Unmarshal(s.Message, &m); err != nil {
			t.Fatalf("message %s: %v", s.Message, err)
		}
		if m.Seq != int64(i+1) || m.From != 1 || m.To != 2 || m.Type != "single" || m.TS == 0 {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
	st, err := p.Poll(ctx, 2, "b1", -1, 0, plane.PollStart, "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != plane.PollEvents || len(st.Events) != 3 {
		t.Fatalf("poll = %+v", st)
	}
	last := plane.EventID(st.Events[2])
	// Not acknowledged: answered again.
	st2, err := p.Poll(ctx, 2, "b1", -1, 0, plane.PollStart, "")
	if err != nil || len(st2.Events) != 3 {
		t.Fatalf("re-poll = %+v, %v", st2, err)
	}
	st3, err := p.Poll(ctx, 2, "b1", last, 0, plane.PollStart, "")
	if err != nil || st3.Outcome != plane.PollEmpty {
		t.Fatalf("after ack = %+v, %v", st3, err)
	}
	// Retry with the same client_id answers the first message.
	s, err := p.Send(ctx, plane.Outgoing{From: 1, Conv: conv, To: 2, Body: "other", ClientID: "c0"})
	if err != nil || !s.Duplicate {
		t.Fatalf("dup = %+v, %v", s, err)
	}
	msgs, more, err := p.History(ctx, 1, conv, 0, 2)
	if err != nil || len(msgs) != 2 || !more {
		t.Fatalf("history = %d %v %v", len(msgs), more, err)
	}
	woke := make(chan bool)
	go func() {
		ok, _ := p.Wait(ctx, 2, "b1", 5*time.Second)
		woke <- ok
	}()
	// Send only once the wait blocks in Redis, so that only a wake-up can
	// answer it (a send before it would be found without one).
	storetest.WaitFor(t, 5*time.Second, "the wait to block", func() bool {
		info, _ := rdb.Info(ctx, "clients").Result()
		return strings.Contains(info, "blocked_clients:1\r\n")
	})
	if _, err := p.Send(ctx, plane.Outgoing{From: 1, Conv: conv, To: 2, Body: "late"}); err != nil {
		t.Fatal(err)
	}
	if !<-woke {
		t.Fatal("wait did not wake")
	}
}

// A device unseen longer than DEVICE_TTL gets resync on its next poll even
// when nothing has pruned it: its lists expired with it.
func TestPlaneStaleDeviceResyncsWithoutAPrune(t *testing.T) {
	ctx := context.Background()
	p, _, _ := newPlane(t, plane.Options{DeviceTTL: time.Second})
	if err := p.RegisterDevice(ctx, 5, "d1"); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Poll(ctx, 5, "d1", -1, 0, plane.PollStart, ""); err != nil || st.Outcome != plane.PollEmpty {
		t.Fatalf("fresh device: %+v %v", st, err)
	}
	time.Sleep(1500 * time.Millisecond) // the TTL is the condition under test
	st, err := p.Poll(ctx, 5, "d1", -1, 0, plane.PollStart, "")
	if err != nil || st.Outcome != plane.PollResync {
		t.Fatalf("stale device: %+v %v", st, err)
	}
}

// Commands Redis runs per poll step, counted by INFO commandstats, so a
// change that makes the hot scripts heavier shows up here.
func TestPlaneCommandsPerMessage(t *testing.T) {
	ctx := context.Background()
	srv := storetest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	acc := &fakeAccess{friends: map[[2]store.UserID]bool{{1, 2}: true}, members: map[store.GroupID][]store.UserID{}}
	p := plane.New(rdb, rdb, acc, plane.Options{Prefix: "wc:"})
	t.Cleanup(p.Close)
	conv := store.DirectConv(1, 2)
	p.RegisterDevice(ctx, 2, "b")
	p.RegisterDevice(ctx, 1, "a")
	// Warm up: rebuild the pair key, load scripts.
	p.Send(ctx, plane.Outgoing{From: 1, FromDevice: "a", Conv: conv, To: 2, Body: "warm", ClientID: "w"})
	st, _ := p.Poll(ctx, 2, "b", -1, 0, plane.PollStart, "")
	cursor := plane.EventID(st.Events[len(st.Events)-1])
	rdb.ConfigResetStat(ctx)
	const n = 50
	for i := range n {
		if _, err := p.Send(ctx, plane.Outgoing{From: 1, FromDevice: "a", Conv: conv, To: 2, Body: "x", ClientID: fmt.Sprint("c", i)}); err != nil {
			t.Fatal(err)
		}
		// The receiver: a poll that acknowledges the last answer and finds
		// the new message, as one after a wake-up would.
		st, err := p.Poll(ctx, 2, "b", cursor, 0, plane.PollStart, "")
		if err != nil || len(st.Events) != 1 {
			t.Fatalf("poll %d: %+v %v", i, st, err)
		}
		cursor = plane.EventID(st.Events[0])
	}
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, line := range strings.Split(info, "\r\n") {
		if i := strings.Index(line, ":calls="); i > 0 && !strings.HasPrefix(line, "cmdstat_info") {
			var calls int
			fmt.Sscanf(line[i+len(":calls="):], "%d", &calls)
			total += calls
		}
	}
	perMsg := float64(total) / n
	t.Logf("Redis commands per one-to-one message (send + one poll), scripts' inner commands included: %.1f", perMsg)
	if perMsg > 42 {
		t.Fatalf("%.1f commands per message; the hot scripts got heavier", perMsg)
	}
}

// A poll that will not wait (timeout=0) leaves no "waiting" mark, so the
// next poll pushes no wake marker for a waiter that does not exist.
func TestPlaneInstantPollIsNotMarkedWaiting(t *testing.T) {
	ctx := context.Background()
	p, rdb, _ := newPlane(t, plane.Options{})
	prefix := p.Options().Prefix
	if err := p.RegisterDevice(ctx, 9, "d"); err != nil {
		t.Fatal(err)
	}
	for mode, want := range map[string]string{plane.PollNow: "", plane.PollStart: ":w"} {
		if _, err := p.Poll(ctx, 9, "d", -1, 0, mode, ""); err != nil {
			t.Fatal(err)
		}
		gen, err := rdb.Get(ctx, prefix+"pollgen:{u:9}:d").Result()
		if err != nil || strings.HasSuffix(gen, ":w") != (want != "") {
			t.Fatalf("after a %s poll, pollgen = %q (%v)", mode, gen, err)
		}
	}
}

// On a single Redis a group up to 512 members is delivered by the send
// script itself; a larger one by a pipeline of delivery scripts. Both reach
// every member's device once, and leave a client_id record of only its seq.
func TestGroupSendDeliversInScriptOrByPipeline(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{40, 600} {
		p, rdb, acc := newPlane(t, plane.Options{})
		g := store.GroupID(7)
		for i := 1; i <= n; i++ {
			acc.members[g] = append(acc.members[g], store.UserID(i))
			if err := p.RegisterDevice(ctx, store.UserID(i), "d"); err != nil {
				t.Fatal(err)
			}
		}
		conv := store.GroupConv(g)
		if err := p.LoadScripts(ctx); err != nil {
			t.Fatal(err)
		}
		rdb.ConfigResetStat(ctx)
		sent, err := p.Send(ctx, plane.Outgoing{From: 1, FromDevice: "d", Conv: conv, To: int64(g), Body: "hello all", ClientID: "c1"})
		if err != nil || sent.Recipients != n {
			t.Fatalf("%d members: sent %+v, %v", n, sent, err)
		}
		// The first call finds no members key and rebuilds it; then one
		// script, or one more per member.
		stats, _ := rdb.Info(ctx, "commandstats").Result()
		want := "cmdstat_evalsha:calls=3,"
		if n > 512 {
			want = fmt.Sprintf("cmdstat_evalsha:calls=%d,", 3+n)
		}
		if !strings.Contains(stats, want) {
			t.Fatalf("%d members: want %s in\n%s", n, want, stats)
		}
		prefix := p.Options().Prefix
		for i := 2; i <= n; i++ {
			inbox, err := rdb.LRange(ctx, fmt.Sprintf("%sinbox:{u:%d}:d", prefix, i), 0, -1).Result()
			if err != nil || len(inbox) != 1 || !strings.Contains(inbox[0], `"body":"hello all"`) {
				t.Fatalf("%d members: member %d's inbox %q %v", n, i, inbox, err)
			}
		}
		if inbox, _ := rdb.LLen(ctx, prefix+"inbox:{u:1}:d").Result(); inbox != 0 {
			t.Fatalf("%d members: the sending device got its own message", n)
		}
		rec, err := rdb.HGetAll(ctx, prefix+"cid:{c:"+conv.String()+"}:1:c1").Result()
		if err != nil || len(rec) != 1 || rec["seq"] != "1" {
			t.Fatalf("%d members: client_id record %v %v", n, rec, err)
		}
	}
}
