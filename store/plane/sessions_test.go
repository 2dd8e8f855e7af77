package plane_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store/plane"
)

// Sessions tracked as a set by an older node are kept when the cap's zset
// takes over, and log out everywhere still finds every one.
func TestTrackSessionTakesOverAnOlderSet(t *testing.T) {
	p, rdb, _ := newPlane(t, plane.Options{MaxDevices: 3})
	ctx := context.Background()
	key := p.Options().Prefix + "sessions:{u:4}"
	if err := rdb.SAdd(ctx, key, "old1", "old2").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"old1", "old2", "new1"} {
		rdb.Set(ctx, p.Options().Prefix+"session:"+tok, "x", time.Hour)
	}
	// The new sessions' devices poll; the old tokens' devices are unknown.
	seen := float64(time.Now().Add(time.Minute).UnixMilli())
	rdb.ZAdd(ctx, p.Options().Prefix+"devices:{u:4}", redis.Z{Score: seen, Member: "d1"}, redis.Z{Score: seen, Member: "d2"})
	if err := p.TrackSession(ctx, 4, "new1", "d1", time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil || !slices.Equal(got, []string{"old1", "old2", "new1|d1"}) && !slices.Equal(got, []string{"old2", "old1", "new1|d1"}) {
		t.Fatalf("sessions %v %v", got, err)
	}
	// A fourth session ends the oldest (one of the set's).
	rdb.Set(ctx, p.Options().Prefix+"session:new2", "x", time.Hour)
	if err := p.TrackSession(ctx, 4, "new2", "d2", time.Hour); err != nil {
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

// Past the cap, the session whose device was seen least recently ends, with
// its device and lists, whatever the order of the log-ins; a log-in of the
// same browser replaces its own token and ends nobody.
func TestTrackSessionEndsTheLeastRecentlySeen(t *testing.T) {
	p, rdb, _ := newPlane(t, plane.Options{MaxDevices: 3})
	ctx := context.Background()
	prefix := p.Options().Prefix
	now := time.Now().UnixMilli()
	// Three sessions: s1 logged in first but its device polls now; s2's
	// device has been idle longest.
	for i, seen := range []int64{now, now - 60_000, now - 10_000} {
		dev, tok := fmt.Sprint("d", i+1), fmt.Sprint("s", i+1)
		if err := p.RegisterDevice(ctx, 7, dev); err != nil {
			t.Fatal(err)
		}
		rdb.Set(ctx, prefix+"session:"+tok, "x", time.Hour)
		if err := p.TrackSession(ctx, 7, tok, dev, time.Hour); err != nil {
			t.Fatal(err)
		}
		rdb.ZAdd(ctx, prefix+"devices:{u:7}", redis.Z{Score: float64(seen), Member: dev})
	}
	// The same browser logs in again: its token changes, nobody ends.
	if err := p.UntrackSession(ctx, 7, "s3", "d3"); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, prefix+"session:s3b", "x", time.Hour)
	if err := p.TrackSession(ctx, 7, "s3b", "d3", time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, prefix+"session:s1", prefix+"session:s2").Result(); n != 2 {
		t.Fatalf("a re-login ended %d other sessions", 2-n)
	}
	// A fourth browser: s2 ends, with its device.
	if err := p.RegisterDevice(ctx, 7, "d4"); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, prefix+"session:s4", "x", time.Hour)
	if err := p.TrackSession(ctx, 7, "s4", "d4", time.Hour); err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]int64{"s1": 1, "s2": 0, "s3b": 1, "s4": 1} {
		if n, _ := rdb.Exists(ctx, prefix+"session:"+tok).Result(); n != want {
			t.Errorf("session %s: exists %d, want %d", tok, n, want)
		}
	}
	if _, err := rdb.ZScore(ctx, prefix+"devices:{u:7}", "d2").Result(); err == nil {
		t.Errorf("the ended session's device d2 is still registered")
	}
	if n, _ := rdb.ZCard(ctx, prefix+"sessions:{u:7}").Result(); n != 3 {
		t.Errorf("%d sessions tracked, want 3", n)
	}
}
