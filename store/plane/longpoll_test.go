package plane_test

import (
	"context"
	"testing"
	"time"

	"webchat/store/plane"
)

// The long-poll behind one call, both ways of waiting: an event that
// comes while the poll waits is its answer; a poll with nothing to answer
// times out with its cursor; a device whose session is gone is logged
// out; a node full of waiting polls refuses one more; a drain answers a
// waiting poll at once.
func TestPollerNext(t *testing.T) {
	for _, way := range []string{"subscribe", "blmove"} {
		t.Run(way, func(t *testing.T) {
			ctx := context.Background()
			p, rdb, _ := newPlane(t, plane.Options{})
			o := plane.PollerOptions{Slice: time.Second}
			if way == "subscribe" {
				o.Wakeups = subscribed(t, p)
			}
			pl := p.NewPoller(o)
			if err := p.RegisterDevice(ctx, 2, "b1"); err != nil {
				t.Fatal(err)
			}
			if err := p.SaveSession(ctx, "tok", []byte("x"), time.Hour); err != nil {
				t.Fatal(err)
			}
			q := plane.PollQuery{User: 2, Device: "b1", Token: "tok", Cursor: -1, Timeout: 5 * time.Second}

			// An event while it waits.
			time.AfterFunc(300*time.Millisecond, func() {
				p.Publish(ctx, []plane.Delivery{{To: 2, Payload: []byte(`{"type":"hello"}`)}})
			})
			start := time.Now()
			ans, err := pl.Next(ctx, q)
			if err != nil || ans.Outcome != plane.PollEvents || len(ans.Events) != 1 {
				t.Fatalf("waited for an event: %+v %v", ans, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("the event took %v", d)
			}
			q.Cursor = plane.EventID(ans.Events[0])

			// Nothing comes: the timeout, with the cursor to send next.
			q.Timeout = time.Second
			ans, err = pl.Next(ctx, q)
			if err != nil || ans.Outcome != plane.PollEmpty || ans.EventID != q.Cursor {
				t.Fatalf("timeout: %+v %v (cursor %d)", ans, err, q.Cursor)
			}

			// A full node refuses to wait.
			full := p.NewPoller(plane.PollerOptions{Wakeups: o.Wakeups, Slice: time.Second, MaxWaiting: 1})
			waiting := make(chan plane.Answer, 1)
			q3 := plane.PollQuery{User: 3, Device: "c1", Token: "tok", Cursor: -1, Timeout: 5 * time.Second}
			if err := p.RegisterDevice(ctx, 3, "c1"); err != nil {
				t.Fatal(err)
			}
			go func() {
				a, _ := full.Next(ctx, q3)
				waiting <- a
			}()
			for full.Waiting() == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			if ans, err := full.Next(ctx, q); err != nil || ans.Outcome != plane.PollRefused {
				t.Fatalf("past MaxWaiting: %+v %v", ans, err)
			}
			// A drain answers the waiting poll at once.
			start = time.Now()
			if err := full.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if a := <-waiting; a.Outcome != plane.PollDrained || time.Since(start) > 2*time.Second {
				t.Fatalf("drained: %+v after %v", a, time.Since(start))
			}

			// The session ends and the device goes: logged out.
			rdb.Del(ctx, p.Options().Prefix+"session:tok")
			if err := p.UnregisterDevice(ctx, 2, "b1"); err != nil {
				t.Fatal(err)
			}
			if ans, err := pl.Next(ctx, q); err != nil || ans.Outcome != plane.PollLoggedOut {
				t.Fatalf("after log-out: %+v %v", ans, err)
			}
		})
	}
}
