package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"webchat/store/storetest"
)

func TestThreeNodesBehindNginx(t *testing.T) {
	c := startCluster(t, nil)
	alice, bob := newWireClient(), newWireClient()
	alice.signup(t, c.lb, "alice")
	bob.signup(t, c.lb, "bob")
	befriendWire(t, c.lb, alice, bob, "bob")

	t.Run("a session made on one node works on every node", func(t *testing.T) {
		for _, n := range c.nodes {
			a := bob.must(t, "GET", n.URL+"/api/me", nil, 200, nil)
			if a.Node != n.Name {
				t.Fatalf("answered by %q, want %q", a.Node, n.Name)
			}
		}
	})
	t.Run("a message crosses nodes", func(t *testing.T) {
		var first wirePoll
		bob.must(t, "GET", c.lb+"/api/poll?timeout=0", nil, 200, &first)
		cursor := first.Cursor
		for attempt := 0; ; attempt++ {
			if attempt == 20 {
				t.Fatal("sends and polls never landed on different nodes")
			}
			type result struct {
				a   wireAnswer
				err error
			}
			got := make(chan result, 1)
			go func() {
				a, err := bob.do("GET", c.lb+"/api/poll?timeout=10&cursor="+cursor, nil)
				got <- result{a, err}
			}()
			storetest.WaitFor(t, 10*time.Second, "bob's poll to wait", func() bool {
				n := 0
				for _, p := range c.nodes {
					n += max(p.waitingPolls(), 0)
				}
				return n == 1
			})
			start := time.Now()
			sent := alice.must(t, "POST", c.lb+"/api/messages", map[string]any{"to": bob.ID, "type": "single", "body": fmt.Sprint("hop ", attempt)}, 201, nil)
			r := <-got
			if r.err != nil || r.a.Status != 200 {
				t.Fatalf("poll: %v %d %s", r.err, r.a.Status, r.a.Body)
			}
			var p wirePoll
			json.Unmarshal(r.a.Body, &p)
			if len(p.Events) != 1 || p.Events[0].Message.Body != fmt.Sprint("hop ", attempt) {
				t.Fatalf("poll answer %s", r.a.Body)
			}
			cursor = p.Cursor
			if sent.Node != r.a.Node {
				t.Logf("sent via %s, received by a poll waiting on %s, %v after the send", sent.Node, r.a.Node, time.Since(start))
				return
			}
		}
	})
}

// pollLoop is a client's poll loop through the balancer: it retries at
// once after errors, drops repeats by event id (as browsers do), and fails
// on an event that arrives again after its id was acknowledged.
type pollLoop struct {
	c         *wireClient
	url       string
	mu        sync.Mutex
	bodies    []string
	seqs      []int64
	acked     int64
	badRepeat string
	errors    atomic.Int64
}

func (l *pollLoop) run(stop <-chan struct{}) {
	cursor := ""
	for {
		select {
		case <-stop:
			return
		default:
		}
		url := l.url + "/api/poll?timeout=5"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		a, err := l.c.do("GET", url, nil)
		if err != nil || a.Status != 200 {
			l.errors.Add(1)
			time.Sleep(20 * time.Millisecond) // a short backoff, as a client would
			continue
		}
		var p wirePoll
		if json.Unmarshal(a.Body, &p) != nil {
			l.errors.Add(1)
			continue
		}
		l.mu.Lock()
		for _, ev := range p.Events {
			if ev.ID <= l.acked {
				l.badRepeat = fmt.Sprintf("event %d arrived again after cursor acknowledged %d", ev.ID, l.acked)
				continue
			}
			if ev.Type == "message" {
				l.bodies = append(l.bodies, ev.Message.Body)
				l.seqs = append(l.seqs, ev.Message.Seq)
			}
		}
		if len(p.Events) > 0 {
			// The next poll acknowledges everything up to here.
			l.acked = max(l.acked, p.Events[len(p.Events)-1].ID)
		}
		l.mu.Unlock()
		cursor = p.Cursor
	}
}

func (l *pollLoop) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seqs)
}

