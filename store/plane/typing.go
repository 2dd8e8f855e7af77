package plane

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"webchat/store"
)

// Typing tells c's other participants' polling devices that u types
// (until TypingAhead from now) or stopped, at most once per TypingGap: a
// call within the gap does nothing (false). Not allowed to write there:
// ErrNotFriends, or ErrNotMember.
func (p *Plane) Typing(ctx context.Context, u store.UserID, c store.Conv, typing bool) (bool, error) {
	conv := c.String()
	authKey, kind := p.authKey(c)
	keys := []string{authKey, p.k.deny(conv, u), p.k.typing(conv, u)}
	forbidden := store.ErrNotFriends
	if c.IsGroup() {
		forbidden = store.ErrNotMember
	}
	var res []any
	for attempt := 0; ; attempt++ {
		v, err := p.run(ctx, p.s.typing, keys, kind, int64(u), TypingGap.Milliseconds(), boolArg(typing), TypingAhead.Milliseconds())
		if err != nil {
			return false, unavailable("typing", err)
		}
		res, _ = v.([]any)
		if len(res) == 0 {
			return false, unavailable("typing", fmt.Errorf("unexpected reply %v", v))
		}
		again, err := p.settle(ctx, c, u, res[0], attempt, forbidden)
		if err != nil {
			return false, err
		}
		if !again {
			break
		}
	}
	switch res[0] {
	case "throttled":
		return false, nil
	case "ok":
	default:
		return false, unavailable("typing", fmt.Errorf("unexpected status %v", res[0]))
	}
	until := toInt(res[1])
	var to []store.UserID
	if c.IsGroup() {
		for _, m := range asStrings(res[2]) {
			if n, err := strconv.ParseInt(m, 10, 64); err == nil && store.UserID(n) != u {
				to = append(to, store.UserID(n))
			}
		}
	} else {
		to = []store.UserID{c.Other(u)}
	}
	// A notice that expires leads with its until (Expired reads it there);
	// a stop, whose until is now, is never dropped as late.
	payload := fmt.Appendf(nil, `{"type":"typing","until":%d,"conv":"%s","user_id":%d,"typing":true}`, until, conv, u)
	if !typing {
		payload = fmt.Appendf(nil, `{"type":"typing","conv":"%s","user_id":%d,"typing":false,"until":%d}`, conv, u, until)
	}
	ds := make([]Delivery, len(to))
	for i, r := range to {
		ds[i] = Delivery{To: r, Payload: payload, Live: true}
	}
	if _, err := p.Publish(ctx, ds); err != nil {
		return false, err
	}
	return true, nil
}

// stopSlack is how late a typing stop may still be answered: its until is
// the moment it was sent, so a polling device gets it a little after.
const stopSlack = 1000

// Expired says whether ev is an ephemeral event whose time has passed, so
// that a poll answers it no more: a typing notice after its until, a stop
// more than stopSlack after it.
func Expired(ev string, nowMS int64) bool {
	const head, stop = `"type":"typing","until":`, `"type":"typing","conv":`
	i := strings.IndexByte(ev, ',') + 1
	if i == 0 || len(ev) < i+len(head) {
		return false
	}
	var at string
	slack := int64(0)
	switch {
	case ev[i:i+len(head)] == head:
		at = ev[i+len(head):]
	case ev[i:i+len(stop)] == stop:
		j := strings.LastIndex(ev, `,"until":`)
		if j < 0 {
			return false
		}
		at, slack = ev[j+len(`,"until":`):], stopSlack
	default:
		return false
	}
	k := 0
	for k < len(at) && at[k] >= '0' && at[k] <= '9' {
		k++
	}
	until, err := strconv.ParseInt(at[:k], 10, 64)
	return err == nil && until+slack < nowMS
}
