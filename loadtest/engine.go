package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// user is one simulated user with one device. Its poll state is touched
// only by its own poll goroutine.
type user struct {
	idx     int
	base    string // the node it talks to
	name    string
	id      int64 // webchat user id
	cookie  string
	friends []int32
	group   int32 // index into engine.groups, -1 if none

	cursor  string            // webchat poll cursor
	lastMod string            // nchan If-Modified-Since
	etag    string            // nchan If-None-Match
	got     map[uint64]int64  // message id → seq first received
	chatty  bool              // types before sending, reads what arrives (-chatty)
	typed   map[int]time.Time // dest → last typing notice, as the browser paces them (typedMu)
}

type group struct {
	id      int64
	conv    string
	members []int32
}

// delivery is one message as a poll answered it.
type delivery struct {
	body string
	conv string
	seq  int64
	from int64
}

// sendAnswer is the stored message as the send answer shows it.
type sendAnswer struct {
	conv string
	seq  int64
}

// driver speaks one server's protocol.
type driver interface {
	// setup creates the accounts and the friendships or groups the engine
	// laid out, and fills in ids and cookies.
	setup(ctx context.Context, e *engine) error
	// settle empties what setup left waiting for the user's device.
	settle(ctx context.Context, e *engine, u *user) error
	// poll runs one long-poll and returns the messages it answered.
	poll(ctx context.Context, e *engine, u *user) ([]delivery, error)
	// send sends a message from u to a friend (direct, idle) or its group.
	send(ctx context.Context, e *engine, u *user, dest int, body, clientID string) (sendAnswer, error)
}

// chatter is a driver whose users can also type and read (-chatty).
type chatter interface {
	// typing tells dest's conversation that u types.
	typing(ctx context.Context, e *engine, u *user, dest int) error
	// read marks conv read up to seq for u.
	read(ctx context.Context, e *engine, u *user, conv string, seq int64) error
}

type engine struct {
	cfg    config
	drv    driver
	runID  string
	users  []*user
	groups []*group
	tr     *tracker

	pollHC *http.Client
	sendHC *http.Client
	setHC  *http.Client

	polling  atomic.Int64 // polls in flight
	inflight atomic.Int64 // sends in flight
	sendWG   sync.WaitGroup
	readWG   sync.WaitGroup // chatty users' reads, started by the poll loops
	rng      *rand.Rand     // the sender goroutine's only

	protoOnce sync.Once
	typedMu   sync.Mutex // users' typed maps (sends run concurrently)
}

func newEngine(cfg config) *engine {
	e := &engine{cfg: cfg, runID: randomID(6)}
	switch cfg.Target {
	case "nchan":
		e.drv = &nchanDriver{}
	default:
		e.drv = &webchatDriver{}
	}
	conns := cfg.Users + 16
	e.pollHC = &http.Client{Transport: newTransport(conns)}
	e.sendHC = &http.Client{Transport: newTransport(conns)}
	e.setHC = &http.Client{Transport: newTransport(cfg.SetupConc + 16), Timeout: 30 * time.Second}
	e.rng = rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	e.layout()
	ignoreSelf := cfg.Target == "nchan" // a channel echoes to its publisher's own subscription
	e.tr = newTracker(func(r *msgRec, dev int) bool {
		if cfg.Scenario == "group" {
			return int(r.sender) != dev && e.users[dev].group == r.dest
		}
		return int(r.dest) == dev
	})
	e.tr.ignoreSelf = ignoreSelf
	return e
}

// layout decides who is friends with whom, or who is in which group.
// Users are spread round-robin over the target URLs.
func (e *engine) layout() {
	n := e.cfg.Users
	e.users = make([]*user, n)
	for i := range e.users {
		e.users[i] = &user{idx: i, base: e.cfg.URLs[i%len(e.cfg.URLs)], name: fmt.Sprintf("lt%s_%d", e.runID, i), group: -1, got: map[uint64]int64{},
			chatty: float64(i%100) < e.cfg.Chatty*100}
	}
	if e.cfg.Scenario == "group" {
		g := e.cfg.GroupSize
		for gi := 0; (gi+1)*g <= n; gi++ {
			grp := &group{}
			for m := gi * g; m < (gi+1)*g; m++ {
				grp.members = append(grp.members, int32(m))
				e.users[m].group = int32(len(e.groups))
			}
			e.groups = append(e.groups, grp)
		}
		return
	}
	for i := range n {
		for k := 1; k <= e.cfg.Friends; k++ {
			j := (i + k) % n
			e.users[i].friends = append(e.users[i].friends, int32(j))
			e.users[j].friends = append(e.users[j].friends, int32(i))
		}
	}
}

