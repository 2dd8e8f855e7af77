package plane

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// Poll step outcomes.
const (
	PollEvents     = "events"     // Events holds what is in flight, oldest first
	PollEmpty      = "empty"      // nothing in flight; EventID is the cursor to send next
	PollResync     = "resync"     // the device had been dropped and is entered afresh
	PollGone       = "gone"       // the device no longer exists (logged out or dropped)
	PollSuperseded = "superseded" // a newer poll of the device took over
	PollBadCursor  = "badcursor"  // the cursor names an event never given
)

// Poll step modes.
const (
	PollStart = "start" // a new poll: takes the next generation, may re-enter a dropped device
	PollNow   = "now"   // a new poll that will not wait (timeout=0): as start, but never marked waiting
	PollCheck = "check" // between waits of the same poll
	PollFinal = "final" // the last check before answering a timeout
	PollReset = "reset" // a new poll whose cursor is of an earlier epoch: the device is entered afresh
)

// PollStep is one non-blocking step of a long-poll.
type PollStep struct {
	Outcome string
	Gen     int64    // the poll's generation, to pass to later steps
	Events  []string // JSON events, each with its id
	EventID int64    // for PollEmpty and PollResync: the cursor to send next
	// Presence is what this step changed of what the user's friends see
	// (presenceFlag), for the poller to announce.
	Presence string
}

// Poll runs one step of a long-poll for device dev: marks it live,
// acknowledges every in-flight event up to cursor (-1: none), moves what
// waits in the inbox into flight, and returns what is in flight. gen is 0
// for a new poll, which wakes an older poll of the same device. node is
// the Wakeups node the poll waits on if this step finds nothing ("": it
// waits with Wait, in BLMOVE).
func (p *Plane) Poll(ctx context.Context, u store.UserID, dev string, cursor, gen int64, mode, node string) (PollStep, error) {
	keys := []string{p.k.evid(u), p.k.devices(u), p.k.pollgen(u, dev), p.k.inbox(u, dev), p.k.inflight(u, dev), p.k.presence(u)}
	v, err := p.run(ctx, p.s.poll, keys, p.kp, userTag(u), dev, cursor, gen, p.ttlMS(), p.o.PollBatch, p.o.MaxDevices, mode, node)
	if err != nil {
		return PollStep{}, unavailable("poll", err)
	}
	res, _ := v.([]any)
	if len(res) == 0 {
		return PollStep{}, unavailable("poll", fmt.Errorf("unexpected reply %v", v))
	}
	outcome, _ := res[0].(string) // not fmt.Sprint: this runs for every poll
	st := PollStep{Outcome: outcome}
	switch st.Outcome {
	case PollEvents:
		st.Gen = toInt(res[1])
		st.Presence, _ = res[2].(string)
		st.Events = make([]string, 0, len(res)-3)
		for _, e := range res[3:] {
			if s, ok := e.(string); ok {
				st.Events = append(st.Events, s)
			}
		}
	case PollEmpty:
		st.Gen, st.EventID = toInt(res[1]), toInt(res[2])
		st.Presence, _ = res[3].(string)
	case PollResync:
		st.EventID, st.Gen = toInt(res[1]), toInt(res[2])
		st.Presence, _ = res[3].(string)
	case PollGone, PollSuperseded, PollBadCursor:
	default:
		return PollStep{}, unavailable("poll", fmt.Errorf("unexpected outcome %v", res[0]))
	}
	return st, nil
}

// Wait blocks until something is pushed to the device's inbox or d passes,
// moving it into flight (BLMOVE, on the blocking client). d is rounded up
// to a whole second and is never 0, which would block forever. go-redis
// does not interrupt a blocking command when ctx is cancelled, so callers
// wait in short slices.
func (p *Plane) Wait(ctx context.Context, u store.UserID, dev string, d time.Duration) (bool, error) {
	if d < time.Second {
		d = time.Second
	}
	d = d.Truncate(time.Second)
	err := p.block.BLMove(ctx, p.k.inbox(u, dev), p.k.inflight(u, dev), "RIGHT", "LEFT", d).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	}
	return false, unavailable("wait for events", err)
}

// EventID reads the id at the head of an event the scripts built.
func EventID(ev string) int64 {
	const head = `{"id":`
	if len(ev) < len(head) || ev[:len(head)] != head {
		return 0
	}
	i := len(head)
	j := i
	for j < len(ev) && ev[j] >= '0' && ev[j] <= '9' {
		j++
	}
	n, _ := strconv.ParseInt(ev[i:j], 10, 64)
	return n
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
