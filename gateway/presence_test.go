package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"webchat/store/plane"
	"webchat/store/storetest"
)

// watcher polls for a client in the background, as an open tab does, and
// keeps every event with the time it arrived.
type watcher struct {
	c      *client
	mu     sync.Mutex
	got    []seenEvent
	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{} // closed once a poll was answered: the device is polling
}

type seenEvent struct {
	event
	at time.Time
}

// watch starts polling for c until stop or the end of the test.
func (c *client) watch() *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{c: c, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	go func() {
		defer close(w.done)
		// The first poll answers at once: from then on the device polls,
		// and gets live events (presence, typing) that come after.
		first := true
		for ctx.Err() == nil {
			timeout := 1
			if first {
				timeout = 0
			}
			r := c.doCtx(ctx, "GET", c.pollPath(timeout), nil)
			if r.Status != http.StatusOK {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			var a pollAnswer
			if json.Unmarshal(r.Body, &a) != nil {
				continue
			}
			c.cursor = a.Cursor
			if first {
				first = false
				close(w.ready)
			}
			now := time.Now()
			w.mu.Lock()
			for _, ev := range a.Events {
				w.got = append(w.got, seenEvent{ev, now})
			}
			w.mu.Unlock()
		}
	}()
	c.e.t.Cleanup(w.stop)
	select {
	case <-w.ready:
	case <-time.After(10 * time.Second):
		c.e.t.Fatalf("%s's first poll did not come back", c.User.Username)
	}
	return w
}

// stop ends the polling (a closed tab: the poll is abandoned).
func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

// of returns the events of type typ so far.
func (w *watcher) of(typ string) []seenEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []seenEvent
	for _, ev := range w.got {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor waits until an event of type typ satisfies ok, and returns it.
func (w *watcher) waitFor(t *testing.T, d time.Duration, typ string, ok func(seenEvent) bool) seenEvent {
	t.Helper()
	var found seenEvent
	storetest.WaitFor(t, d, fmt.Sprintf("a %s event for %s", typ, w.c.User.Username), func() bool {
		for _, ev := range w.of(typ) {
			if ok(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

func presenceOf(w *watcher, uid int64) []string {
	var out []string
	for _, ev := range w.of("presence") {
		if ev.UserID == uid {
			out = append(out, ev.Presence)
		}
	}
	return out
}

const testGrace = 3 * time.Second

func newPresenceEnv(t *testing.T) *env {
	return newEnv(t, envOpts{plane: plane.Options{PresenceGrace: testGrace}})
}

func TestPresenceReachesFriendsOnlyAndOfflineOnce(t *testing.T) {
	e := newPresenceEnv(t)
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	befriend(alice, bob)
	bw, cw := bob.watch(), carol.watch()

	// Alice's first poll: online on Bob's poll within 2 s.
	start := time.Now()
	alice.poll(0)
	on := bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool { return ev.UserID == int64(alice.User.ID) && ev.Presence == "online" })
	if d := on.at.Sub(start); d > 2*time.Second {
		t.Fatalf("online after %v", d)
	}
	if on.LastSeen == 0 || on.Since == 0 {
		t.Fatalf("online event without last_seen or since: %+v", on.event)
	}

	// /api/me shows it too.
	var me struct {
		Friends []struct {
			ID       int64
			Online   bool
			Presence string
			LastSeen *int64 `json:"last_seen"`
		}
	}
	bob.mustDo("GET", "/api/me", nil, 200, &me)
	if len(me.Friends) != 1 || me.Friends[0].Presence != "online" || !me.Friends[0].Online || me.Friends[0].LastSeen == nil {
		t.Fatalf("bob's /api/me: %+v", me.Friends)
	}

	// Polls again and again, on two nodes, past the grace: no flap.
	other := e.secondNode()
	a2 := *alice
	a2.e = other
	for end := time.Now().Add(2 * testGrace); time.Now().Before(end); {
		alice.poll(1)
		a2.cursor = alice.cursor
		a2.poll(1)
		alice.cursor = a2.cursor
	}
	if got := presenceOf(bw, int64(alice.User.ID)); len(got) != 1 {
		t.Fatalf("re-polls on two nodes: bob saw %v, want one online", got)
	}

	// Log-out: offline within 2 s.
	start = time.Now()
	alice.mustDo("POST", "/api/logout", nil, 204, nil)
	off := bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool { return ev.UserID == int64(alice.User.ID) && ev.Presence == "offline" })
	if d := off.at.Sub(start); d > 2*time.Second {
		t.Fatalf("offline after %v", d)
	}

	// Back, then the only tab closes mid-poll: offline once, after the
	// grace and within grace + 5 s.
	alice = alice.login()
	alice.poll(0)
	bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool {
		return ev.UserID == int64(alice.User.ID) && ev.Presence == "online" && ev.Since > off.Since
	})
	ctx, hangUp := context.WithCancel(context.Background())
	go alice.doCtx(ctx, "GET", alice.pollPath(25), nil)
	time.Sleep(500 * time.Millisecond)
	hangUp()
	closed := time.Now()
	last := bw.waitFor(t, testGrace+5*time.Second, "presence", func(ev seenEvent) bool {
		return ev.UserID == int64(alice.User.ID) && ev.Presence == "offline" && ev.Since > off.Since
	})
	if d := last.at.Sub(closed); d < testGrace-time.Second {
		t.Fatalf("offline %v after the tab closed, before the grace (%v)", d, testGrace)
	}
	time.Sleep(testGrace)
	if got := presenceOf(bw, int64(alice.User.ID)); fmt.Sprint(got) != "[online offline online offline]" {
		t.Fatalf("bob saw %v", got)
	}
	if got := cw.of("presence"); len(got) != 0 {
		t.Fatalf("a stranger saw presence: %+v", got)
	}
}

// Log-out shows offline at once, not after the grace, unless another
// device of the user still polls.
func TestPresenceLogoutIsOfflineAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{plane: plane.Options{PresenceGrace: time.Minute}})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bw := bob.watch()
	phone := alice.login()
	phone.poll(0)
	alice.poll(0)
	bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool { return ev.Presence == "online" })
	phone.mustDo("POST", "/api/logout", nil, 204, nil)
	time.Sleep(time.Second)
	if got := presenceOf(bw, int64(alice.User.ID)); fmt.Sprint(got) != "[online]" {
		t.Fatalf("one of two devices logged out: bob saw %v", got)
	}
	start := time.Now()
	alice.mustDo("POST", "/api/logout", nil, 204, nil)
	off := bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool { return ev.Presence == "offline" })
	if d := off.at.Sub(start); d > 2*time.Second {
		t.Fatalf("offline %v after the log-out", d)
	}
}

