package main

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"webchat/store/storetest"
)

// A message answered 201 by node A, then kill -9 of A, then, after
// ARCHIVE_DELAY + 2 s, FLUSHALL and a restart of node B: the message is in
// history, the next send in the conversation gets a higher seq, a poll with
// an old cursor answers resync, and a message left unread counts again.
func TestKilledNodeThenRedisFlushedKeepsHistory(t *testing.T) {
	redisSrv := storetest.StartRedis(t) // FLUSHALL would empty the shared server
	base := map[string]string{
		"REDIS_URL":    redisSrv.URL(),
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "webchat.db"),
	}
	envA := map[string]string{"ARCHIVE_DELAY": "1m"} // A would not archive before it dies
	envB := map[string]string{"ARCHIVE_DELAY": "1s"}
	for k, v := range base {
		envA[k], envB[k] = v, v
	}
	a, b := startProc(t, "a", envA), startProc(t, "b", envB)
	lb := startNginx(t, []*proc{a, b})

	alice, bob := newWireClient(), newWireClient()
	alice.signup(t, lb, "alice")
	bob.signup(t, lb, "bob")
	befriendWire(t, lb, alice, bob, "bob")
	var p wirePoll
	bob.must(t, "GET", lb+"/api/poll?timeout=0", nil, 200, &p)
	conv := fmt.Sprintf("d%d-%d", alice.ID, bob.ID)
	send := func(c *wireClient, url, body string) int64 {
		t.Helper()
		var m struct{ Message struct{ Seq int64 } }
		c.must(t, "POST", url+"/api/messages", map[string]any{"to": bob.ID, "type": "single", "body": body}, 201, &m)
		return m.Message.Seq
	}
	send(alice, lb, "read before")
	bob.must(t, "GET", lb+"/api/poll?timeout=5&cursor="+p.Cursor, nil, 200, &p)
	bob.must(t, "POST", lb+"/api/conversations/"+conv+"/read", map[string]any{"seq": 1}, 204, nil)
	oldCursor := p.Cursor

	// Answered by A, which dies at once: B archives what A took.
	if seq := send(alice, a.URL, "answered by a"); seq != 2 {
		t.Fatalf("seq %d", seq)
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	time.Sleep(time.Second + 2*time.Second) // ARCHIVE_DELAY + 2 s
	rdb := redisSrv.Client(t)
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	<-b.done
	restartProc(t, b, envB) // on its port: nginx finds it there

	// Sessions were in Redis: both log in again, in the same browsers.
	login := func(c *wireClient, name string) {
		t.Helper()
		c.must(t, "POST", lb+"/api/login", map[string]any{"username": name, "password": "password1"}, 200, nil)
	}
	login(alice, "alice")
	login(bob, "bob")
	var h struct {
		Messages []struct {
			Seq  int64
			Body string
		}
		HasMore bool `json:"has_more"`
	}
	bob.must(t, "GET", lb+"/api/conversations/"+conv+"/messages", nil, 200, &h)
	if len(h.Messages) != 2 || h.Messages[1].Body != "answered by a" || h.HasMore {
		t.Fatalf("history after the kill and the flush: %+v", h)
	}
	var me struct {
		Friends []struct {
			Conv   string
			Unread int64
		}
	}
	bob.must(t, "GET", lb+"/api/me", nil, 200, &me)
	if len(me.Friends) != 1 || me.Friends[0].Unread != 1 {
		t.Fatalf("bob's unread after the flush: %+v (want the one message after his read marker)", me.Friends)
	}
	bob.must(t, "GET", lb+"/api/poll?timeout=0&cursor="+oldCursor, nil, 200, &p)
	if !p.Resync {
		t.Fatalf("a poll with the old cursor: %+v, want resync", p)
	}
	if seq := send(alice, lb, "after the flush"); seq != 3 {
		t.Fatalf("the next send got seq %d, want 3", seq)
	}
	bob.must(t, "GET", lb+"/api/poll?timeout=5&cursor="+p.Cursor, nil, 200, &p)
	if len(p.Events) == 0 || p.Events[len(p.Events)-1].Message.Body != "after the flush" {
		t.Fatalf("bob's poll after the flush: %+v", p)
	}
}
