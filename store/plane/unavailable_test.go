package plane_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/storetest"
)

// A call whose caller gave up (a client that hung up) is not an outage:
// its error is context.Canceled, never ErrUnavailable, so the gateway does
// not answer or log it as one (issue 14, item 8).
func TestCancelledCallIsNotUnavailable(t *testing.T) {
	p, _, _ := newPlane(t, plane.Options{})
	g := storetest.NewGraph(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range map[string]error{
		"script call": p.RegisterDevice(ctx, 1, "dev"),
		"pipeline":    p.TrackSession(ctx, 1, "token", "dev", time.Hour),
		"sql":         func() error { _, err := g.UserByID(ctx, 1); return err }(),
	} {
		if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled and not ErrUnavailable", name, err)
		}
	}
}
