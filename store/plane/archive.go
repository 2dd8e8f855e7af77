package plane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

// Archive is where messages are kept for good: SQL (store/sqlgraph). The
// send path never waits on it; the archivers write to it in batches.
type Archive interface {
	// Archive writes messages and read markers, idempotently: a message
	// already held is left alone, a read marker only rises. A message
	// whose seq SQL holds for another one (Redis's counter went back) is
	// kept under a new seq and returned in moved.
	Archive(ctx context.Context, msgs []store.Message, reads []store.ReadMarker) (moved []store.Message, err error)
	// LastSeq is the highest seq held for conv, 0 if none.
	LastSeq(ctx context.Context, conv string) (int64, error)
	// Messages pages conv's messages below before (0: the newest), oldest
	// first.
	Messages(ctx context.Context, conv string, before int64, limit int) ([]store.Message, error)
	// LastMessages returns the newest message of each of convs that has one.
	LastMessages(ctx context.Context, convs []string) (map[string]store.Message, error)
	// Unread counts u's unread messages per span from u's read markers;
	// ReadMarkers returns those markers.
	Unread(ctx context.Context, u store.UserID, spans []store.UnreadSpan) (map[string]store.UnreadCount, error)
	ReadMarkers(ctx context.Context, u store.UserID) (map[string]int64, error)
}

// Messages on their way to SQL: the send script, on a single Redis, adds
// each new message to its conversation's partition of the archive, a Redis
// Stream (on a cluster the node adds it right after the script, before it
// answers). Every node's Archiver reads the partitions as one consumer
// group, so each entry goes to one node; the node writes a batch to SQL,
// and only after the commit acknowledges and deletes its entries and
// raises each conversation's watermark (arch), below which the send script
// may trim the Redis window. Entries a node took and never acknowledged (it
// died, or SQL failed) stay pending in the group, and after twice
// ArchiveDelay any node's XAUTOCLAIM takes them over. Writing a batch twice
// is harmless (Archive is idempotent), so the worst a crash costs is a
// repeated write.
//
// Streams, not a list: a consumer group keeps who holds what without a
// second key per node, and XAUTOCLAIM hands a dead node's share over
// without anyone noticing the death. Partitions, not one stream: a stream
// lives in one slot, and a cluster spreads the partitions over its nodes.
const (
	archiveGroup = "archivers"
	archiveCount = 1000 // entries per partition per read
)

// partition is conv's archive partition.
func (p *Plane) partition(conv string) int {
	h := fnv.New32a()
	h.Write([]byte(conv))
	return int(h.Sum32() % uint32(p.o.ArchivePartitions))
}

func (p *Plane) archiveKey(conv string) string { return p.k.archive(p.partition(conv)) }

// Archiving reports whether the plane archives to SQL.
func (p *Plane) Archiving() bool { return p.archive != nil }

// ArchiveObserver is told what the archiver did, for metrics.
type ArchiveObserver interface {
	// Archived is called once per committed batch with how long each of
	// its messages took from its ts to the commit.
	Archived(messages, reads int, lags []time.Duration)
	// ArchiveFailed is called when a batch could not be written.
	ArchiveFailed()
	// SeqReused is called with how many messages of a batch had a seq
	// SQL held for another message, and were kept under a new one.
	SeqReused(n int)
}

// Archiver is one node's share of the archiving: Run reads the archive's
// partitions and writes what it reads to SQL until its context ends.
type Archiver struct {
	p        *Plane
	log      *slog.Logger
	obs      ArchiveObserver
	consumer string
	every    time.Duration
	minIdle  time.Duration
	gaps     []gap // seqs below a batch that SQL may lack, to read from hist
}

// gap is seqs from..to of conv that were below what the archiver wrote
// and above the watermark before it: messages that may never have reached
// the stream (on a cluster the node adds a message to the stream after the
// send script, and could die in between), or that another node holds.
// The archiver reads them from the Redis window and writes them too;
// writing one twice is harmless.
type gap struct {
	conv     string
	from, to int64
}

