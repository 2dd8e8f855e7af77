// Package plane is webchat's Redis message plane: per-conversation
// sequence numbers and history, per-device delivery lists and the
// long-poll that serves them, unread counts, the write-through of rights
// from the SQL graph, rate limits, the node's subscription, and sessions
// (an scs.CtxStore with a node-local cache). Every key is under one
// prefix and carries its conversation's or user's hash tag, so the plane
// runs on a single Redis and on the Redis Cluster alike.
package plane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// Options sizes the message plane. Zero fields take the defaults.
type Options struct {
	Prefix      string        // key prefix, default "wc:"
	HistoryCap  int           // messages kept per conversation, default 10,000
	InboxCap    int           // events waiting per device before it is dropped, default 1,000
	DeviceTTL   time.Duration // a device unseen this long is dropped, default 24 h
	MaxDevices  int           // devices per user, default 10
	PollBatch   int           // events per poll answer, default 100
	ClientIDTTL time.Duration // how long a client_id is remembered, default 24 h
	// Flushers send the scripts' calls, each a pipeline at a time, default 1.
	Flushers int
	// CallWait is how long a script call waits for a free flusher before
	// it fails unsent, default 4 s: give it the client's read timeout and
	// a little more, as a pool's wait for a connection.
	CallWait time.Duration
	// CreditCallers hands a Redis hook the contexts of the calls in each
	// pipeline the batcher sends (BatchedCallers), so that it can credit
	// each command to the request that made it. It is test plumbing, for
	// the round-trip tests and the table of round trips per request that
	// make bench prints; it costs a slice and a context per pipeline, so it
	// is off unless set.
	CreditCallers bool
	// Archive keeps every message for good (SQL); nil keeps history in
	// Redis only, trimmed at HistoryCap (the plane's own tests).
	Archive Archive
	// ArchiveDelay bounds how long a message waits for SQL, default 1 s;
	// a node's pending batch is claimed by others after twice that.
	ArchiveDelay time.Duration
	// ArchivePartitions is how many streams the archive is split over,
	// default 8. Every node must use the same number.
	ArchivePartitions int
	// People tells presence who a user's friends are and what each chose
	// to show; nil: nobody is told, and everyone has store.DefaultPrefs.
	People People
	// PresenceGrace is how long after a user's last poll ends their
	// friends still see them, default 45 s: a re-poll, a poll that moves
	// to another node or a node that dies never shows them offline.
	PresenceGrace time.Duration
	// Log gets what the plane does on its own and cannot hand to a
	// caller (an announcement to be sent again); nil: nowhere.
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.Prefix == "" {
		o.Prefix = "wc:"
	}
	if o.HistoryCap <= 0 {
		o.HistoryCap = 10000
	}
	if o.InboxCap <= 0 {
		o.InboxCap = 1000
	}
	if o.DeviceTTL <= 0 {
		o.DeviceTTL = 24 * time.Hour
	}
	if o.MaxDevices <= 0 {
		o.MaxDevices = 10
	}
	if o.PollBatch <= 0 {
		o.PollBatch = 100
	}
	if o.ClientIDTTL <= 0 {
		o.ClientIDTTL = 24 * time.Hour
	}
	if o.Flushers <= 0 {
		o.Flushers = 1
	}
	if o.CallWait <= 0 {
		o.CallWait = 4 * time.Second
	}
	if o.ArchiveDelay <= 0 {
		o.ArchiveDelay = time.Second
	}
	if o.ArchivePartitions <= 0 {
		o.ArchivePartitions = 8
	}
	if o.PresenceGrace <= 0 {
		o.PresenceGrace = 45 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Access answers, from SQL, the rights the plane caches in Redis. The plane
// asks only when a pair or members key is missing.
type Access interface {
	AreFriends(ctx context.Context, a, b store.UserID) (bool, error)
	MemberIDs(ctx context.Context, g store.GroupID) ([]store.UserID, error)
}

// Plane is the Redis message plane: sequence numbers, history, per-device
// delivery lists, unread counts. It is safe for concurrent use and keeps no
// state of its own between calls, so any number of gateway nodes can share
// one Redis.
//
// rdb must not retry commands (MaxRetries -1): a write script that timed
// out after it was sent may have run, and the client_id record, not a blind
// retry, makes a send safe to repeat. block serves the blocking reads of
// waiting polls and may be a separate client with small buffers.
type Plane struct {
	rdb, block redis.UniversalClient
	access     Access
	k          keys
	o          Options
	s          *scripts
	kp         string
	// single: one Redis, not a cluster, so the send script may touch the
	// recipients' keys and deliver in the same call.
	single  bool
	batch   *batcher
	archive Archive // o.Archive
	people  People  // o.People
	log     *slog.Logger
	epoch   epochCache
}

// New returns a plane over the given clients. It does no I/O; it
// starts the goroutines that send script calls, which Close stops.
func New(rdb, block redis.UniversalClient, access Access, o Options) *Plane {
	o.defaults()
	_, cluster := rdb.(*redis.ClusterClient)
	s := loadScripts()
	return &Plane{rdb: rdb, block: block, access: access, k: keys{o.Prefix}, o: o, s: s, kp: o.Prefix, single: !cluster,
		batch: newBatcher(s, rdb, o.Flushers, o.CallWait, o.CreditCallers), archive: o.Archive, people: o.People, log: o.Log}
}

// Close stops the plane once the script calls already sent are answered;
// the calls still queued, and later calls, fail unsent. It does not close
// the clients.
func (p *Plane) Close() { p.batch.close() }

// BatchStats reports the plane's batched script calls so far.
func (p *Plane) BatchStats() BatchStats { return p.batch.stats() }

// Options returns the options in force.
func (p *Plane) Options() Options { return p.o }

// LoadScripts loads the Lua scripts on every master. Scripts are also
// reloaded by themselves after a restart; calling this at start-up only
// saves the first NOSCRIPT round trip.
func (p *Plane) LoadScripts(ctx context.Context) error {
	if err := p.s.load(ctx, p.rdb); err != nil {
		return unavailable("load scripts", err)
	}
	return nil
}

// Ping reports whether Redis answers.
func (p *Plane) Ping(ctx context.Context) error {
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping redis", err)
	}
	return nil
}

func (p *Plane) ttlMS() int64 { return p.o.DeviceTTL.Milliseconds() }

// run runs one script, sent with the other requests' calls (batcher).
func (p *Plane) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	v, err := p.batch.run(ctx, sc, keys, args...)
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return v, nil
}

