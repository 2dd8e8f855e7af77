package plane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// People answers, from SQL, what presence and receipts need: who a user's
// friends are (the only ones told of their presence), and what the user
// chose to show. Redis caches the choices in the user's presence hash.
type People interface {
	FriendIDs(ctx context.Context, u store.UserID) ([]store.UserID, error)
	Prefs(ctx context.Context, u store.UserID) (store.Prefs, error)
}

// PresenceChange is what a user's friends are told: their presence from
// Since (Redis's clock), and when they were last seen.
type PresenceChange struct {
	User     store.UserID
	Presence string // store.StatusOnline, store.StatusAway or store.PresenceOffline
	Since    int64
	LastSeen int64
}

// parseAnnouncement reads a script's "<presence>:<since>:<last seen>".
func parseAnnouncement(u store.UserID, s string) (PresenceChange, bool) {
	state, rest, ok := strings.Cut(s, ":")
	if !ok {
		return PresenceChange{}, false
	}
	since, seen, ok := strings.Cut(rest, ":")
	if !ok {
		return PresenceChange{}, false
	}
	a, err1 := strconv.ParseInt(since, 10, 64)
	b, err2 := strconv.ParseInt(seen, 10, 64)
	if err1 != nil || err2 != nil {
		return PresenceChange{}, false
	}
	return PresenceChange{User: u, Presence: state, Since: a, LastSeen: b}, true
}

// Timing of presence, typing and receipts (DESIGN: "Presence, typing,
// read receipts").
const (
	duePartitions = 8
	// TypingGap is the least time between two typing fan-outs of one user
	// in one conversation; more answer and do nothing.
	TypingGap = 2 * time.Second
	// TypingAhead is how long a typing notice holds without another.
	TypingAhead = 6 * time.Second
	// ReceiptGap is the least time between two flushes of a group's read
	// counts to the authors.
	ReceiptGap = 2 * time.Second
	// dueLease is how long a node holds what it claimed of a due set
	// before another may take it again.
	dueLease = 10 * time.Second
	// maxReceiptSpan bounds the messages one flush looks at for authors.
	maxReceiptSpan = 100
)

func (p *Plane) graceMS() int64 { return p.o.PresenceGrace.Milliseconds() }

// liveWindow is how recently a device must have polled to get ephemeral
// events: a waiting poll refreshes its device every slice, and a slice is
// at most half the presence grace (NewPoller).
func (p *Plane) liveWindow() time.Duration { return p.o.PresenceGrace/2 + 5*time.Second }

// dueKey is the partition of the due sets that member is in.
func (p *Plane) dueKey(member string) string {
	h := fnv.New32a()
	h.Write([]byte(member))
	return p.k.due(int(h.Sum32() % duePartitions))
}

func presenceMember(u store.UserID) string { return "p:" + itoa(int64(u)) }
func receiptMember(conv string) string     { return "r:" + conv }

// schedule enters member in its due set at t (it replaces an entry there).
func (p *Plane) schedule(ctx context.Context, member string, t time.Time) error {
	err := p.rdb.ZAdd(ctx, p.dueKey(member), redis.Z{Score: float64(t.UnixMilli()), Member: member}).Err()
	if err != nil {
		return unavailable("schedule", err)
	}
	return nil
}

// presenceFlag acts on what a script said of u's presence: "" nothing,
// "load" (u's choices are not in Redis: read them from SQL), or an
// announcement for u's friends.
func (p *Plane) presenceFlag(ctx context.Context, u store.UserID, flag string) error {
	switch flag {
	case "":
		return nil
	case "load":
		_, err := p.loadPrefs(ctx, u)
		return err
	}
	ch, ok := parseAnnouncement(u, flag)
	if !ok {
		return fmt.Errorf("presence of %d: unexpected announcement %q", u, flag)
	}
	return p.announce(ctx, ch)
}

// prefs returns u's choices from SQL; without People, the defaults.
func (p *Plane) prefs(ctx context.Context, u store.UserID) (store.Prefs, error) {
	if p.people == nil {
		return store.DefaultPrefs, nil
	}
	return p.people.Prefs(ctx, u)
}