func TestPresenceStatusAwayAndInvisible(t *testing.T) {
	e := newPresenceEnv(t)
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bw := bob.watch()
	aw := alice.watch()
	bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool { return ev.Presence == "online" })

	for _, bad := range []any{map[string]any{"status": "busy"}, map[string]any{"status": 1}, map[string]any{}, map[string]any{"status": "away", "x": 1}} {
		if r := alice.do("PUT", "/api/me/presence", bad); r.Status != 400 {
			t.Fatalf("PUT presence %v: %d %s", bad, r.Status, r.Body)
		}
	}
	alice.mustDo("PUT", "/api/me/presence", map[string]any{"status": "away"}, 204, nil)
	bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool { return ev.Presence == "away" })
	alice.mustDo("PUT", "/api/me/presence", map[string]any{"status": "invisible"}, 204, nil)
	bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool { return ev.Presence == "offline" })

	// Invisible stays offline to friends while Alice polls, and in /api/me.
	time.Sleep(2 * testGrace)
	if got := presenceOf(bw, int64(alice.User.ID)); fmt.Sprint(got) != "[online away offline]" {
		t.Fatalf("bob saw %v", got)
	}
	var me struct {
		Friends []struct {
			Online   bool
			Presence string
		}
	}
	bob.mustDo("GET", "/api/me", nil, 200, &me)
	if me.Friends[0].Online || me.Friends[0].Presence != "offline" {
		t.Fatalf("bob's /api/me shows invisible alice as %+v", me.Friends[0])
	}
	var mine struct{ Status string }
	alice.mustDo("GET", "/api/me", nil, 200, &mine)
	if mine.Status != "invisible" {
		t.Fatalf("alice's own status: %q", mine.Status)
	}

	// The choice is SQL's: Redis losing it does not make her visible.
	if err := e.rdb.Del(context.Background(), e.prefix+"presence:{u:"+fmt.Sprint(alice.User.ID)+"}").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	bob.mustDo("GET", "/api/me", nil, 200, &me)
	if me.Friends[0].Presence != "offline" {
		t.Fatalf("after Redis lost her presence: %+v", me.Friends[0])
	}
	if got := presenceOf(bw, int64(alice.User.ID)); fmt.Sprint(got) != "[online away offline]" {
		t.Fatalf("after Redis lost her presence bob saw %v", got)
	}
	alice.mustDo("PUT", "/api/me/presence", map[string]any{"status": "online"}, 204, nil)
	bw.waitFor(t, 2*time.Second, "presence", func(ev seenEvent) bool {
		return ev.Presence == "online" && ev.Since > 0 && len(presenceOf(bw, int64(alice.User.ID))) == 4
	})
	aw.stop()
}

