package plane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/storetest"
)

// Benchmarks of the message plane's hot paths against a real redis-server:
// a send (history script, pipelined fan-out, client_id completion), a poll
// step with and without events, and the JSON of events. Each reports
// roundtrips/op, counted by a go-redis hook: one per command and one per
// pipeline, which is what a node waits for.

// roundTrips counts what a go-redis client sends: one round trip per
// command or pipeline.
type roundTrips struct {
	trips, cmds atomic.Int64
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.trips.Add(1)
		r.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.trips.Add(1)
		r.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// benchRights allows every pair, and knows one group's members.
type benchRights struct{ members []store.UserID }

func (benchRights) AreFriends(context.Context, store.UserID, store.UserID) (bool, error) {
	return true, nil
}

func (r benchRights) MemberIDs(context.Context, store.GroupID) ([]store.UserID, error) {
	return r.members, nil
}

type benchPlane struct {
	p      *plane.Plane
	rdb    *redis.Client
	rt     *roundTrips
	prefix string
}

func newBenchPlane(tb testing.TB, members []store.UserID) *benchPlane {
	tb.Helper()
	srv := storetest.Redis(tb)
	rt := &roundTrips{}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	block := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, ReadBufferSize: 4096, WriteBufferSize: 4096})
	rdb.AddHook(rt)
	block.AddHook(rt)
	tb.Cleanup(func() { rdb.Close(); block.Close() })
	prefix := storetest.Prefix(tb)
	// Inboxes are emptied by the benchmarks themselves: a cap would drop
	// the devices halfway and make the rest of the run cheaper.
	p := plane.New(rdb, block, benchRights{members}, plane.Options{Prefix: prefix, InboxCap: 1 << 30})
	tb.Cleanup(p.Close)
	if err := p.LoadScripts(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &benchPlane{p: p, rdb: rdb, rt: rt, prefix: prefix}
}

