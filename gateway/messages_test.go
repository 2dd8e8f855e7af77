package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/storetest"
)

func TestGroupMessageReachesEveryMemberDeviceOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	owner := e.signup("owner")
	ownerPhone := owner.login()
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "five"}, 201, &g)
	members := []*client{owner, ownerPhone}
	for i := range 4 {
		m := e.signup(fmt.Sprint("member", i))
		owner.join(int64(g.Group.ID), m)
		members = append(members, m)
	}
	for _, m := range members {
		m.drain()
	}
	sent := owner.send(g.Group.ID, "group", "hello group")
	if sent.Conv != g.Group.Conv || sent.To != int64(g.Group.ID) || sent.Type != "group" {
		t.Fatalf("sent = %+v", sent)
	}
	for _, m := range members[1:] { // the sending device gets the answer, not a poll copy
		got := m.messages(1, 10*time.Second)
		if got[0].Seq != sent.Seq || got[0].From != owner.User.ID {
			t.Fatalf("%s got %+v", m.User.Username, got)
		}
		if a := m.poll(0); len(a.Events) != 0 {
			t.Fatalf("%s got more: %+v", m.User.Username, a.Events)
		}
	}
	if a := owner.poll(0); len(a.Events) != 0 {
		t.Fatalf("the sending device got its own message: %+v", a.Events)
	}
	if u := unreadOf(members[2], g.Group.Conv); u != 1 {
		t.Fatalf("member unread = %d", u)
	}
	if u := unreadOf(owner, g.Group.Conv); u != 0 {
		t.Fatalf("sender unread = %d", u)
	}
}

func TestClientIDRetryIsStoredAndDeliveredOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	req := map[string]any{"to": bob.User.ID, "type": "single", "body": "first", "client_id": "c-1"}
	var first, again struct{ Message store.Message }
	alice.mustDo("POST", "/api/messages", req, 201, &first)
	req["body"] = "changed on retry"
	alice.mustDo("POST", "/api/messages", req, 200, &again)
	if again.Message != first.Message || again.Message.ClientID != "c-1" {
		t.Fatalf("retry = %+v, first = %+v", again.Message, first.Message)
	}
	bob.messages(1, 5*time.Second)
	if a := bob.poll(0); len(a.Events) != 0 {
		t.Fatalf("delivered twice: %+v", a.Events)
	}
	var h struct{ Messages []store.Message }
	bob.mustDo("GET", "/api/conversations/"+first.Message.Conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("stored %d messages", len(h.Messages))
	}
}

// failDeliveries fails the delivery step while armed, as if Redis went
// away after the history script: on a cluster, the delivery pipeline; on a
// single Redis, where the send script delivers too, the script's reply
// after it ran. (Scripts are sent in pipelines, with other requests' calls:
// a pipeline holding a send script runs, and only the send's reply fails.)
type failDeliveries struct{ armed atomic.Bool }

func (f *failDeliveries) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failDeliveries) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if f.armed.Load() && err == nil && deliveringSend(cmd) {
			err = errors.New("injected: connection lost")
			cmd.SetErr(err)
		}
		return err
	}
}

// deliveringSend reports whether cmd runs the send script with delivery:
// it has the five delivery arguments after the ten of a send alone.
func deliveringSend(cmd redis.Cmder) bool {
	n, ok := sendScriptArgs(cmd)
	return ok && n == 15
}

// sendScript reports whether cmd runs the send script, delivering or not.
func sendScript(cmd redis.Cmder) bool {
	_, ok := sendScriptArgs(cmd)
	return ok
}

// sendScriptArgs reports whether cmd runs the send script (its keys
// include the client_id record) and how many arguments it has.
func sendScriptArgs(cmd redis.Cmder) (int, bool) {
	args := cmd.Args()
	if len(args) < 3 || (cmd.Name() != "evalsha" && cmd.Name() != "eval") {
		return 0, false
	}
	nkeys, _ := args[2].(int)
	for _, k := range args[3:min(len(args), 3+nkeys)] {
		if s, _ := k.(string); strings.Contains(s, "cid:{c:") {
			return len(args) - 3 - nkeys, true
		}
	}
	return 0, false
}

func (f *failDeliveries) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !f.armed.Load() {
			return next(ctx, cmds)
		}
		err := errors.New("injected: connection lost")
		if name := cmds[0].Name(); (name == "evalsha" || name == "eval") && !slices.ContainsFunc(cmds, sendScript) {
			// The cluster's delivery pipeline: it never reaches Redis.
			// (Not a pipeline of SCRIPT LOAD after a NOSCRIPT.)
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		next(ctx, cmds)
		for _, c := range cmds {
			if c.Err() == nil && deliveringSend(c) {
				c.SetErr(err)
			}
		}
		return nil
	}
}