// RegisterDevice enters a device for the user, so that events sent before
// its first poll wait in its inbox. The least recently seen devices beyond
// the limit are dropped.
func (p *Plane) RegisterDevice(ctx context.Context, u store.UserID, dev string) error {
	_, err := p.run(ctx, p.s.register, []string{p.k.devices(u)}, p.kp, userTag(u), dev, p.ttlMS(), p.o.MaxDevices)
	if err != nil {
		return unavailable("register device", err)
	}
	return nil
}

// UnregisterDevice removes a device and its lists (log-out) and wakes its
// waiting poll. When no other device of u polled within the presence
// grace, u's friends are told u is offline.
func (p *Plane) UnregisterDevice(ctx context.Context, u store.UserID, dev string) error {
	keys := []string{p.k.devices(u), p.k.pollgen(u, dev), p.k.inbox(u, dev), p.k.presence(u)}
	v, err := p.run(ctx, p.s.unregister, keys, p.kp, userTag(u), dev, p.graceMS())
	if err != nil {
		return unavailable("unregister device", err)
	}
	flag, _ := v.(string)
	return p.presenceFlag(ctx, u, flag)
}

// DeviceRef names one device of one user.
type DeviceRef struct {
	User   store.UserID
	Device string
}

// Wake pushes a wake marker to each device's inbox, so that a poll waiting
// there returns and re-checks its state (draining, superseded, logged out).
func (p *Plane) Wake(ctx context.Context, devs []DeviceRef) error {
	if len(devs) == 0 {
		return nil
	}
	calls := make([]*evalCall, len(devs))
	for i, d := range devs {
		calls[i] = &evalCall{script: p.s.wake, keys: []string{p.k.inbox(d.User, d.Device)}}
	}
	if err := p.s.runPipelined(ctx, p.rdb, calls, p.o.CreditCallers); err != nil {
		return unavailable("wake polls", err)
	}
	return nil
}

// Delivery is one event for one user's devices. Payload is a JSON object
// without its id; the delivery script gives it the user's next event id.
type Delivery struct {
	To         store.UserID
	SkipDevice string // the device that caused the event, which needs no copy
	Payload    []byte
	Conv       string // with Seq, for a message counted as unread
	Seq        int64
	Unread     bool
	// Live makes the event ephemeral: only devices polling now get it
	// (liveWindow), none has it queued for later.
	Live bool
}

func (p *Plane) deliveryCall(d Delivery) *evalCall {
	count := "0"
	if d.Unread {
		count = "1"
	}
	live := int64(0)
	if d.Live {
		live = p.liveWindow().Milliseconds()
	}
	return &evalCall{
		script: p.s.deliver,
		keys:   []string{p.k.evid(d.To), p.k.devices(d.To), p.k.unread(d.To)},
		args:   []any{p.kp, userTag(d.To), d.Payload, d.SkipDevice, d.Conv, d.Seq, count, p.ttlMS(), p.o.InboxCap, live},
	}
}

// Publish delivers events, one script per recipient, pipelined (one round
// trip per Redis node). It returns the recipients whose delivery is known
// to have finished, and an error if any other failed.
func (p *Plane) Publish(ctx context.Context, ds []Delivery) (done []store.UserID, err error) {
	done, _, err = p.publish(ctx, ds)
	return done, err
}

// publish is Publish that also counts the copies pushed, one per device.
func (p *Plane) publish(ctx context.Context, ds []Delivery) (done []store.UserID, copies int, err error) {
	if len(ds) == 0 {
		return nil, 0, nil
	}
	if len(ds) == 1 {
		// One recipient (a receipt, a typing notice, a direct message on
		// a cluster): with the other requests' calls, in the next
		// pipeline, rather than a round trip of its own.
		c := p.deliveryCall(ds[0])
		v, err := p.run(ctx, c.script, c.keys, c.args...)
		if err != nil {
			return nil, 0, unavailable("deliver", err)
		}
		n, _ := v.(int64)
		return []store.UserID{ds[0].To}, int(n), nil
	}
	calls := make([]*evalCall, len(ds))
	for i, d := range ds {
		calls[i] = p.deliveryCall(d)
	}
	err = p.s.runPipelined(ctx, p.rdb, calls, p.o.CreditCallers)
	for i, c := range calls {
		if c.cmd != nil && c.cmd.Err() == nil {
			done = append(done, ds[i].To)
			n, _ := c.cmd.Val().(int64)
			copies += int(n)
		}
	}
	if err != nil {
		return done, copies, unavailable("deliver", err)
	}
	return done, copies, nil
}

// EncodeEvent returns the JSON payload of an event of the given type with
// one named field, for Delivery.Payload.
func EncodeEvent(typ, field string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", typ, err)
	}
	out := make([]byte, 0, len(b)+len(typ)+len(field)+16)
	out = append(out, `{"type":"`...)
	out = append(out, typ...)
	out = append(out, `","`...)
	out = append(out, field...)
	out = append(out, `":`...)
	out = append(out, b...)
	return append(out, '}'), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