func TestKillNodeHoldingThePollLosesNothing(t *testing.T) {
	c := startCluster(t, nil)
	alice, bob := newWireClient(), newWireClient()
	alice.signup(t, c.lb, "alice")
	bob.signup(t, c.lb, "bob")
	befriendWire(t, c.lb, alice, bob, "bob")

	loop := &pollLoop{c: bob, url: c.lb}
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() { loop.run(stop); close(loopDone) }()
	defer func() { close(stop); <-loopDone }()

	var holder *proc
	storetest.WaitFor(t, 10*time.Second, "bob's poll to wait on a node", func() bool {
		for _, p := range c.nodes {
			if p.waitingPolls() == 1 {
				holder = p
				return true
			}
		}
		return false
	})
	const n = 1000
	sendErrs := 0
	for i := 1; i <= n; i++ {
		if i == 100 {
			holder.cmd.Process.Signal(syscall.SIGKILL)
			t.Logf("killed %s, which held bob's poll", holder.Name)
		}
		body := map[string]any{"to": bob.ID, "type": "single", "body": fmt.Sprint(i), "client_id": fmt.Sprint("k-", i)}
		for {
			a, err := alice.do("POST", c.lb+"/api/messages", body)
			if err == nil && (a.Status == 201 || a.Status == 200) {
				break
			}
			if sendErrs++; sendErrs > 200 {
				t.Fatalf("send %d keeps failing: %v %d %s", i, err, a.Status, a.Body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	storetest.WaitFor(t, 60*time.Second, fmt.Sprintf("bob to receive %d messages", n), func() bool { return loop.count() >= n })
	loop.mu.Lock()
	defer loop.mu.Unlock()
	if loop.badRepeat != "" {
		t.Fatal(loop.badRepeat)
	}
	if len(loop.seqs) != n {
		t.Fatalf("bob received %d messages, want %d", len(loop.seqs), n)
	}
	for i, s := range loop.seqs {
		if s != int64(i+1) || loop.bodies[i] != fmt.Sprint(i+1) {
			t.Fatalf("message %d: seq %d body %q (out of order, repeated or missing)", i, s, loop.bodies[i])
		}
	}
	t.Logf("all %d in order, none twice; %d poll errors and %d send retries on the way", n, loop.errors.Load(), sendErrs)
}

func TestSigtermNodeWithWaitingPolls(t *testing.T) {
	c := startCluster(t, map[string]string{"POLL_SLICE": "10", "POLL_TIMEOUT": "25"})
	owner := newWireClient()
	owner.signup(t, c.lb, "owner")
	var g struct{ Group struct{ ID int64 } }
	owner.must(t, "POST", c.lb+"/api/groups", map[string]any{"name": "many", "max_members": 2000}, 201, &g)
	const n = 500
	clients := make([]*wireClient, n)
	for i := range clients {
		clients[i] = newWireClient()
		clients[i].signup(t, c.lb, fmt.Sprint("user", i))
		// Not the owner's friends: each is invited and accepts.
		var iv struct{ Invite struct{ ID int64 } }
		owner.must(t, "POST", fmt.Sprintf("%s/api/groups/%d/members", c.lb, g.Group.ID), map[string]any{"username": fmt.Sprint("user", i)}, 202, &iv)
		clients[i].must(t, "POST", fmt.Sprintf("%s/api/group-invites/%d/accept", c.lb, iv.Invite.ID), nil, 200, nil)
	}
	// Acknowledge the group_joined events and the member-count news, which
	// comes once a second at most (the last with all n+1 members), then
	// wait on node 1 directly.
	target := c.nodes[0]
	cursors := make([]string, n)
	for i, cl := range clients {
		final := false
		for deadline := time.Now().Add(20 * time.Second); ; {
			var p wirePoll
			url := target.URL + "/api/poll?timeout=0"
			if !final {
				url = target.URL + "/api/poll?timeout=2" // the news may still be on its way
			}
			if cursors[i] != "" {
				url += "&cursor=" + cursors[i]
			}
			cl.must(t, "GET", url, nil, 200, &p)
			cursors[i] = p.Cursor
			for _, ev := range p.Events {
				final = final || (ev.Type == "group_updated" && ev.Group.MemberCount == n+1)
			}
			if final && len(p.Events) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("client %d never heard that the group has %d members", i, n+1)
			}
		}
	}
	type answer struct {
		i       int
		elapsed time.Duration
		p       wirePoll
		err     error
	}
	answers := make(chan answer, n)
	for i, cl := range clients {
		go func() {
			start := time.Now()
			a, err := cl.do("GET", target.URL+"/api/poll?timeout=25&cursor="+cursors[i], nil)
			var p wirePoll
			if err == nil && a.Status != 200 {
				err = fmt.Errorf("status %d %s", a.Status, a.Body)
			}
			if err == nil {
				err = json.Unmarshal(a.Body, &p)
			}
			answers <- answer{i, time.Since(start), p, err}
		}()
	}
	storetest.WaitFor(t, 20*time.Second, fmt.Sprintf("%d polls waiting on %s", n, target.Name), func() bool {
		select {
		case a := <-answers:
			t.Fatalf("a poll answered before SIGTERM: client %d after %v: %+v %v", a.i, a.elapsed, a.p, a.err)
		default:
		}
		return target.waitingPolls() == n
	})
	start := time.Now()
	target.cmd.Process.Signal(syscall.SIGTERM)
	got := map[int]bool{}
	for range n {
		select {
		case a := <-answers:
			if a.err != nil {
				t.Fatalf("client %d: %v", a.i, a.err)
			}
			if len(a.p.Events) != 0 {
				t.Fatalf("client %d got events from a drained poll: %+v", a.i, a.p)
			}
			cursors[a.i] = a.p.Cursor
			got[a.i] = true
		case <-time.After(15 * time.Second):
			t.Fatalf("%d of %d waiting polls answered within 15 s of SIGTERM (poll timeout 25 s)", len(got), n)
		}
	}
	t.Logf("%d waiting polls answered %v after SIGTERM", n, time.Since(start))
	select {
	case <-target.done:
		if target.err != nil {
			t.Fatalf("%s exited with %v", target.Name, target.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not exit by itself", target.Name)
	}
	// The clients go on through the balancer; nothing sent meanwhile is lost.
	owner.must(t, "POST", c.lb+"/api/messages", map[string]any{"to": g.Group.ID, "type": "group", "body": "still here?", "client_id": "after-drain"}, 201, nil)
	var wg sync.WaitGroup
	failures := make(chan string, n)
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
				a, err := cl.do("GET", c.lb+"/api/poll?timeout=5&cursor="+cursors[i], nil)
				if err != nil || a.Status != 200 {
					continue
				}
				var p wirePoll
				json.Unmarshal(a.Body, &p)
				for _, ev := range p.Events {
					if ev.Type == "message" && ev.Message.Body == "still here?" {
						return
					}
				}
				cursors[i] = p.Cursor
			}
			failures <- fmt.Sprint("client ", i, " never got the message")
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}
