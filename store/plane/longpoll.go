package plane

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"webchat/store"
)

// Poller serves one node's long-polls: Next is the whole of one poll, from
// its first step to its answer, whether it waits on the node's wake-up
// subscription or in a blocking BLMOVE. The gateway asks it for the next
// answer of a device and translates the outcome to HTTP. It is safe for
// concurrent use.
type Poller struct {
	p     *Plane
	w     *Wakeups // nil: polls wait in BLMOVE
	slice time.Duration
	max   int64 // most polls waiting at once; 0: no bound
	log   *slog.Logger

	// Presence announcements a poll step asked for run beside the poll,
	// never in its way: at most cap(ann) at once, one per user (busy: user
	// → zero while one runs, or the time a failed one may be tried again).
	ann  chan struct{}
	busy sync.Map

	mu       sync.Mutex
	waiting  map[*waitingPoll]struct{}
	n        atomic.Int64
	draining atomic.Bool
}

// waitingPoll is a poll waiting on this node, known so that a drain can
// wake it: in Redis (BLMOVE) by a marker, or on the subscription (waiter
// set) directly.
type waitingPoll struct {
	ref    DeviceRef
	waiter *Waiter
}

// PollerOptions tune a Poller.
type PollerOptions struct {
	// Wakeups, when set, makes polls wait on the node's subscription (a Go
	// channel per poll, no Redis connection) rather than in BLMOVE.
	Wakeups *Wakeups
	// Slice is the longest single wait: between slices a poll re-checks
	// its device and session. Default 20 s.
	Slice time.Duration
	// MaxWaiting bounds the polls waiting at once; a poll that would wait
	// past it answers PollRefused. 0: no bound.
	MaxWaiting int
	// Log gets what a poll could not tell the user's friends of their
	// presence (the poll answers anyway); nil: nowhere.
	Log *slog.Logger
}

// NewPoller returns the node's poller. It starts nothing. A slice is at
// most half the presence grace: each slice marks the device live, so a
// waiting poll never shows its user offline.
func (p *Plane) NewPoller(o PollerOptions) *Poller {
	if o.Slice <= 0 {
		o.Slice = 20 * time.Second
	}
	o.Slice = min(o.Slice, p.o.PresenceGrace/2)
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Poller{p: p, w: o.Wakeups, slice: o.Slice, max: int64(o.MaxWaiting), waiting: map[*waitingPoll]struct{}{}, log: o.Log,
		ann: make(chan struct{}, maxAnnouncing)}
}

// maxAnnouncing bounds the presence announcements a node runs at once.
const maxAnnouncing = 64

// step runs one poll step and announces, beside the poll, what it changed
// of the user's presence (a resync's waits for the session check).
func (pl *Poller) step(ctx context.Context, q PollQuery, cursor, gen int64, mode, node string) (PollStep, error) {
	st, err := pl.p.Poll(ctx, q.User, q.Device, cursor, gen, mode, node)
	if err == nil && st.Presence != "" && st.Outcome != PollResync {
		pl.announce(q.User, st.Presence)
	}
	return st, err
}

// announce acts on a step's presence flag in the background. One already
// running for the user, one that failed less than 5 s ago, or a node
// announcing as much as it will, drops it: what the flag says stays in
// Redis, and a later step hands it out again (the poll script repeats an
// announcement not known delivered; a missing choice stays missing).
func (pl *Poller) announce(u store.UserID, flag string) {
	now := time.Now()
	if v, loaded := pl.busy.LoadOrStore(u, time.Time{}); loaded {
		until := v.(time.Time)
		if until.IsZero() || now.Before(until) || !pl.busy.CompareAndSwap(u, v, time.Time{}) {
			return
		}
	}
	select {
	case pl.ann <- struct{}{}:
	default:
		pl.busy.Delete(u)
		return
	}
	go func() {
		defer func() { <-pl.ann }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := pl.p.presenceFlag(ctx, u, flag); err != nil {
			pl.log.Warn("presence: announce", "user", int64(u), "err", err)
			pl.busy.Store(u, time.Now().Add(5*time.Second))
			return
		}
		pl.busy.Delete(u)
	}()
}

