package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"webchat/store"
)

// Sessions tracked as a set by an older node are kept when the cap's zset
// takes over, and log out everywhere still finds every one.
func TestTrackSessionTakesOverAnOlderSet(t *testing.T) {
	p, rdb, _ := newPlane(t, store.PlaneOptions{MaxDevices: 3})
	ctx := context.Background()
	key := p.Options().Prefix + "sessions:{u:4}"
	if err := rdb.SAdd(ctx, key, "old1", "old2").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"old1", "old2", "new1"} {
		rdb.Set(ctx, p.Options().Prefix+"session:"+tok, "x", time.Hour)
	}
	if err := p.TrackSession(ctx, 4, "new1", time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil || !slices.Equal(got, []string{"old1", "old2", "new1"}) && !slices.Equal(got, []string{"old2", "old1", "new1"}) {
		t.Fatalf("sessions %v %v", got, err)
	}
	// A fourth session ends the oldest (one of the set's).
	rdb.Set(ctx, p.Options().Prefix+"session:new2", "x", time.Hour)
	if err := p.TrackSession(ctx, 4, "new2", time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.ZCard(ctx, key).Result(); n != 3 {
		t.Fatalf("%d sessions tracked, want 3", n)
	}
	if n, _ := rdb.Exists(ctx, p.Options().Prefix+"session:old1", p.Options().Prefix+"session:old2").Result(); n != 1 {
		t.Fatalf("%d of the two old sessions left, want 1", n)
	}
	if err := p.EndAllSessions(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, p.Options().Prefix+"session:new1", p.Options().Prefix+"session:new2", key).Result(); n != 0 {
		t.Fatalf("%d keys left after log out everywhere", n)
	}
}