func TestRetryFinishesAFailedDelivery(t *testing.T) {
	hook := &failDeliveries{}
	e := newEnv(t, envOpts{hook: hook})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	req := map[string]any{"to": bob.User.ID, "type": "single", "body": "important", "client_id": "retry-me"}
	hook.armed.Store(true)
	r := alice.do("POST", "/api/messages", req)
	hook.armed.Store(false)
	if r.Status != 503 || r.errorCode() != "unavailable" {
		t.Fatalf("failed send: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "injected") {
		t.Fatalf("the answer leaks internals: %s", r.Body)
	}
	var again struct{ Message store.Message }
	alice.mustDo("POST", "/api/messages", req, 200, &again)
	got := bob.messages(1, 5*time.Second)
	if got[0].Seq != again.Message.Seq || got[0].Body != "important" {
		t.Fatalf("bob got %+v", got)
	}
	var h struct{ Messages []store.Message }
	alice.mustDo("GET", "/api/conversations/"+again.Message.Conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("stored %d messages, want 1", len(h.Messages))
	}
}

func TestSendingAndPollingSurviveARedisRestart(t *testing.T) {
	srv := storetest.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	e := newEnv(t, envOpts{redis: srv})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	bob.drain()
	alice.send(bob.User.ID, "single", "before")
	srv.Restart(t) // the script cache is empty afterwards
	n, err := e.rdb.ScriptExists(context.Background(), "0000000000000000000000000000000000000000").Result()
	if err != nil || len(n) != 1 {
		t.Fatalf("redis after restart: %v %v", n, err)
	}
	m := alice.send(bob.User.ID, "single", "after")
	got := bob.messages(2, 10*time.Second)
	if got[0].Body != "before" || got[1].Body != "after" || got[1].Seq != m.Seq || m.Seq != 2 {
		t.Fatalf("got %+v", got)
	}
}

func TestRightsRebuiltFromSQLWhenRedisLostThem(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	var g struct{ Group store.Group }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "g"}, 201, &g)
	alice.mustDo("POST", fmt.Sprintf("/api/groups/%d/members", g.Group.ID), map[string]any{"username": "bob"}, 201, nil)
	ctx := context.Background()
	conv := store.DirectConv(alice.User.ID, bob.User.ID).String()
	for _, key := range []string{e.prefix + "pair:{c:" + conv + "}", e.prefix + "members:{c:" + g.Group.Conv + "}"} {
		if err := e.rdb.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
	}
	alice.send(bob.User.ID, "single", "still friends")
	bob.send(g.Group.ID, "group", "still a member")
	// A stale members key (a lost write-through) is repaired, not obeyed.
	if err := e.rdb.SRem(ctx, e.prefix+"members:{c:"+g.Group.Conv+"}", int64(bob.User.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	bob.send(g.Group.ID, "group", "repaired")
}

func TestHistoryPages(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	for i := 1; i <= 7; i++ {
		alice.send(bob.User.ID, "single", fmt.Sprint(i))
	}
	conv := store.DirectConv(alice.User.ID, bob.User.ID).String()
	type page struct {
		Messages []store.Message
		HasMore  bool `json:"has_more"`
	}
	seqs := func(p page) string {
		var s []string
		for _, m := range p.Messages {
			s = append(s, fmt.Sprint(m.Seq))
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		query string
		want  string
		more  bool
	}{
		{"", "1,2,3,4,5,6,7", false},
		{"?limit=3", "5,6,7", true},
		{"?before=5&limit=3", "2,3,4", true},
		{"?before=4&limit=3", "1,2,3", false},
		{"?before=2", "1", false},
		{"?before=1", "", false},
		{"?before=100&limit=2", "6,7", true},
		{"?limit=1000", "1,2,3,4,5,6,7", false},
	} {
		e.run(t, tc.query, func(t *testing.T) {
			var p page
			bob.mustDo("GET", "/api/conversations/"+conv+"/messages"+tc.query, nil, 200, &p)
			if seqs(p) != tc.want || p.HasMore != tc.more {
				t.Fatalf("got %s more=%v, want %s more=%v", seqs(p), p.HasMore, tc.want, tc.more)
			}
		})
	}
	for _, q := range []string{"?limit=0", "?before=abc", "?limit=-1"} {
		if r := bob.do("GET", "/api/conversations/"+conv+"/messages"+q, nil); r.Status != 400 {
			t.Fatalf("%s: %d", q, r.Status)
		}
	}
	outsider := e.signup("eve")
	for _, c := range []string{conv, "g1", "d1-999", "x", "d2-1", "d01-2"} {
		if r := outsider.do("GET", "/api/conversations/"+c+"/messages", nil); r.Status != 404 {
			t.Fatalf("outsider reading %s: %d %s", c, r.Status, r.Body)
		}
	}
}

// Without an archive, Redis's window is all there is: HISTORY_CAP of them.
func TestHistoryCapWithoutArchive(t *testing.T) {
	e := newEnv(t, envOpts{plane: plane.Options{HistoryCap: 3}, noArchive: true})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	for i := 1; i <= 5; i++ {
		alice.send(bob.User.ID, "single", fmt.Sprint(i))
	}
	var p historyPage
	bob.mustDo("GET", "/api/conversations/"+store.DirectConv(alice.User.ID, bob.User.ID).String()+"/messages", nil, 200, &p)
	if len(p.Messages) != 3 || p.Messages[0].Seq != 3 || p.HasMore {
		t.Fatalf("page = %+v", p)
	}
}

type historyPage struct {
	Messages []store.Message
	HasMore  bool `json:"has_more"`
}

// readAll pages c's history back from the newest, limit at a time, and
// checks that the pages join without a seam: every seq from the newest
// down to 1 exactly once, oldest first within each page, has_more false
// only on the last.
func readAll(t *testing.T, c *client, conv string, limit int) []store.Message {
	t.Helper()
	var all []store.Message
	before := int64(0)
	for pages := 0; ; pages++ {
		var p historyPage
		path := fmt.Sprintf("/api/conversations/%s/messages?limit=%d", conv, limit)
		if before > 0 {
			path += fmt.Sprintf("&before=%d", before)
		}
		c.mustDo("GET", path, nil, 200, &p)
		for i := 1; i < len(p.Messages); i++ {
			if p.Messages[i].Seq != p.Messages[i-1].Seq+1 {
				t.Fatalf("page below %d: seq %d after %d", before, p.Messages[i].Seq, p.Messages[i-1].Seq)
			}
		}
		if len(p.Messages) > 0 && len(all) > 0 && p.Messages[len(p.Messages)-1].Seq != all[0].Seq-1 {
			t.Fatalf("a seam below %d: the page ends at %d", all[0].Seq, p.Messages[len(p.Messages)-1].Seq)
		}
		all = append(p.Messages, all...)
		if !p.HasMore {
			break
		}
		if len(p.Messages) == 0 {
			t.Fatalf("has_more with an empty page below %d", before)
		}
		before = p.Messages[0].Seq
	}
	if len(all) > 0 && all[0].Seq != 1 {
		t.Fatalf("history stops at seq %d, not 1", all[0].Seq)
	}
	return all
}

// waitArchived waits until the archive has written everything queued.
func waitArchived(e *env) {
	e.t.Helper()
	storetest.WaitFor(e.t, 15*time.Second, "the archive to catch up", func() bool {
		n, err := e.plane.ArchiveBacklog(context.Background())
		return err == nil && n == 0
	})
}

// With an archive, the window trims only what SQL holds, and paging goes
// on from the window into SQL without a seam, back to the first message.
func TestHistoryPagesFromTheWindowIntoSQL(t *testing.T) {
	e := newEnv(t, envOpts{plane: plane.Options{HistoryCap: 3}})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	conv := store.DirectConv(alice.User.ID, bob.User.ID).String()
	for i := 1; i <= 7; i++ {
		alice.send(bob.User.ID, "single", fmt.Sprint(i))
	}
	waitArchived(e)
	alice.send(bob.User.ID, "single", "8") // its send trims the archived
	if n := e.rdb.LLen(context.Background(), e.prefix+"hist:{c:"+conv+"}").Val(); n != 3 {
		t.Fatalf("the window holds %d messages, want HISTORY_CAP (3)", n)
	}
	for _, limit := range []int{1, 2, 3, 5, 100} {
		all := readAll(t, bob, conv, limit)
		if len(all) != 8 || all[7].Body != "8" || all[0].Body != "1" {
			t.Fatalf("limit %d: %d messages %+v", limit, len(all), all)
		}
	}
}

func TestRateLimitedSend(t *testing.T) {
	e := newEnvRate(t)
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	alice.send(bob.User.ID, "single", "1")
	alice.send(bob.User.ID, "single", "2")
	r := alice.do("POST", "/api/messages", map[string]any{"to": bob.User.ID, "type": "single", "body": "3"})
	if r.Status != 429 || r.errorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third send: %d %s %v", r.Status, r.Body, r.Header)
	}
}
