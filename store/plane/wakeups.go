package plane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// Wakeups is one node's wake-up subscription, the alternative to a
// blocking read in Redis per waiting poll: a poll marks itself waiting on
// the node ('gen:w:<node>' in its pollgen key) and waits on a Go channel;
// a script that supersedes or logs it out publishes to the node's channel
// (PUBLISH <prefix>wake:<node> <user tag><device>), and the poll then runs
// its non-blocking step; a delivery puts its event straight into the
// device's inflight list and publishes it with the wake-up, and the poll
// answers it without a step. The lists stay the only truth: what a poll
// does not answer stays in inflight for the next. A publish lost
// while the subscription reconnects costs latency, never an event: every
// waiter is woken when the subscription is renewed, and a waiter re-checks
// at the end of each slice anyway.
//
// Abandoned polls cost nothing in Redis: the waiter is simply forgotten.
type Wakeups struct {
	log     *slog.Logger
	rdb     redis.UniversalClient
	node    string
	channel string
	chans   map[string]Channel // the other channels, by name

	mu      sync.Mutex
	waiters map[string]*Waiter // per device, a list: usually of one
	ps      *redis.PubSub
	closed  bool
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the loop returns
}

// Waiter is one poll waiting on its node's subscription.
type Waiter struct {
	// C receives when the device may have events, or its state changed.
	C    chan struct{}
	key  string
	next *Waiter // another waiter of the same device on this node

	mu     sync.Mutex
	gen    int64    // the poll's generation once a step marked it waiting
	events []string // handed over with wake-ups for gen, oldest first
}

// Waiting records the generation of the poll, as its step returned it:
// events handed over for that generation are the poll's to answer.
func (wt *Waiter) Waiting(gen int64) {
	wt.mu.Lock()
	wt.gen = gen
	wt.mu.Unlock()
}

// Events returns and forgets the events handed over with wake-ups. They
// are in the device's inflight list already, so the poll answers them as
// a step would have: an answer the client never gets is answered again by
// its next poll.
func (wt *Waiter) Events() []string {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	evs := wt.events
	wt.events = nil
	return evs
}

func (wt *Waiter) handOver(gen int64, ev string) {
	wt.mu.Lock()
	if gen == wt.gen {
		wt.events = append(wt.events, ev)
	}
	wt.mu.Unlock()
}

// Notify wakes the waiter (drain, hang-up); it never blocks.
func (wt *Waiter) Notify() {
	select {
	case wt.C <- struct{}{}:
	default:
	}
}

// Channel is one more channel of the node's subscription (the session
// news of store/session), with its handlers. Message receives what is
// published to it; Live(true) says the subscription is up (at the start,
// and again when it is renewed: what was published while it was down is
// lost), Live(false) that it is down or closed and news may be missed.
// Both run on the subscription's goroutine (Live(false) of Close, after
// it has ended) and must not block.
type Channel struct {
	Name    string
	Message func(payload string)
	Live    func(live bool)
}

