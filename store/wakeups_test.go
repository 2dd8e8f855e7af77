package store_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"webchat/store"
)

// A publish to the node's channel wakes every waiter of that device on the
// node, and only them; a forgotten waiter is not woken.
func TestWakeupsWakeEachWaiterOfTheDevice(t *testing.T) {
	ctx := context.Background()
	p, rdb, _ := newPlane(t, store.PlaneOptions{})
	w, err := p.Subscribe(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a, b, c := w.Register(1, "d"), w.Register(1, "d"), w.Register(1, "d")
	other := w.Register(1, "e")
	w.Unregister(b)
	defer func() { w.Unregister(a); w.Unregister(c); w.Unregister(other) }()

	channel := p.Options().Prefix + "wake:" + w.Node()
	if n, err := rdb.Publish(ctx, channel, "{u:1}d").Result(); err != nil || n != 1 {
		t.Fatalf("publish: %d receivers, %v", n, err)
	}
	for name, wt := range map[string]*store.Waiter{"first": a, "third": c} {
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