// NewArchiver returns the archiver of a node. Its consumer name is the
// node's name and a random suffix, so a restarted node is a new consumer
// and a dead one's pending entries are claimed like anyone else's.
func NewArchiver(p *Plane, node string, log *slog.Logger, obs ArchiveObserver) *Archiver {
	var b [4]byte
	rand.Read(b[:])
	if node == "" {
		node = "node"
	}
	return &Archiver{p: p, log: log, obs: obs, consumer: node + "-" + hex.EncodeToString(b[:]),
		every: max(p.o.ArchiveDelay/2, 10*time.Millisecond), minIdle: 2 * p.o.ArchiveDelay}
}

// Run archives until ctx ends. A round reads new entries every half of
// ArchiveDelay (fewer, larger transactions cost SQL less than many small
// ones: a commit writes the pages the batch touched, whatever its size),
// and claims other nodes' stale pending entries every other round; a
// round that found full partitions runs again at once.
func (a *Archiver) Run(ctx context.Context) {
	if a.p.archive == nil {
		return
	}
	t := time.NewTicker(a.every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			// A last round for what this node stored as it stopped.
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			a.round(last, false, false)
			cancel()
			return
		case <-t.C:
		}
		claim := n%2 == 0
		for a.round(ctx, claim, n%120 == 0) {
			claim = false
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// round reads and archives one batch; it reports whether a partition had
// more than it read.
func (a *Archiver) round(ctx context.Context, claim, tidy bool) (more bool) {
	p := a.p
	n := p.o.ArchivePartitions
	pipe := p.rdb.Pipeline()
	reads := make([]*redis.XStreamSliceCmd, n)
	claims := make([]*redis.XAutoClaimCmd, n)
	for i := range n {
		key := p.k.archive(i)
		reads[i] = pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: archiveGroup, Consumer: a.consumer,
			Streams: []string{key, ">"}, Count: archiveCount, Block: -1})
		if claim {
			claims[i] = pipe.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: key, Group: archiveGroup,
				Consumer: a.consumer, MinIdle: a.minIdle, Start: "0-0", Count: archiveCount})
		}
	}
	pipe.Exec(ctx) // each command's error is read below
	entries := make([][]redis.XMessage, n)
	for i := range n {
		if err := reads[i].Err(); err != nil && !errors.Is(err, redis.Nil) {
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				a.createGroup(ctx, p.k.archive(i))
			} else if ctx.Err() == nil {
				a.log.Warn("archive: read", "partition", i, "err", err)
			}
			continue
		}
		for _, s := range reads[i].Val() {
			entries[i] = append(entries[i], s.Messages...)
		}
		more = more || len(entries[i]) == archiveCount
		if claim && claims[i].Err() == nil {
			msgs, _ := claims[i].Val()
			entries[i] = append(entries[i], msgs...)
		}
	}
	if tidy {
		a.tidy(ctx)
	}
	a.archive(ctx, entries)
	if len(a.gaps) > 0 {
		// At once: the watermark has passed the gap, so no later round
		// would see it.
		a.archive(ctx, nil, a.repair(ctx)...)
	}
	return more
}

func (a *Archiver) createGroup(ctx context.Context, key string) {
	// From the start of the stream ("0"), not its end: entries added after
	// a flush and before the group is made again are archived too.
	err := a.p.rdb.XGroupCreateMkStream(ctx, key, archiveGroup, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") && ctx.Err() == nil {
		a.log.Warn("archive: create consumer group", "stream", key, "err", err)
	}
}

// tidy forgets consumers that hold nothing and were idle for an hour: nodes
// long gone, whose entries were claimed.
func (a *Archiver) tidy(ctx context.Context) {
	for i := range a.p.o.ArchivePartitions {
		key := a.p.k.archive(i)
		cs, err := a.p.rdb.XInfoConsumers(ctx, key, archiveGroup).Result()
		if err != nil {
			continue
		}
		for _, c := range cs {
			if c.Pending == 0 && c.Idle > time.Hour && c.Name != a.consumer {
				a.p.rdb.XGroupDelConsumer(ctx, key, archiveGroup, c.Name)
			}
		}
	}
}