// loadPrefs writes u's choices from SQL into Redis where Redis has none,
// announces what that changes, and returns the choices.
func (p *Plane) loadPrefs(ctx context.Context, u store.UserID) (store.Prefs, error) {
	pr, err := p.prefs(ctx, u)
	if err != nil {
		return store.Prefs{}, err
	}
	return pr, p.runPresence(ctx, u, "load", pr.Status, boolArg(pr.Receipts))
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// SetPresence records what u chose (status "" and receipts nil keep what
// is there) after SQL has it, and tells u's friends what that changes.
func (p *Plane) SetPresence(ctx context.Context, u store.UserID, status string, receipts *bool) error {
	r := ""
	if receipts != nil {
		r = boolArg(*receipts)
	}
	return p.runPresence(ctx, u, "set", status, r)
}

// runPresence runs presence.lua in mode set or load and announces.
func (p *Plane) runPresence(ctx context.Context, u store.UserID, mode, status, receipts string) error {
	v, err := p.run(ctx, p.s.presence, []string{p.k.devices(u), p.k.presence(u)}, mode, p.graceMS(), status, receipts)
	if err != nil {
		return unavailable("presence", err)
	}
	res := asStrings(v)
	if len(res) != 4 {
		return unavailable("presence", fmt.Errorf("unexpected reply %v", v))
	}
	if res[0] == "load" {
		// A set before Redis had the user's choices: those from SQL first
		// (load announces), then the set again.
		if mode == "load" {
			return unavailable("presence", errors.New("load answered load"))
		}
		if _, err := p.loadPrefs(ctx, u); err != nil {
			return err
		}
		return p.runPresence(ctx, u, mode, status, receipts)
	}
	return p.presenceFlag(ctx, u, res[1])
}

// announce tells u's friends of a change, one pipelined round trip per
// Redis node. A user shown online is entered in the due set, so that
// some node sends offline once the grace has passed without a poll. A
// failed fan-out is tried again by the sweeper (the presence hash keeps
// what was announced last).
func (p *Plane) announce(ctx context.Context, ch PresenceChange) error {
	member := presenceMember(ch.User)
	if ch.Presence != store.PresenceOffline {
		if err := p.schedule(ctx, member, time.Now().Add(p.o.PresenceGrace)); err != nil {
			return err
		}
	}
	if err := p.fanOutPresence(ctx, ch); err != nil {
		// The sweeper sends it again in a moment (the hash says it is not
		// known delivered); the change itself stands, so this is no failure
		// of the caller's (a log-out, a status change).
		if serr := p.schedule(ctx, member, time.Now().Add(time.Second)); serr != nil {
			return errors.Join(err, serr)
		}
		p.log.Warn("presence: announce, to be sent again", "user", int64(ch.User), "err", err)
	}
	return nil
}

func (p *Plane) fanOutPresence(ctx context.Context, ch PresenceChange) error {
	var friends []store.UserID
	if p.people != nil {
		var err error
		if friends, err = p.people.FriendIDs(ctx, ch.User); err != nil {
			return err
		}
	}
	payload := fmt.Appendf(nil, `{"type":"presence","user_id":%d,"presence":"%s","last_seen":%d,"since":%d}`,
		ch.User, ch.Presence, ch.LastSeen, ch.Since)
	ds := make([]Delivery, len(friends))
	for i, f := range friends {
		// Only polling devices: one that comes back later reads presence
		// from /api/me, so none fills its inbox with a day of comings
		// and goings.
		ds[i] = Delivery{To: f, Payload: payload, Live: true}
	}
	if _, err := p.Publish(ctx, ds); err != nil {
		return err
	}
	// Delivered: the sweeper need not send it again (ann only rises, so a
	// slower fan-out of an older change does not undo a newer one's mark).
	keys := []string{p.k.devices(ch.User), p.k.presence(ch.User)}
	if _, err := p.run(ctx, p.s.presence, keys, "ann", p.graceMS(), ch.Since, ""); err != nil {
		return unavailable("mark presence announced", err)
	}
	return nil
}

// Sweeper does, on every node, what is due whoever is there: offline for
// a user whose grace passed without a poll, a group's read counts to the
// authors, and announcements that failed. Entries are claimed under a
// lease, so a node that dies holding some leaves them to the others.
type Sweeper struct {
	p     *Plane
	log   *slog.Logger
	every time.Duration
}

// NewSweeper returns the node's sweeper; Run runs it.
func NewSweeper(p *Plane, log *slog.Logger) *Sweeper {
	return &Sweeper{p: p, log: log, every: min(time.Second, max(p.o.PresenceGrace/8, 50*time.Millisecond))}
}

// Run sweeps until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Round(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("presence and receipts sweep", "err", err)
		}
	}
}

