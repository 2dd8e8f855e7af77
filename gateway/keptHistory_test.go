package gateway_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"webchat/store"
	"webchat/store/storetest"
)

type meUnread struct {
	Friends []struct {
		Conv        string
		Unread      int64
		LastMessage *store.Message `json:"last_message"`
	}
	Groups []struct {
		Conv   string
		Unread int64
	}
}

func (m meUnread) unread(conv string) int64 {
	for _, f := range m.Friends {
		if f.Conv == conv {
			return f.Unread
		}
	}
	for _, g := range m.Groups {
		if g.Conv == conv {
			return g.Unread
		}
	}
	return -1
}

// Redis flushed after the archive wrote what it had: history, the next seq,
// unread counts and search come back from SQL, and a cursor of the old
// epoch answers resync rather than acknowledging events it never saw.
func TestRedisFlushedKeepsHistory(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, sql storetest.Engine) { testRedisFlushedKeepsHistory(t, sql) })
}

func testRedisFlushedKeepsHistory(t *testing.T, sql storetest.Engine) {
	srv := storetest.StartRedis(t) // FLUSHALL would empty the shared server
	e := newEnv(t, envOpts{redis: srv, graph: sql.NewGraph(t)})
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	befriend(alice, bob)
	befriend(alice, carol)
	var g struct{ Group store.Group }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "team"}, 201, &g)
	alice.join(int64(g.Group.ID), bob)
	bob.drain()
	direct := store.DirectConv(alice.User.ID, bob.User.ID).String()
	for _, b := range []string{"one", "大家你好啊", "three"} {
		alice.send(bob.User.ID, "single", b)
	}
	alice.send(g.Group.ID, "group", "group one")
	alice.send(g.Group.ID, "group", "group two")
	bob.messages(5, 5*time.Second)
	bob.mustDo("POST", "/api/conversations/"+direct+"/read", map[string]any{"seq": 1}, 204, nil)
	oldCursor := bob.cursor
	waitArchived(e)

	if err := e.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	e.plane.ForgetEpoch()
	// Sessions lived in Redis: everyone logs in again.
	bob2, alice2 := bob.login(), alice.login()
	// History before anyone writes again: all of it from SQL.
	if all := readAll(t, bob2, direct, 2); len(all) != 3 || all[2].Body != "three" {
		t.Fatalf("history right after the flush: %+v", all)
	}

	// The old cursor: its epoch is gone, so resync, never invalid_cursor.
	bob2.cursor = oldCursor
	r := bob2.do("GET", bob2.pollPath(0), nil)
	var a pollAnswer
	mustJSON(t, r.Body, &a)
	if r.Status != 200 || !a.Resync {
		t.Fatalf("a poll with a cursor of the old epoch: %d %s", r.Status, r.Body)
	}
	bob2.cursor = a.Cursor
	if p := bob2.poll(0); p.Resync {
		t.Fatalf("the new cursor resyncs again: %+v", p)
	}

	// Unread counts come back: two direct messages after the read marker,
	// the two group messages; the preview is the last message.
	var me meUnread
	bob2.mustDo("GET", "/api/me", nil, 200, &me)
	if me.unread(direct) != 2 || me.unread(g.Group.Conv) != 2 {
		t.Fatalf("unread after the flush: %+v", me)
	}
	for _, f := range me.Friends {
		if f.Conv == direct && (f.LastMessage == nil || f.LastMessage.Body != "three") {
			t.Fatalf("preview after the flush: %+v", f.LastMessage)
		}
	}

	// The next seq goes on above SQL's, in both conversations.
	if m := alice2.send(bob.User.ID, "single", "four"); m.Seq != 4 {
		t.Fatalf("the next direct message got seq %d, want 4", m.Seq)
	}
	if m := alice2.send(g.Group.ID, "group", "group three"); m.Seq != 3 {
		t.Fatalf("the next group message got seq %d, want 3", m.Seq)
	}
	if got := bob2.messages(2, 5*time.Second); got[0].Body != "four" {
		t.Fatalf("bob after the flush got %+v", got)
	}
	bob2.mustDo("GET", "/api/me", nil, 200, &me)
	if me.unread(direct) != 3 || me.unread(g.Group.Conv) != 3 {
		t.Fatalf("unread after the flush and a new message each: %+v", me)
	}
	all := readAll(t, bob2, direct, 2)
	if len(all) != 4 || all[1].Body != "大家你好啊" || all[3].Body != "four" {
		t.Fatalf("history after the flush: %+v", all)
	}
	// Reading clears it, and the marker reaches SQL.
	bob2.mustDo("POST", "/api/conversations/"+direct+"/read", map[string]any{"seq": 4}, 204, nil)
	bob2.mustDo("GET", "/api/me", nil, 200, &me)
	if me.unread(direct) != 0 {
		t.Fatalf("unread after reading: %+v", me)
	}
	var s searchPage
	bob2.mustDo("GET", "/api/search?q="+url.QueryEscape("你好"), nil, 200, &s)
	if len(s.Messages) != 1 || s.Messages[0].Seq != 2 {
		t.Fatalf("search after the flush: %+v", s)
	}
}

type searchPage struct {
	Messages []store.Message
	HasMore  bool `json:"has_more"`
	Next     string
}

// Search: substrings in any script, Latin case-insensitively, only in the
// conversations the caller may read now; pages; bad queries are refused.
func TestSearch(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, sql storetest.Engine) { testSearch(t, sql) })
}