// clearInboxes empties the devices' inboxes (the key schema is the
// operator's contract: wc:inbox:{u:<uid>}:<dev>).
func (bp *benchPlane) clearInboxes(tb testing.TB, users []store.UserID, dev func(store.UserID) string) {
	pipe := bp.rdb.Pipeline()
	for _, u := range users {
		pipe.Del(context.Background(), fmt.Sprintf("%sinbox:{u:%d}:%s", bp.prefix, u, dev(u)))
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

func devOf(u store.UserID) string { return fmt.Sprintf("d%d", u) }

// perOp reports round trips and commands per operation since start.
func (bp *benchPlane) perOp(b *testing.B, trips0, cmds0 int64, ops int) {
	b.ReportMetric(float64(bp.rt.trips.Load()-trips0)/float64(ops), "roundtrips/op")
	b.ReportMetric(float64(bp.rt.cmds.Load()-cmds0)/float64(ops), "rediscmds/op")
}

var benchBody = strings.Repeat("x", 64)

// BenchmarkSendDirect is one 1:1 send with a client_id: the send script,
// one pipelined delivery to both users, the client_id completion.
func BenchmarkSendDirect(b *testing.B) {
	ctx := context.Background()
	bp := newBenchPlane(b, nil)
	users := []store.UserID{1, 2}
	for _, u := range users {
		if err := bp.p.RegisterDevice(ctx, u, devOf(u)); err != nil {
			b.Fatal(err)
		}
	}
	conv := store.DirectConv(1, 2)
	send := func(i int) {
		if _, err := bp.p.Send(ctx, plane.Outgoing{From: 1, FromDevice: devOf(1), Conv: conv, To: 2, Body: benchBody, ClientID: fmt.Sprint("c", i)}); err != nil {
			b.Fatal(err)
		}
	}
	send(-1) // rebuilds the pair key from "SQL" once
	t0, c0 := bp.rt.trips.Load(), bp.rt.cmds.Load()
	n := 0
	for b.Loop() {
		send(n)
		n++
		if n%1000 == 0 {
			b.StopTimer()
			bp.clearInboxes(b, users, devOf)
			t0, c0 = t0+1, c0+int64(len(users))
			b.StartTimer()
		}
	}
	bp.perOp(b, t0, c0, n)
}

// BenchmarkSendGroup is one group send fanned out to every member's
// device, pipelined.
func BenchmarkSendGroup(b *testing.B) {
	for _, size := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("members=%d", size), func(b *testing.B) {
			ctx := context.Background()
			members := make([]store.UserID, size)
			for i := range members {
				members[i] = store.UserID(i + 1)
			}
			bp := newBenchPlane(b, members)
			for _, u := range members {
				if err := bp.p.RegisterDevice(ctx, u, devOf(u)); err != nil {
					b.Fatal(err)
				}
			}
			conv := store.GroupConv(7)
			send := func(i int) {
				if _, err := bp.p.Send(ctx, plane.Outgoing{From: 1, FromDevice: devOf(1), Conv: conv, To: 7, Body: benchBody, ClientID: fmt.Sprint("c", i)}); err != nil {
					b.Fatal(err)
				}
			}
			send(-1)
			t0, c0 := bp.rt.trips.Load(), bp.rt.cmds.Load()
			n := 0
			for b.Loop() {
				send(n)
				n++
				if n%50 == 0 {
					b.StopTimer()
					bp.clearInboxes(b, members, devOf)
					t0, c0 = t0+1, c0+int64(size)
					b.StartTimer()
				}
			}
			bp.perOp(b, t0, c0, n)
			b.ReportMetric(float64(n*(size-1))/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkPollEvents is one poll step that acknowledges the previous
// answer and answers the one event waiting (published outside the timer).
func BenchmarkPollEvents(b *testing.B) {
	ctx := context.Background()
	bp := newBenchPlane(b, nil)
	const u = store.UserID(2)
	if err := bp.p.RegisterDevice(ctx, u, devOf(u)); err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"type":"message","message":{"conv":"d1-2","seq":1,"from":1,"to":2,"type":"single","body":"` + benchBody + `","ts":1700000000000}}`)
	cursor := int64(-1)
	var trips, cmds int64
	n := 0
	for b.Loop() {
		b.StopTimer()
		if _, err := bp.p.Publish(ctx, []plane.Delivery{{To: u, Payload: payload, Conv: "d1-2", Seq: int64(n + 1), Unread: true}}); err != nil {
			b.Fatal(err)
		}
		t0, c0 := bp.rt.trips.Load(), bp.rt.cmds.Load()
		b.StartTimer()
		st, err := bp.p.Poll(ctx, u, devOf(u), cursor, 0, plane.PollStart, "")
		if err != nil || st.Outcome != plane.PollEvents || len(st.Events) != 1 {
			b.Fatalf("poll = %+v, %v", st, err)
		}
		trips += bp.rt.trips.Load() - t0
		cmds += bp.rt.cmds.Load() - c0
		cursor = plane.EventID(st.Events[0])
		n++
	}
	b.ReportMetric(float64(trips)/float64(n), "roundtrips/op")
	b.ReportMetric(float64(cmds)/float64(n), "rediscmds/op")
}

// BenchmarkPollEmpty is one poll step that finds nothing (the check a poll
// makes before and between its blocking waits).
func BenchmarkPollEmpty(b *testing.B) {
	ctx := context.Background()
	bp := newBenchPlane(b, nil)
	const u = store.UserID(2)
	if err := bp.p.RegisterDevice(ctx, u, devOf(u)); err != nil {
		b.Fatal(err)
	}
	st, err := bp.p.Poll(ctx, u, devOf(u), -1, 0, plane.PollStart, "")
	if err != nil {
		b.Fatal(err)
	}
	t0, c0 := bp.rt.trips.Load(), bp.rt.cmds.Load()
	n := 0
	for b.Loop() {
		st, err = bp.p.Poll(ctx, u, devOf(u), st.EventID, 0, plane.PollStart, "")
		if err != nil || st.Outcome != plane.PollEmpty {
			b.Fatalf("poll = %+v, %v", st, err)
		}
		n++
	}
	bp.perOp(b, t0, c0, n)
}

// BenchmarkEncodeEvent is the JSON of a non-message event (messages are
// built by the send script and never re-encoded).
func BenchmarkEncodeEvent(b *testing.B) {
	m := store.Message{Conv: "d12345-67890", Seq: 123456, From: 12345, To: 67890, Type: store.TypeSingle, Body: benchBody, TS: 1700000000000, ClientID: "c-0123456789"}
	for b.Loop() {
		if _, err := plane.EncodeEvent("message", "message", m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvent is what a client (or the load generator) pays per
// message event.
func BenchmarkDecodeEvent(b *testing.B) {
	ev := []byte(`{"id":42,"type":"message","message":{"conv":"d12345-67890","seq":123456,"from":12345,"to":67890,"type":"single","body":"` + benchBody + `","ts":1700000000000,"client_id":"c-0123456789"}}`)
	var out struct {
		ID      int64          `json:"id"`
		Type    string         `json:"type"`
		Message *store.Message `json:"message"`
	}
	for b.Loop() {
		if err := json.Unmarshal(ev, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPlaneRoundTrips pins the Redis round trips of the plane's hot paths
// (DESIGN.md: history script, one pipelined delivery, client_id completion;
// one script per poll step).
func TestPlaneRoundTrips(t *testing.T) {
	ctx := context.Background()
	bp := newBenchPlane(t, nil)
	for _, u := range []store.UserID{1, 2} {
		if err := bp.p.RegisterDevice(ctx, u, devOf(u)); err != nil {
			t.Fatal(err)
		}
	}
	conv := store.DirectConv(1, 2)
	if _, err := bp.p.Send(ctx, plane.Outgoing{From: 1, FromDevice: devOf(1), Conv: conv, To: 2, Body: "warm", ClientID: "w"}); err != nil {
		t.Fatal(err)
	}
	count := func(f func()) int64 {
		t0 := bp.rt.trips.Load()
		f()
		return bp.rt.trips.Load() - t0
	}
	send := count(func() {
		if _, err := bp.p.Send(ctx, plane.Outgoing{From: 1, FromDevice: devOf(1), Conv: conv, To: 2, Body: "hi", ClientID: "c1"}); err != nil {
			t.Fatal(err)
		}
	})
	var st plane.PollStep
	poll := count(func() {
		var err error
		if st, err = bp.p.Poll(ctx, 2, devOf(2), -1, 0, plane.PollStart, ""); err != nil || st.Outcome != plane.PollEvents {
			t.Fatalf("poll = %+v, %v", st, err)
		}
	})
	t.Logf("plane round trips: send %d, poll step with events %d", send, poll)
	if send > 3 {
		t.Errorf("a 1:1 send took %d round trips, want at most 3 (send script, delivery pipeline, client_id completion)", send)
	}
	if poll > 1 {
		t.Errorf("a poll step took %d round trips, want 1", poll)
	}
}