// ended records that a poll's client hung up: its device was seen until
// now, and the poll waits no more.
func (pl *Poller) ended(ctx context.Context, q PollQuery, gen int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	keys := []string{pl.p.k.devices(q.User), pl.p.k.pollgen(q.User, q.Device)}
	if _, err := pl.p.run(ctx, pl.p.s.pollEnd, keys, q.Device, gen); err != nil {
		pl.log.Debug("poll: record hang-up", "err", err)
	}
}

// PollQuery is one long-poll of a device.
type PollQuery struct {
	User   store.UserID
	Device string
	Token  string // the session's, checked in Redis when the device is gone or re-entered
	Cursor int64  // the last event the client has; -1: none
	// Timeout is how long the poll may wait for an event; 0 answers at
	// once.
	Timeout time.Duration
	// Stale says the cursor is of an earlier epoch (Epoch): whatever the
	// device has in Redis is of a later generation than the client knows,
	// so it is dropped and the poll answers PollResync.
	Stale bool
}

// Answer outcomes beyond the step outcomes (PollEvents, PollEmpty for a
// timeout, PollResync, PollSuperseded, PollBadCursor).
const (
	PollLoggedOut = "loggedout" // the session is gone: the client must log in again
	PollRefused   = "refused"   // the node has MaxWaiting polls waiting already
	PollDrained   = "drained"   // the node is draining: the poll answers empty, to come back elsewhere
	PollCancelled = "cancelled" // the client hung up: nothing is answered
)

// Answer is how a poll ends.
type Answer struct {
	Outcome string
	Events  []string // for PollEvents, oldest first
	EventID int64    // otherwise: the cursor to send next
}

// Next serves one poll: it acknowledges what the cursor says the client
// has, and answers what is in flight for the device, or waits for it in
// slices until the timeout. What an abandoned poll had moved into flight
// stays there for the next.
func (pl *Poller) Next(ctx context.Context, q PollQuery) (Answer, error) {
	p := pl.p
	mode := PollStart
	if q.Timeout == 0 {
		mode = PollNow
	}
	deadline := time.Now().Add(q.Timeout)
	// With a subscription, the waiter is entered before any step can mark
	// the poll waiting, so that no wake-up comes before it.
	var wt *Waiter
	node := pl.w.Node()
	if pl.w != nil && q.Timeout > 0 {
		wt = pl.w.Register(q.User, q.Device)
		defer pl.w.Unregister(wt)
	}
	step := mode // the mode of the last step
	refused := false
	first := step
	if q.Stale {
		first, q.Cursor = PollReset, -1
	}
	st, err := pl.step(ctx, q, q.Cursor, 0, first, node)
	for {
		if err != nil {
			return Answer{}, err
		}
		switch st.Outcome {
		case PollEvents:
			return Answer{Outcome: PollEvents, Events: st.Events}, nil
		case PollResync:
			// The device was entered afresh. If the session ended meanwhile
			// (a log-out racing this poll, or one that this node's session
			// cache has not heard of yet), take the device out again:
			// nothing may collect its events.
			live, err := p.SessionExists(ctx, q.Token)
			if err != nil {
				return Answer{}, err
			}
			if !live {
				if err := p.UnregisterDevice(ctx, q.User, q.Device); err != nil {
					return Answer{}, err
				}
				return Answer{Outcome: PollLoggedOut}, nil
			}
			if st.Presence != "" {
				pl.announce(q.User, st.Presence)
			}
			return Answer{Outcome: PollResync, EventID: st.EventID}, nil
		case PollBadCursor, PollSuperseded:
			return Answer{Outcome: st.Outcome}, nil
		case PollGone:
			// Logged out, or dropped while waiting: enter afresh.
			live, serr := p.SessionExists(ctx, q.Token)
			if serr != nil {
				return Answer{}, serr
			}
			if !live {
				return Answer{Outcome: PollLoggedOut}, nil
			}
			step = mode
			st, err = pl.step(ctx, q, -1, 0, step, node)
			continue
		}
		// Empty: wait for the inbox, in slices.
		remaining := time.Until(deadline)
		if q.Timeout > 0 && remaining > 0 && pl.max > 0 && pl.n.Load() >= pl.max {
			refused = true // and stays so: the node is too full to wait on
		}
		if remaining <= 0 || q.Timeout == 0 || refused || step == PollFinal {
			// Not waiting (again). A step that may wait (start, check)
			// marked the poll waiting in pollgen: a final step takes the
			// mark away, or the next delivery or newer poll would wake a
			// poll that is gone. It also takes what came meanwhile. After
			// it the poll answers, never waits: unmarked, nothing would
			// wake it.
			if step == PollStart || step == PollCheck {
				step = PollFinal
				st, err = pl.step(ctx, q, q.Cursor, st.Gen, step, node)
				continue
			}
			if refused {
				return Answer{Outcome: PollRefused}, nil
			}
			return Answer{Outcome: PollEmpty, EventID: st.EventID}, nil
		}
		if wt != nil {
			wt.Waiting(st.Gen)
		}
		werr := pl.wait(ctx, DeviceRef{User: q.User, Device: q.Device}, wt, min(remaining, pl.slice))
		if ctx.Err() != nil {
			pl.ended(ctx, q, st.Gen)
			return Answer{Outcome: PollCancelled}, nil
		}
		if pl.draining.Load() {
			return Answer{Outcome: PollDrained, EventID: st.EventID}, nil
		}
		if werr != nil {
			return Answer{}, werr
		}
		if wt != nil {
			// Events a delivery put into flight for this poll came with the
			// wake-up: no step needed.
			if evs := wt.Events(); len(evs) > 0 {
				return Answer{Outcome: PollEvents, Events: evs}, nil
			}
		}
		step = PollCheck
		if time.Until(deadline) <= 0 {
			step = PollFinal
		}
		st, err = pl.step(ctx, q, q.Cursor, st.Gen, step, node)
	}
}