// archive writes the entries read to SQL, then acknowledges and deletes
// them and raises the watermarks. If SQL fails they stay pending, to be
// claimed again after minIdle.
func (a *Archiver) archive(ctx context.Context, entries [][]redis.XMessage, repaired ...store.Message) {
	var (
		msgs  []store.Message
		reads []store.ReadMarker
		top   = map[string]int64{}
		low   = map[string]int64{}
		seen  = map[msgKey]bool{}
		total = len(repaired)
	)
	add := func(m store.Message) {
		if seen[msgKey{m.Conv, m.Seq}] {
			return
		}
		seen[msgKey{m.Conv, m.Seq}] = true
		msgs = append(msgs, m)
		top[m.Conv] = max(top[m.Conv], m.Seq)
		if l, ok := low[m.Conv]; !ok || m.Seq < l {
			low[m.Conv] = m.Seq
		}
	}
	for _, m := range repaired {
		add(m)
	}
	for _, es := range entries {
		total += len(es)
		for _, e := range es {
			m, r, ok := parseArchiveEntry(e)
			switch {
			case !ok:
				a.log.Warn("archive: unreadable entry dropped", "id", e.ID)
			case r != nil:
				reads = append(reads, *r)
			default:
				add(m)
			}
		}
	}
	if total == 0 {
		return
	}
	moved, err := a.p.archive.Archive(ctx, msgs, reads)
	if err != nil {
		if ctx.Err() == nil {
			a.obs.ArchiveFailed()
			a.log.Warn("archive: write to SQL failed; the batch stays pending", "messages", len(msgs), "err", err)
		}
		return
	}
	now := time.Now()
	lags := make([]time.Duration, len(msgs))
	for i, m := range msgs {
		lags[i] = now.Sub(time.UnixMilli(m.TS))
	}
	a.obs.Archived(len(msgs), len(reads), lags)

	// Committed: done with the entries, whatever the caller does now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishBound)
	defer cancel()
	pipe := a.p.rdb.Pipeline()
	for i, es := range entries {
		if len(es) == 0 {
			continue
		}
		ids := make([]string, len(es))
		for j, e := range es {
			ids[j] = e.ID
		}
		key := a.p.k.archive(i)
		pipe.XAck(ctx, key, archiveGroup, ids...)
		pipe.XDel(ctx, key, ids...)
	}
	marks := make(map[string]*redis.Cmd, len(top))
	for conv, seq := range top {
		marks[conv] = a.p.s.archived.Run(ctx, pipe, []string{a.p.k.arch(conv)}, seq)
	}
	if len(moved) > 0 {
		// Redis handed out seqs SQL already held: its counter went back (a
		// replica promoted without the last writes). The messages are kept
		// under new seqs; the counter goes above them, so that it stops.
		a.obs.SeqReused(len(moved))
		high := map[string]int64{}
		for _, m := range moved {
			high[m.Conv] = max(high[m.Conv], m.Seq)
			a.log.Warn("archive: a seq was handed out twice; the later message is kept under a new seq",
				"conv", m.Conv, "seq", m.Seq)
		}
		for conv, seq := range high {
			a.p.s.raiseSeq.Run(ctx, pipe, []string{a.p.k.seq(conv)}, seq)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// Entries not acknowledged are archived again later: harmless.
		a.log.Warn("archive: acknowledge", "err", err)
	}
	for conv, cmd := range marks {
		if prev, err := cmd.Int64(); err == nil && prev < low[conv]-1 {
			a.gaps = append(a.gaps, gap{conv: conv, from: prev + 1, to: low[conv] - 1})
		}
	}
}

// repair reads the gaps the last batch left from the Redis window: at
// most HistoryCap of each, the newest, as older ones left the window.
func (a *Archiver) repair(ctx context.Context) []store.Message {
	gaps := a.gaps
	a.gaps = nil
	if len(gaps) == 0 {
		return nil
	}
	p := a.p
	pipe := p.rdb.Pipeline()
	curs := make([]*redis.StringCmd, len(gaps))
	for i, g := range gaps {
		curs[i] = pipe.Get(ctx, p.k.seq(g.conv))
	}
	pipe.Exec(ctx) // each reply's error is read below
	pipe = p.rdb.Pipeline()
	pages := make([]*redis.StringSliceCmd, len(gaps))
	for i, g := range gaps {
		cur, err := curs[i].Int64()
		if err != nil || cur < g.to {
			continue
		}
		from := max(g.from, g.to-int64(p.o.HistoryCap)+1)
		// hist is newest first, contiguous in seq: index = cur - seq.
		pages[i] = pipe.LRange(ctx, p.k.hist(g.conv), cur-g.to, cur-from)
	}
	pipe.Exec(ctx)
	var out []store.Message
	for i, g := range gaps {
		if pages[i] == nil {
			continue
		}
		for _, s := range pages[i].Val() {
			var m store.Message
			if json.Unmarshal([]byte(s), &m) == nil && m.Conv == g.conv && m.Seq >= g.from && m.Seq <= g.to {
				out = append(out, m)
			}
		}
	}
	return out
}

type msgKey struct {
	conv string
	seq  int64
}

// parseArchiveEntry reads an entry: a message ('m') or a read marker ('u',
// 'c', 's').
func parseArchiveEntry(e redis.XMessage) (store.Message, *store.ReadMarker, bool) {
	if s, ok := e.Values["m"].(string); ok {
		var m store.Message
		if err := json.Unmarshal([]byte(s), &m); err != nil || m.Conv == "" || m.Seq <= 0 {
			return store.Message{}, nil, false
		}
		return m, nil, true
	}
	u, _ := e.Values["u"].(string)
	c, _ := e.Values["c"].(string)
	s, _ := e.Values["s"].(string)
	uid, err1 := strconv.ParseInt(u, 10, 64)
	seq, err2 := strconv.ParseInt(s, 10, 64)
	if err1 != nil || err2 != nil || c == "" {
		return store.Message{}, nil, false
	}
	return store.Message{}, &store.ReadMarker{User: store.UserID(uid), Conv: c, Seq: seq}, true
}

// queueArchive adds a stored message to its partition of the archive, for
// a cluster, where the send script cannot (the stream is in another slot).
func (p *Plane) queueArchive(ctx context.Context, conv, msg string) error {
	if err := p.rdb.XAdd(ctx, &redis.XAddArgs{Stream: p.archiveKey(conv), Values: []any{"m", msg}}).Err(); err != nil {
		return unavailable("queue for the archive", err)
	}
	return nil
}

// restoreSeq puts back a missing counter of conv above what SQL holds.
func (p *Plane) restoreSeq(ctx context.Context, conv string) error {
	last, err := p.archive.LastSeq(ctx, conv)
	if err != nil {
		return err
	}
	return p.setSeq(ctx, conv, last)
}

// setSeq sets a missing counter of conv to last.
func (p *Plane) setSeq(ctx context.Context, conv string, last int64) error {
	if _, err := p.run(ctx, p.s.restoreSeq, []string{p.k.seq(conv), p.k.seqbase(conv)}, last); err != nil {
		return unavailable("restore seq", err)
	}
	return nil
}

// ensureSeq restores conv's counter from SQL if it is missing, at a moment
// SQL is asked anyway (a right granted or rebuilt), so that a send, which
// never asks SQL, finds it.
func (p *Plane) ensureSeq(ctx context.Context, conv string) error {
	if p.archive == nil {
		return nil
	}
	n, err := p.rdb.Exists(ctx, p.k.seq(conv)).Result()
	if err != nil {
		return unavailable("check seq", err)
	}
	if n == 1 {
		return nil
	}
	return p.restoreSeq(ctx, conv)
}

// ArchiveBacklog is how many entries wait in the archive, in all
// partitions, for the readiness report and tests.
func (p *Plane) ArchiveBacklog(ctx context.Context) (int64, error) {
	pipe := p.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, p.o.ArchivePartitions)
	for i := range cmds {
		cmds[i] = pipe.XLen(ctx, p.k.archive(i))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, unavailable("archive backlog", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

func encodeMessage(m store.Message) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("encode message: %v", err)) // strings and ints only
	}
	return b
}