// pairs returns each friendship once, as (asker, asked).
func (e *engine) pairs() [][2]int {
	var out [][2]int
	n := e.cfg.Users
	for i := range n {
		for k := 1; k <= e.cfg.Friends; k++ {
			out = append(out, [2]int{i, (i + k) % n})
		}
	}
	return out
}

// parallel runs f(i) for i in [0, n) on -setup-concurrency goroutines and
// returns the first error.
func (e *engine) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(e.cfg.SetupConc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// protocolError reports the first protocol error in full: it means the
// API and this generator disagree.
func (e *engine) protocolError(err error) {
	var re *reqError
	if errors.As(err, &re) && re.kind == "protocol" {
		e.protoOnce.Do(func() { fmt.Fprintln(os.Stderr, "loadtest: protocol error (first of its kind):", err) })
	}
}

// pollLoop is one device's poll loop: poll with the cursor, take what
// came, poll again at once.
func (e *engine) pollLoop(ctx context.Context, u *user) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		e.polling.Add(1)
		ds, err := e.drv.poll(ctx, e, u)
		e.polling.Add(-1)
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.protocolError(err)
			e.tr.error(errKind("poll", err), now)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff + rand.N(backoff)):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for _, d := range ds {
			e.handle(u, d, now)
		}
		if u.chatty && len(ds) > 0 {
			e.readAll(ctx, u, ds)
		}
	}
}

// readAll marks read, in the background, the newest message of each
// conversation in a poll's answer, as a person looking at it does.
func (e *engine) readAll(ctx context.Context, u *user, ds []delivery) {
	c, ok := e.drv.(chatter)
	if !ok {
		return
	}
	newest := map[string]int64{}
	for _, d := range ds {
		newest[d.conv] = max(newest[d.conv], d.seq)
	}
	for conv, seq := range newest {
		// Not sendWG: a step's end waits for its sends while the poll
		// loops go on, and a WaitGroup may not gain work from zero while
		// it is waited for.
		e.readWG.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := c.read(rctx, e, u, conv, seq); err != nil && ctx.Err() == nil {
				e.tr.error(errKind("read", err), time.Now())
			}
		})
	}
}

// handle accounts for one message a device received.
func (e *engine) handle(u *user, d delivery, now time.Time) {
	id, at, ok := parseBody(d.body)
	if !ok {
		e.tr.error("foreign_message", now)
		return
	}
	if prev, seen := u.got[id]; seen {
		// The loop acknowledges every answer with its cursor, so a
		// repeat is a (conv, seq) reaching the device after it
		// acknowledged it — or the same send under another seq.
		if d.seq != prev {
			e.tr.storedTwice(id)
		} else {
			e.tr.redelivered(id)
		}
		return
	}
	u.got[id] = d.seq
	e.tr.received(id, u.idx, d.conv, d.seq, at, now)
}

// runStep sends at rate for the configured duration (open model: a ticker
// releases every due message in its own goroutine, whatever the server's
// answers), then waits for the deliveries.
func (e *engine) runStep(ctx context.Context, rate float64) *stepStats {
	return e.runStepFor(ctx, rate, e.cfg.Duration)
}