// wait waits one slice for the device's inbox, registered for Drain and
// counted: on the node's subscription when wt is set, else in Redis
// (BLMOVE).
func (pl *Poller) wait(ctx context.Context, ref DeviceRef, wt *Waiter, d time.Duration) error {
	wp := &waitingPoll{ref: ref, waiter: wt}
	pl.mu.Lock()
	pl.waiting[wp] = struct{}{}
	pl.mu.Unlock()
	pl.n.Add(1)
	defer func() {
		pl.mu.Lock()
		delete(pl.waiting, wp)
		pl.mu.Unlock()
		pl.n.Add(-1)
	}()
	if pl.draining.Load() {
		return nil
	}
	if wt != nil {
		// A hang-up needs nothing in Redis: the waiter is forgotten.
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-wt.C:
		case <-t.C:
		case <-ctx.Done():
		}
		return nil
	}
	// go-redis does not interrupt BLMOVE when the client hangs up, so a
	// hang-up pushes a wake marker: the abandoned wait ends at once instead
	// of at the end of its slice, and takes no event meant for the next
	// poll. Slices stay as the safety net should the marker be lost.
	stop := context.AfterFunc(ctx, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		pl.p.Wake(ctx, []DeviceRef{ref})
	})
	defer stop()
	if ctx.Err() != nil {
		return nil
	}
	// Not the caller's context: a cancelled context abandons go-redis's
	// connection wait but not its dial, whose connection then lands in the
	// idle pool past MaxIdleConns. The marker above ends this wait anyway.
	_, err := pl.p.Wait(context.WithoutCancel(ctx), ref.User, ref.Device, d)
	return err
}

// Waiting returns the number of polls waiting now.
func (pl *Poller) Waiting() int { return int(pl.n.Load()) }

// Drain answers every waiting poll at once (PollDrained), and every poll
// that would wait from now on. It reports the wake-ups it could not send
// to Redis (those polls end at their slice).
func (pl *Poller) Drain(ctx context.Context) error {
	if pl.draining.Swap(true) {
		return nil
	}
	pl.mu.Lock()
	devs := make([]DeviceRef, 0, len(pl.waiting))
	for wp := range pl.waiting {
		if wp.waiter != nil {
			wp.waiter.Notify()
			continue
		}
		devs = append(devs, wp.ref)
	}
	pl.mu.Unlock()
	if err := pl.p.Wake(ctx, devs); err != nil {
		return fmt.Errorf("wake waiting polls (they end at their slice): %w", err)
	}
	return nil
}