// Round claims and does what is due now in every partition.
func (s *Sweeper) Round(ctx context.Context) error {
	p := s.p
	calls := make([]*evalCall, duePartitions)
	for i := range calls {
		calls[i] = &evalCall{script: p.s.claim, keys: []string{p.k.due(i)}, args: []any{dueLease.Milliseconds(), 500}}
	}
	err := p.s.runPipelined(ctx, p.rdb, calls, false)
	var errs []error
	if err != nil {
		errs = append(errs, unavailable("claim due", err))
	}
	for i, c := range calls {
		if c.cmd == nil || c.cmd.Err() != nil {
			continue
		}
		got := asStrings(c.cmd.Val())
		if len(got) < 2 {
			continue
		}
		if err := s.settle(ctx, p.k.due(i), got[0], got[1:]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// settle does each claimed member's due and records what comes next.
func (s *Sweeper) settle(ctx context.Context, key, lease string, members []string) error {
	p := s.p
	next := make([]any, 0, 1+2*len(members))
	next = append(next, lease)
	var errs []error
	checks := s.checks(ctx, members)
	for _, m := range members {
		when, err := s.do(ctx, m, checks[m])
		if err != nil {
			errs = append(errs, err)
			when = strconv.FormatInt(time.Now().Add(time.Second).UnixMilli(), 10)
		}
		next = append(next, m, when)
	}
	if _, err := p.run(ctx, p.s.settle, []string{key}, next...); err != nil {
		errs = append(errs, unavailable("settle due", err))
	}
	return errors.Join(errs...)
}

// checks runs the presence checks of the claimed users in one pipeline.
func (s *Sweeper) checks(ctx context.Context, members []string) map[string]*evalCall {
	p := s.p
	calls := map[string]*evalCall{}
	var list []*evalCall
	for _, m := range members {
		id, ok := strings.CutPrefix(m, "p:")
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			continue
		}
		u := store.UserID(n)
		c := &evalCall{script: p.s.presence, keys: []string{p.k.devices(u), p.k.presence(u)}, args: []any{"check", p.graceMS(), "", ""}}
		calls[m] = c
		list = append(list, c)
	}
	if len(list) > 0 {
		p.s.runPipelined(ctx, p.rdb, list, false) // each call's error is its own
	}
	return calls
}

// do does one member's due: it returns when it is due next ("-": not
// again). check is the member's presence check, already run.
func (s *Sweeper) do(ctx context.Context, m string, check *evalCall) (string, error) {
	p := s.p
	kind, id, _ := strings.Cut(m, ":")
	switch kind {
	case "p":
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || check == nil {
			return "-", nil
		}
		u := store.UserID(n)
		if check.cmd == nil || check.cmd.Err() != nil {
			err := errors.New("not sent")
			if check.cmd != nil {
				err = check.cmd.Err()
			}
			return "", unavailable("check presence", err)
		}
		res := asStrings(check.cmd.Val())
		if len(res) != 4 {
			return "", unavailable("check presence", fmt.Errorf("unexpected reply %v", check.cmd.Val()))
		}
		if res[0] == "load" {
			// Redis lost the user's choices: read them back (which shows
			// what they say), and look again next round.
			if _, err := p.loadPrefs(ctx, u); err != nil {
				return "", err
			}
			return strconv.FormatInt(time.Now().UnixMilli(), 10), nil
		}
		ann := cmp.Or(res[1], res[3])
		if ann != "" {
			ch, ok := parseAnnouncement(u, ann)
			if !ok {
				return "-", fmt.Errorf("presence of %d: unexpected announcement %q", u, ann)
			}
			if err := p.fanOutPresence(ctx, ch); err != nil {
				return "", err
			}
		}
		if res[0] != "live" {
			return "-", nil
		}
		last, _ := strconv.ParseInt(res[2], 10, 64)
		return strconv.FormatInt(last+p.graceMS()+1, 10), nil
	case "r":
		return p.flushReceipts(ctx, id)
	}
	return "-", nil
}