// Subscribe starts the node's subscription, to its wake-up channel and to
// chans, and returns once Redis has confirmed it. Close stops it.
func (p *Plane) Subscribe(ctx context.Context, log *slog.Logger, chans ...Channel) (*Wakeups, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("node id: %w", err)
	}
	// A random id per process, so that two nodes given the same NODE_NAME
	// (or none) never share a channel.
	node := hex.EncodeToString(b[:])
	w := &Wakeups{
		log: log, rdb: p.rdb, node: node, channel: p.kp + "wake:" + node, chans: map[string]Channel{},
		waiters: map[string]*Waiter{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	if log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	for _, c := range chans {
		w.chans[c.Name] = c
	}
	ps, err := w.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	w.ps = ps
	w.live(true)
	go w.loop()
	return w, nil
}

func (w *Wakeups) subscribe(ctx context.Context) (*redis.PubSub, error) {
	names := []string{w.channel}
	for name := range w.chans {
		names = append(names, name)
	}
	ps := w.rdb.Subscribe(ctx, names...)
	var err error
	for range names { // one confirmation per channel
		var msg any
		if msg, err = ps.ReceiveTimeout(ctx, 5*time.Second); err != nil {
			break
		}
		if _, ok := msg.(*redis.Subscription); !ok {
			err = fmt.Errorf("unexpected reply %T", msg)
			break
		}
	}
	if err != nil {
		ps.Close()
		return nil, unavailable("subscribe to wake-ups", err)
	}
	return ps, nil
}

// live tells the other channels' handlers whether the subscription is up.
func (w *Wakeups) live(up bool) {
	for _, c := range w.chans {
		if c.Live != nil {
			c.Live(up)
		}
	}
}

// Node is the id that the poll script writes into a waiting poll's pollgen.
func (w *Wakeups) Node() string {
	if w == nil {
		return ""
	}
	return w.node
}

// Register enters a waiter for the device. Register before the poll step
// that marks the poll waiting, so that no publish can come before it.
func (w *Wakeups) Register(u store.UserID, dev string) *Waiter {
	wt := &Waiter{C: make(chan struct{}, 1), key: userTag(u) + dev}
	w.mu.Lock()
	wt.next = w.waiters[wt.key]
	w.waiters[wt.key] = wt
	w.mu.Unlock()
	return wt
}

// Unregister forgets a waiter.
func (w *Wakeups) Unregister(wt *Waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	head := w.waiters[wt.key]
	if head == wt {
		if wt.next == nil {
			delete(w.waiters, wt.key)
		} else {
			w.waiters[wt.key] = wt.next
		}
		return
	}
	for p := head; p != nil; p = p.next {
		if p.next == wt {
			p.next = wt.next
			return
		}
	}
}

// notify handles a wake-up: "<user tag><device>", or, when a delivery put
// an event straight into the inflight list of a poll waiting here,
// "<user tag><device>\n<gen>\n<event>". A waiter of another generation (a
// poll superseded meanwhile) takes it as a plain wake-up and runs a step.
func (w *Wakeups) notify(payload string) {
	key, rest, handed := strings.Cut(payload, "\n")
	var gen int64
	var ev string
	if handed {
		var g string
		g, ev, _ = strings.Cut(rest, "\n")
		gen, _ = strconv.ParseInt(g, 10, 64)
	}
	w.mu.Lock()
	for wt := w.waiters[key]; wt != nil; wt = wt.next {
		if handed && ev != "" {
			wt.handOver(gen, ev)
		}
		wt.Notify()
	}
	w.mu.Unlock()
}

// notifyAll wakes every waiter: publishes may have been lost.
func (w *Wakeups) notifyAll() {
	w.mu.Lock()
	for _, head := range w.waiters {
		for wt := head; wt != nil; wt = wt.next {
			wt.Notify()
		}
	}
	w.mu.Unlock()
}

// Close ends the subscription. Waiters are not woken: the node's drain
// answers them.
func (w *Wakeups) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.stop)
	ps := w.ps
	w.mu.Unlock()
	ps.Close() // the renewal may have closed it already
	<-w.done
	// After the loop, which may still have said live(true) meanwhile.
	w.live(false)
	return nil
}

func (w *Wakeups) current() (*redis.PubSub, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ps, w.closed
}

// idle is how long the subscription may be silent before it is pinged;
// a second silent period means the connection is dead and it is replaced.
const wakeIdle = 15 * time.Second

func (w *Wakeups) loop() {
	defer close(w.done)
	ctx := context.Background()
	pinged := false
	backoff := 50 * time.Millisecond
	for {
		ps, closed := w.current()
		if closed {
			return
		}
		msg, err := ps.ReceiveTimeout(ctx, wakeIdle)
		if _, closed := w.current(); closed {
			return
		}
		var ne net.Error
		switch {
		case err == nil:
			pinged, backoff = false, 50*time.Millisecond
		case errors.As(err, &ne) && ne.Timeout() && !pinged:
			// Silent: a ping proves the connection (its pong comes back
			// through ReceiveTimeout).
			pinged = true
			if perr := ps.Ping(ctx); perr != nil {
				w.log.Warn("wake-up subscription: ping", "err", perr)
			}
			continue
		default:
			// Broken or dead: publishes may have been lost meanwhile, so
			// every waiter re-checks; then a new subscription.
			w.log.Warn("wake-up subscription lost; renewing", "err", err)
			w.live(false) // and no caching of what it carries until it is back
			w.notifyAll()
			w.renew(ps, &backoff)
			pinged = false
			continue
		}
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == w.channel {
				w.notify(m.Payload)
			} else if c, ok := w.chans[m.Channel]; ok && c.Message != nil {
				c.Message(m.Payload)
			}
		case *redis.Subscription:
			// go-redis renewed the subscription after a reconnect: what was
			// published before that is lost, so every waiter re-checks.
			if m.Kind == "subscribe" {
				w.live(true)
				w.notifyAll()
			}
		}
	}
}

// renew replaces the subscription, retrying until it holds or Close.
func (w *Wakeups) renew(old *redis.PubSub, backoff *time.Duration) {
	old.Close()
	for {
		select {
		case <-time.After(*backoff):
		case <-w.stop:
			return
		}
		*backoff = min(*backoff*2, 2*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ps, err := w.subscribe(ctx)
		cancel()
		if err != nil {
			w.log.Warn("wake-up subscription: renew", "err", err)
			continue
		}
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			ps.Close()
			return
		}
		w.ps = ps
		w.mu.Unlock()
		// Published while there was no subscription: lost.
		w.live(true)
		w.notifyAll()
		return
	}
}