func testSearch(t *testing.T, sql storetest.Engine) {
	e := newEnv(t, envOpts{graph: sql.NewGraph(t)})
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	befriend(alice, bob)
	befriend(alice, carol)
	var g struct{ Group store.Group }
	alice.mustDo("POST", "/api/groups", map[string]any{"name": "team"}, 201, &g)
	alice.join(int64(g.Group.ID), carol)
	alice.send(bob.User.ID, "single", "大家你好啊")
	alice.send(bob.User.ID, "single", "Hello Bob")
	alice.send(g.Group.ID, "group", "hello team 你好")
	for i := range 5 {
		alice.send(carol.User.ID, "single", fmt.Sprint("hello carol ", i))
	}
	waitArchived(e)
	find := func(c *client, q string, extra string) searchPage {
		t.Helper()
		var s searchPage
		c.mustDo("GET", "/api/search?q="+url.QueryEscape(q)+extra, nil, 200, &s)
		return s
	}
	bodies := func(s searchPage) (out []string) {
		for _, m := range s.Messages {
			out = append(out, m.Body)
		}
		return out
	}
	if got := bodies(find(bob, "你好", "")); fmt.Sprint(got) != "[大家你好啊]" {
		t.Fatalf("bob searching 你好: %q", got)
	}
	if got := bodies(find(bob, "hello", "")); fmt.Sprint(got) != "[Hello Bob]" {
		t.Fatalf("bob searching hello: %q (nothing of carol's or the group's)", got)
	}
	if got := bodies(find(carol, "你好", "")); fmt.Sprint(got) != "[hello team 你好]" {
		t.Fatalf("carol searching 你好: %q", got)
	}
	// Pages, newest first, joined by next.
	p1 := find(carol, "HELLO CAROL", "&limit=3")
	if len(p1.Messages) != 3 || !p1.HasMore || p1.Messages[0].Body != "hello carol 4" {
		t.Fatalf("first page: %+v", p1)
	}
	p2 := find(carol, "hello carol", "&limit=3&before="+url.QueryEscape(p1.Next))
	if len(p2.Messages) != 2 || p2.HasMore || p2.Messages[1].Body != "hello carol 0" {
		t.Fatalf("second page: %+v", p2)
	}
	// One conversation; one the caller may not read is not found.
	carolConv := store.DirectConv(alice.User.ID, carol.User.ID).String()
	if got := find(alice, "hello", "&conv="+g.Group.Conv); len(got.Messages) != 1 {
		t.Fatalf("alice in the group only: %+v", got)
	}
	if r := bob.do("GET", "/api/search?q=hello&conv="+carolConv, nil); r.Status != 404 {
		t.Fatalf("bob searching carol's conversation: %d %s", r.Status, r.Body)
	}
	// Carol leaves the group: its messages are no longer hers to find.
	carol.mustDo("DELETE", fmt.Sprintf("/api/groups/%d/members/%d", g.Group.ID, carol.User.ID), nil, 204, nil)
	if got := bodies(find(carol, "你好", "")); len(got) != 0 {
		t.Fatalf("carol after leaving: %q", got)
	}
	for _, q := range []string{"", "a", " b ", string(make([]rune, 101)), "\x00x"} {
		if r := bob.do("GET", "/api/search?q="+url.QueryEscape(q), nil); r.Status != 400 || r.errorCode() != "invalid_query" {
			t.Fatalf("search %q: %d %s", q, r.Status, r.Body)
		}
	}
	for _, b := range []string{"x", "1.2", "1.2.zz", "-1.2.d1-2"} {
		if r := bob.do("GET", "/api/search?q=hello&before="+b, nil); r.Status != 400 {
			t.Fatalf("search before %q: %d %s", b, r.Status, r.Body)
		}
	}
}

// 10,050 messages in one conversation with the default HISTORY_CAP: every
// one pages back to seq 1, in order, none twice, and Redis holds at most
// HISTORY_CAP of them.
func TestTenThousandMessagesPageBackToTheFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 10,050 messages")
	}
	e := newEnv(t, envOpts{})
	alice, bob := e.signup("alice"), e.signup("bob")
	befriend(alice, bob)
	conv := store.DirectConv(alice.User.ID, bob.User.ID).String()
	const n = 10_050
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 1; i <= n; i++ {
		next <- i
	}
	close(next)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				r := alice.do("POST", "/api/messages", map[string]any{"to": bob.User.ID, "type": "single", "body": fmt.Sprint("m", i)})
				if r.Status != 201 {
					t.Errorf("send %d: %d %s", i, r.Status, r.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitArchived(e)
	alice.send(bob.User.ID, "single", "the last") // its send trims what SQL holds
	if got := e.rdb.LLen(context.Background(), e.prefix+"hist:{c:"+conv+"}").Val(); got > 10_000 {
		t.Fatalf("Redis holds %d messages of the conversation, more than HISTORY_CAP", got)
	}
	all := readAll(t, bob, conv, 100)
	if len(all) != n+1 {
		t.Fatalf("history holds %d messages, want %d", len(all), n+1)
	}
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m.Body] {
			t.Fatalf("%q twice in history", m.Body)
		}
		seen[m.Body] = true
	}
	if !seen["m1"] || !seen["m10050"] {
		t.Fatal("the first or the last message is missing")
	}
}
