package plane_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"webchat/store"
	"webchat/store/plane"
)

// A publish to the node's channel wakes every waiter of that device on the
// node, and only them; a forgotten waiter is not woken.
func TestWakeupsWakeEachWaiterOfTheDevice(t *testing.T) {
	ctx := context.Background()
	p, rdb, _ := newPlane(t, plane.Options{})
	w := subscribed(t, p)
	a, b, c := w.Register(1, "d"), w.Register(1, "d"), w.Register(1, "d")
	other := w.Register(1, "e")
	w.Unregister(b)
	defer func() { w.Unregister(a); w.Unregister(c); w.Unregister(other) }()

	channel := p.Options().Prefix + "wake:" + w.Node()
	if n, err := rdb.Publish(ctx, channel, "{u:1}d").Result(); err != nil || n != 1 {
		t.Fatalf("publish: %d receivers, %v", n, err)
	}
	for name, wt := range map[string]*plane.Waiter{"first": a, "third": c} {
		select {
		case <-wt.C:
		case <-time.After(5 * time.Second):
			t.Fatalf("the %s waiter was not woken", name)
		}
	}
	select {
	case <-b.C:
		t.Fatal("a forgotten waiter was woken")
	case <-other.C:
		t.Fatal("another device's waiter was woken")
	case <-time.After(100 * time.Millisecond):
	}
}

// A delivery to a device whose poll waits on a node's subscription puts
// the event straight into inflight and hands it to the node with the
// wake-up; a later event goes through the inbox, behind it. A waiter of
// an older generation (a superseded poll) gets a plain wake-up.
func TestDeliveryHandsTheEventToTheWaitingPoll(t *testing.T) {
	ctx := context.Background()
	p, rdb, acc := newPlane(t, plane.Options{})
	acc.friends[[2]store.UserID{1, 2}] = true
	w := subscribed(t, p)
	p.RegisterDevice(ctx, 2, "b")
	conv := store.DirectConv(1, 2)
	send := func(body string) {
		t.Helper()
		if _, err := p.Send(ctx, plane.Outgoing{From: 1, Conv: conv, To: 2, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	woken := func(wt *plane.Waiter) {
		t.Helper()
		select {
		case <-wt.C:
		case <-time.After(5 * time.Second):
			t.Fatal("not woken")
		}
	}

	old := w.Register(2, "b")
	defer w.Unregister(old)
	st, err := p.Poll(ctx, 2, "b", -1, 0, plane.PollStart, w.Node())
	if err != nil || st.Outcome != plane.PollEmpty {
		t.Fatalf("first poll: %+v %v", st, err)
	}
	old.Waiting(st.Gen)
	// A newer poll takes over: the older one is woken, with nothing.
	wt := w.Register(2, "b")
	defer w.Unregister(wt)
	st, err = p.Poll(ctx, 2, "b", -1, 0, plane.PollStart, w.Node())
	if err != nil || st.Outcome != plane.PollEmpty {
		t.Fatalf("second poll: %+v %v", st, err)
	}
	wt.Waiting(st.Gen)
	woken(old)

	send("one")
	send("two")
	var got []string
	for len(got) == 0 { // the wake-up of the takeover may come first
		woken(wt)
		got = wt.Events()
	}
	if len(got) != 1 || !strings.Contains(got[0], `"body":"one"`) {
		t.Fatalf("handed over %q, want the first message", got)
	}
	woken(old)
	if evs := old.Events(); len(evs) != 0 {
		t.Fatalf("the superseded poll was handed %q", evs)
	}
	prefix := p.Options().Prefix
	inflight, _ := rdb.LRange(ctx, prefix+"inflight:{u:2}:b", 0, -1).Result()
	inbox, _ := rdb.LRange(ctx, prefix+"inbox:{u:2}:b", 0, -1).Result()
	if len(inflight) != 1 || inflight[0] != got[0] || len(inbox) != 1 || !strings.Contains(inbox[0], `"body":"two"`) {
		t.Fatalf("inflight %q, inbox %q", inflight, inbox)
	}
	// The client acknowledges the handed-over event; the next poll answers
	// the second.
	st, err = p.Poll(ctx, 2, "b", plane.EventID(got[0]), 0, plane.PollStart, w.Node())
	if err != nil || st.Outcome != plane.PollEvents || len(st.Events) != 1 || !strings.Contains(st.Events[0], `"body":"two"`) {
		t.Fatalf("next poll: %+v %v", st, err)
	}
}

// subscribed starts the plane's wake-up subscription, closed with the test.
func subscribed(t *testing.T, p *plane.Plane) *plane.Wakeups {
	t.Helper()
	w, err := p.Subscribe(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}