func TestTypingIsEphemeralAndThrottled(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	befriend(alice, bob)
	conv := fmt.Sprintf("d%d-%d", alice.User.ID, bob.User.ID)
	path := "/api/conversations/" + conv + "/typing"
	bw := bob.watch()
	late := bob.login() // a second device, not polling yet
	paused := bob.login()
	paused.poll(0) // polled a moment ago: gets notices queued, then answers them late
	time.Sleep(300 * time.Millisecond)

	for _, bad := range []any{map[string]any{"typing": "yes"}, map[string]any{}, map[string]any{"typing": true, "x": 1}} {
		if r := alice.do("POST", path, bad); r.Status != 400 {
			t.Fatalf("typing %v: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := carol.do("POST", path, map[string]any{"typing": true}); r.Status != 404 {
		t.Fatalf("a stranger typing in their conversation: %d %s", r.Status, r.Body)
	}
	if r := carol.do("POST", fmt.Sprintf("/api/conversations/d%d-%d/typing", alice.User.ID, carol.User.ID), map[string]any{"typing": true}); r.Status != 403 {
		t.Fatalf("typing to a non-friend: %d %s", r.Status, r.Body)
	}

	start := time.Now()
	alice.mustDo("POST", path, map[string]any{"typing": true}, 204, nil)
	ev := bw.waitFor(t, time.Second, "typing", func(ev seenEvent) bool { return ev.Conv == conv && ev.UserID == int64(alice.User.ID) })
	if d := ev.at.Sub(start); d > time.Second {
		t.Fatalf("typing after %v", d)
	}
	if ahead := time.UnixMilli(ev.Until).Sub(ev.at); ahead > 6*time.Second || ahead < 4*time.Second {
		t.Fatalf("until %v ahead", ahead)
	}

	// 100 posts in 5 s: at most 3 fan-outs.
	for i := range 100 {
		alice.mustDo("POST", path, map[string]any{"typing": i%10 != 9}, 204, nil)
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	got := bw.of("typing")
	if len(got) > 4 { // the first, and at most 3 in the 5 s after
		t.Fatalf("%d typing events for 101 posts", len(got))
	}
	for _, ev := range got {
		if ahead := time.UnixMilli(ev.Until).Sub(ev.at); ahead > 6*time.Second {
			t.Fatalf("until %v ahead", ahead)
		}
		// A stop's until is the moment it was sent: it arrives at once.
		if ev.at.After(time.UnixMilli(ev.Until).Add(200 * time.Millisecond)) {
			t.Fatalf("delivered %v after its until: %+v", ev.at.Sub(time.UnixMilli(ev.Until)), ev.event)
		}
	}

	// The device that starts polling 10 s after the first notice gets none
	// (none was even queued for it), and nothing was counted as unread.
	time.Sleep(time.Until(start.Add(10 * time.Second)))
	ctx := context.Background()
	devs, err := e.rdb.ZRange(ctx, fmt.Sprintf("%sdevices:{u:%d}", e.prefix, bob.User.ID), 0, -1).Result()
	if err != nil || len(devs) != 3 {
		t.Fatalf("bob's devices: %v %v", devs, err)
	}
	queued := 0
	for _, d := range devs {
		evs, _ := e.rdb.LRange(ctx, fmt.Sprintf("%sinbox:{u:%d}:%s", e.prefix, bob.User.ID, d), 0, -1).Result()
		for _, ev := range evs {
			if strings.Contains(ev, `"type":"typing"`) {
				queued++
			}
		}
	}
	if queued == 0 {
		t.Fatal("no typing notice waits for the paused device (the test proves nothing)")
	}
	for _, ev := range late.poll(0).Events {
		if ev.Type == "typing" {
			t.Fatalf("a device that was not polling got %+v", ev)
		}
	}
	// One that polled a moment before and then paused had them queued; past
	// their until when it polls again, they are not answered.
	var lastUntil int64
	for _, ev := range bw.of("typing") {
		lastUntil = max(lastUntil, ev.Until)
	}
	time.Sleep(time.Until(time.UnixMilli(lastUntil + 1100)))
	for _, ev := range paused.poll(0).Events {
		if ev.Type == "typing" {
			t.Fatalf("a typing notice answered after its until: %+v", ev)
		}
	}
	var me struct{ Friends []struct{ Unread int64 } }
	bob.mustDo("GET", "/api/me", nil, 200, &me)
	if me.Friends[0].Unread != 0 {
		t.Fatalf("typing counted unread: %+v", me.Friends)
	}
	if r := e.rdb.Exists(context.Background(), e.prefix+"hist:{c:"+conv+"}").Val(); r != 0 {
		t.Fatal("typing was stored in history")
	}
}

func TestReceiptsDirect(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob2 := bob.login()
	conv := fmt.Sprintf("d%d-%d", alice.User.ID, bob.User.ID)
	aw := alice.watch()
	m1 := alice.send(bob.User.ID, "single", "one")
	m2 := alice.send(bob.User.ID, "single", "two")

	start := time.Now()
	bob.mustDo("POST", "/api/conversations/"+conv+"/read", map[string]any{"seq": m2.Seq}, 204, nil)
	rc := aw.waitFor(t, time.Second, "receipt", func(ev seenEvent) bool { return ev.Conv == conv })
	if d := rc.at.Sub(start); d > time.Second || rc.Seq != m2.Seq || rc.UserID != int64(bob.User.ID) {
		t.Fatalf("receipt %+v after %v", rc.event, d)
	}
	// Never backwards: reading less sends nothing.
	bob.mustDo("POST", "/api/conversations/"+conv+"/read", map[string]any{"seq": m1.Seq}, 204, nil)
	time.Sleep(500 * time.Millisecond)
	if n := len(aw.of("receipt")); n != 1 {
		t.Fatalf("%d receipts", n)
	}
	var me struct {
		Friends []struct {
			PeerRead int64 `json:"peer_read"`
		}
	}
	alice.mustDo("GET", "/api/me", nil, 200, &me)
	if me.Friends[0].PeerRead != m2.Seq {
		t.Fatalf("peer_read %d, want %d", me.Friends[0].PeerRead, m2.Seq)
	}
	var rs struct {
		Count   int
		UserIDs []int64 `json:"user_ids"`
	}
	alice.mustDo("GET", fmt.Sprintf("/api/conversations/%s/receipts?seq=%d", conv, m2.Seq), nil, 200, &rs)
	if rs.Count != 1 || len(rs.UserIDs) != 1 || rs.UserIDs[0] != int64(bob.User.ID) {
		t.Fatalf("receipts: %+v", rs)
	}
	carol := e.signup("carol")
	if r := carol.do("GET", fmt.Sprintf("/api/conversations/%s/receipts?seq=1", conv), nil); r.Status != 404 {
		t.Fatalf("a stranger's receipts: %d %s", r.Status, r.Body)
	}
	for _, q := range []string{"", "?seq=x", "?seq=-1"} {
		if r := alice.do("GET", "/api/conversations/"+conv+"/receipts"+q, nil); r.Status != 400 {
			t.Fatalf("receipts%s: %d %s", q, r.Status, r.Body)
		}
	}

	// Receipts off: Bob's reads tell Alice nothing, and still clear his
	// other device's badge.
	for _, bad := range []any{map[string]any{"receipts": "no"}, map[string]any{}, map[string]any{"receipts": false, "status": "away"}} {
		if r := bob.do("PATCH", "/api/me", bad); r.Status != 400 {
			t.Fatalf("PATCH /api/me %v: %d %s", bad, r.Status, r.Body)
		}
	}
	var patched struct{ User struct{ ID int64 } }
	bob.mustDo("PATCH", "/api/me", map[string]any{"receipts": false}, 200, &patched)
	if patched.User.ID != int64(bob.User.ID) {
		t.Fatalf("PATCH /api/me answered user %+v", patched.User)
	}
	bob2.drain()
	m3 := alice.send(bob.User.ID, "single", "three")
	bob.mustDo("POST", "/api/conversations/"+conv+"/read", map[string]any{"seq": m3.Seq}, 204, nil)
	bob2.eventsUntil(t, 2*time.Second, func(ev event) bool { return ev.Type == "read" && ev.Seq == m3.Seq })
	time.Sleep(500 * time.Millisecond)
	if n := len(aw.of("receipt")); n != 1 {
		t.Fatalf("receipts off, yet %d receipts", n)
	}
	alice.mustDo("GET", "/api/me", nil, 200, &me)
	if me.Friends[0].PeerRead != 0 {
		t.Fatalf("receipts off, yet peer_read %d", me.Friends[0].PeerRead)
	}
	var mine struct{ Receipts bool }
	bob.mustDo("GET", "/api/me", nil, 200, &mine)
	if mine.Receipts {
		t.Fatal("bob's /api/me says receipts on")
	}
}

func TestReceiptsInALargeGroupAreBatched(t *testing.T) {
	e := newEnv(t, envOpts{})
	const n = 500
	alice := e.signup("alice")
	var g struct{ Group struct{ ID int64 } }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "big", "brief": "", "max_members": n}, 201, &g)
	readers := make([]*client, n-1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range readers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			readers[i] = e.signup(fmt.Sprintf("reader%03d", i))
		}()
	}
	wg.Wait()
	for _, r := range readers {
		alice.join(g.Group.ID, r)
	}
	conv := fmt.Sprintf("g%d", g.Group.ID)
	watched := []*watcher{readers[0].watch(), readers[1].watch()}
	aw := alice.watch()
	time.Sleep(300 * time.Millisecond)
	m := alice.send(g.Group.ID, "group", "read me")
	// The author's own read is not one of the count.
	alice.mustDo("POST", "/api/conversations/"+conv+"/read", map[string]any{"seq": m.Seq}, 204, nil)

	start := time.Now()
	for i, r := range readers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if i < 2 {
				time.Sleep(time.Second) // their polls take the message first
			}
			r.mustDo("POST", "/api/conversations/"+conv+"/read", map[string]any{"seq": m.Seq}, 204, nil)
		}()
	}
	wg.Wait()
	t.Logf("%d reads in %v", n-1, time.Since(start))
	final := aw.waitFor(t, 10*time.Second, "receipt", func(ev seenEvent) bool { return ev.ReadCount != nil && *ev.ReadCount == n-1 })
	time.Sleep(2500 * time.Millisecond)
	got := aw.of("receipt")
	prevCount := int64(-1)
	for i, ev := range got {
		if ev.Conv != conv || ev.Seq != m.Seq || ev.ReadCount == nil {
			t.Fatalf("receipt %+v", ev.event)
		}
		if *ev.ReadCount < prevCount {
			t.Fatalf("read counts went backwards: %d after %d", *ev.ReadCount, prevCount)
		}
		prevCount = *ev.ReadCount
		if i > 0 {
			if gap := ev.at.Sub(got[i-1].at); gap < 1800*time.Millisecond {
				t.Fatalf("receipts %v apart (%d in all)", gap, len(got))
			}
		}
	}
	if got[len(got)-1].at != final.at {
		t.Fatalf("a receipt after the final count: %+v", got[len(got)-1].event)
	}
	for _, w := range watched {
		if rs := w.of("receipt"); len(rs) != 0 {
			t.Fatalf("a reader's device got others' reads: %+v", rs)
		}
	}
	var rs struct {
		Count   int
		UserIDs []int64 `json:"user_ids"`
	}
	alice.mustDo("GET", fmt.Sprintf("/api/conversations/%s/receipts?seq=%d", conv, m.Seq), nil, 200, &rs)
	if rs.Count != n-1 || len(rs.UserIDs) != n-1 {
		t.Fatalf("receipts: count %d, %d ids", rs.Count, len(rs.UserIDs))
	}
	t.Logf("%d receipts for %d reads", len(got), n-1)
}
