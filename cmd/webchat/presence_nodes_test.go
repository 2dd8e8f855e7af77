package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"webchat/store/storetest"
)

// presenceWatch polls for a user through the balancer at once, again and
// again (timeout=0: the poll never waits on a node), and keeps what it
// hears of one friend's presence.
type presenceWatch struct {
	c      *wireClient
	url    string
	friend int64
	mu     sync.Mutex
	seen   []string
	polls  int // answered
}

func (w *presenceWatch) run(stop <-chan struct{}) {
	cursor := ""
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		url := w.url + "/api/poll?timeout=0"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		a, err := w.c.do("GET", url, nil)
		if err != nil || a.Status != 200 {
			continue
		}
		var p wirePoll
		if json.Unmarshal(a.Body, &p) != nil {
			continue
		}
		w.mu.Lock()
		w.polls++
		for _, ev := range p.Events {
			if ev.Type == "presence" && ev.UserID == w.friend {
				w.seen = append(w.seen, ev.Presence)
			}
		}
		w.mu.Unlock()
		cursor = p.Cursor
	}
}

func (w *presenceWatch) got() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprint(w.seen)
}

// Killing the node that holds Alice's poll moves her poll elsewhere: her
// friend sees no offline at all, and once she really goes, one.
func TestKillNodeHoldingThePollShowsNoOffline(t *testing.T) {
	const grace = 4 * time.Second
	c := startCluster(t, map[string]string{"PRESENCE_GRACE": "4s"})
	alice, bob, carol := newWireClient(), newWireClient(), newWireClient()
	alice.signup(t, c.lb, "alice")
	bob.signup(t, c.lb, "bob")
	carol.signup(t, c.lb, "carol")
	befriendWire(t, c.lb, alice, bob, "bob")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	watch := &presenceWatch{c: bob, url: c.lb, friend: alice.ID}
	stranger := &presenceWatch{c: carol, url: c.lb, friend: alice.ID}
	for _, w := range []*presenceWatch{watch, stranger} {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stop) }()
	}

	// Presence goes to devices polling when it changes: theirs are now.
	storetest.WaitFor(t, 10*time.Second, "bob and carol polling", func() bool {
		watch.mu.Lock()
		defer watch.mu.Unlock()
		stranger.mu.Lock()
		defer stranger.mu.Unlock()
		return watch.polls > 0 && stranger.polls > 0
	})
	// Alice's tab: long polls, retried at once after an error.
	aliceStop := make(chan struct{})
	aliceDone := make(chan struct{})
	go func() {
		defer close(aliceDone)
		loop := &pollLoop{c: alice, url: c.lb}
		loop.run(aliceStop)
	}()
	storetest.WaitFor(t, 2*time.Second+time.Second, "bob to see alice online", func() bool { return watch.got() == "[online]" })

	var holder *proc
	storetest.WaitFor(t, 10*time.Second, "alice's poll to wait on a node", func() bool {
		for _, p := range c.nodes {
			if p.waitingPolls() == 1 {
				holder = p
				return true
			}
		}
		return false
	})
	holder.cmd.Process.Signal(syscall.SIGKILL)
	t.Logf("killed %s, which held alice's poll", holder.Name)
	time.Sleep(3 * grace)
	if got := watch.got(); got != "[online]" {
		t.Fatalf("after the kill bob saw %s, want only [online]", got)
	}

	// Her tab closes: offline once, within the grace and 5 s.
	close(aliceStop)
	closed := time.Now()
	storetest.WaitFor(t, grace+5*time.Second, "bob to see alice offline", func() bool { return watch.got() == "[online offline]" })
	t.Logf("offline %v after the tab closed", time.Since(closed))
	<-aliceDone
	time.Sleep(2 * grace)
	if got := watch.got(); got != "[online offline]" {
		t.Fatalf("bob saw %s", got)
	}
	if got := stranger.got(); got != "[]" {
		t.Fatalf("a stranger saw %s", got)
	}
}