func (e *engine) runStepFor(ctx context.Context, rate float64, dur time.Duration) *stepStats {
	start := time.Now()
	st := e.tr.beginStep(rate, start)
	total := int64(rate * dur.Seconds())
	tick := time.NewTicker(time.Millisecond)
	var i int64
loop:
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			break loop
		case now = <-tick.C:
		}
		elapsed := now.Sub(start)
		// Message i is due at start + i/rate: message 0 at once.
		due := min(int64(elapsed.Seconds()*rate)+1, total)
		for ; i < due; i++ {
			e.dispatch(ctx, start.Add(time.Duration(float64(i)/rate*float64(time.Second))))
		}
		if elapsed >= dur {
			break
		}
	}
	tick.Stop()
	st.sendEnd = time.Now()
	// Wait for every answer (each send gives up by itself), then for the
	// deliveries, at most -drain.
	e.sendWG.Wait()
	deadline := time.Now().Add(e.cfg.Drain)
	for e.tr.pending() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return e.tr.endStep(time.Now())
}

// dispatch starts one send due at at.
func (e *engine) dispatch(ctx context.Context, at time.Time) {
	if e.inflight.Load() >= int64(e.cfg.MaxInflight) {
		e.tr.backlogged(at)
		return
	}
	from, dest, recipients := e.pick()
	id := e.tr.newMessage(from, dest, recipients, at)
	body := makeBody(id, at, e.cfg.BodySize)
	clientID := "lt-" + e.runID + "-" + fmt.Sprint(id)
	e.inflight.Add(1)
	e.sendWG.Go(func() {
		defer e.inflight.Add(-1)
		e.send(ctx, id, e.users[from], dest, body, clientID, at)
	})
}

// pick chooses a sender and a destination at random.
func (e *engine) pick() (from, dest, recipients int) {
	if e.cfg.Scenario == "group" {
		g := e.rng.IntN(len(e.groups))
		m := e.groups[g].members
		return int(m[e.rng.IntN(len(m))]), g, len(m) - 1
	}
	from = e.rng.IntN(len(e.users))
	f := e.users[from].friends
	return from, int(f[e.rng.IntN(len(f))]), 1
}

// send sends one message, retrying with the same client_id as a browser
// does, so a retry can never store it twice.
func (e *engine) send(ctx context.Context, id uint64, u *user, dest int, body, clientID string, at time.Time) {
	attempts := 3
	if e.cfg.Target == "nchan" {
		attempts = 1 // a publish has no client_id: a retry could store it twice
	}
	if c, ok := e.drv.(chatter); ok && u.chatty && e.typingDue(u, dest) {
		// A person's typing notice goes while they type, seconds before
		// the send: so beside the send here, never in front of it, where
		// its round trip would count in the message's latency. Its failure
		// is counted, not the send's.
		e.sendWG.Go(func() {
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := c.typing(tctx, e, u, dest); err != nil && ctx.Err() == nil {
				e.tr.error(errKind("typing", err), time.Now())
			}
		})
	}
	var err error
	for a := range attempts {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var ans sendAnswer
		ans, err = e.drv.send(sctx, e, u, dest, body, clientID)
		cancel()
		now := time.Now()
		if err == nil {
			e.tr.answered(id, ans.conv, ans.seq, at, now)
			return
		}
		e.protocolError(err)
		if ctx.Err() != nil || !retryable(err) || a == attempts-1 {
			break
		}
		e.tr.error(errKind("send", err)+"_retried", now)
		wait := time.Duration(a+1) * 100 * time.Millisecond
		var re *reqError
		if errors.As(err, &re) && re.retry > 0 {
			wait = min(re.retry, time.Second)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	e.tr.failed(id, errKind("send", err), time.Now())
}

func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	crand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// typingEvery is the browser's pace of typing notices in one conversation
// (ui/static/presence.js, TYPING_EVERY): a person typing message after
// message sends one every 2.5 s, not one per message.
const typingEvery = 2500 * time.Millisecond

// typingDue says whether u, about to send to dest, would have told the
// conversation it types since the last notice, and notes it if so.
func (e *engine) typingDue(u *user, dest int) bool {
	e.typedMu.Lock()
	defer e.typedMu.Unlock()
	now := time.Now()
	if u.typed == nil {
		u.typed = map[int]time.Time{}
	}
	if now.Sub(u.typed[dest]) < typingEvery {
		return false
	}
	u.typed[dest] = now
	return true
}
