package plane_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/sqlgraph"
	"webchat/store/storetest"
)

type countingObserver struct{ archived, failed, reused atomic.Int64 }

func (o *countingObserver) Archived(n, _ int, _ []time.Duration) { o.archived.Add(int64(n)) }
func (o *countingObserver) ArchiveFailed()                       { o.failed.Add(1) }
func (o *countingObserver) SeqReused(n int)                      { o.reused.Add(int64(n)) }

// archivePlane is a plane that archives to a fresh SQLite graph, on its own
// Redis (rdb may be a cluster's client).
func archivePlane(t *testing.T, rdb redis.UniversalClient) (*plane.Plane, *sqlgraph.Graph, *fakeAccess) {
	t.Helper()
	g := storetest.NewGraph(t)
	acc := &fakeAccess{friends: map[[2]store.UserID]bool{{1, 2}: true}, members: map[store.GroupID][]store.UserID{}}
	p := plane.New(rdb, rdb, acc, plane.Options{Prefix: storetest.Prefix(t), Archive: g, ArchiveDelay: 100 * time.Millisecond})
	t.Cleanup(p.Close)
	return p, g, acc
}

func runArchiver(t *testing.T, p *plane.Plane, name string) *countingObserver {
	t.Helper()
	obs := &countingObserver{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a := plane.NewArchiver(p, name, slog.New(slog.NewTextHandler(io.Discard, nil)), obs)
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return obs
}

func sendN(t *testing.T, p *plane.Plane, from int, n int) {
	t.Helper()
	for i := range n {
		to := store.UserID(3 - from)
		if _, err := p.Send(context.Background(), plane.Outgoing{From: store.UserID(from), FromDevice: "d", Conv: store.DirectConv(1, 2), To: int64(to), Body: fmt.Sprint("m", i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func waitSQL(t *testing.T, g *sqlgraph.Graph, n int64) {
	t.Helper()
	storetest.WaitFor(t, 10*time.Second, fmt.Sprintf("%d messages in SQL", n), func() bool {
		last, err := g.LastSeq(context.Background(), "d1-2")
		return err == nil && last == n
	})
}

// A node that read a batch and died before it wrote it: after twice
// ARCHIVE_DELAY another node's archiver claims the batch and writes it.
func TestArchiverClaimsADeadNodesBatch(t *testing.T) {
	srv := storetest.Redis(t)
	rdb := srv.Client(t)
	p, g, _ := archivePlane(t, rdb)
	ctx := context.Background()
	sendN(t, p, 1, 5)
	// The dead node: it takes every entry of every partition, and dies.
	prefix := p.Options().Prefix
	for i := range p.Options().ArchivePartitions {
		key := fmt.Sprintf("%sarchive:{a:%d}", prefix, i)
		rdb.XGroupCreateMkStream(ctx, key, "archivers", "0")
		if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "archivers", Consumer: "dead", Streams: []string{key, ">"}, Block: -1}).Err(); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
	}
	if n, _ := p.ArchiveBacklog(ctx); n != 5 {
		t.Fatalf("backlog %d, want the 5 the dead node holds", n)
	}
	start := time.Now()
	obs := runArchiver(t, p, "alive")
	waitSQL(t, g, 5)
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("claimed after %v, before the dead node's entries were idle for 2 × ARCHIVE_DELAY", took)
	}
	storetest.WaitFor(t, 5*time.Second, "the backlog to empty", func() bool { n, _ := p.ArchiveBacklog(ctx); return n == 0 })
	if obs.archived.Load() != 5 || obs.failed.Load() != 0 {
		t.Fatalf("archived %d, failed %d", obs.archived.Load(), obs.failed.Load())
	}
}

// After a FLUSHALL the streams and their consumer group are gone; the
// archiver makes the group again, from the start of the stream, and goes on.
func TestArchiverGoesOnAfterAFlush(t *testing.T) {
	srv := storetest.StartRedis(t)
	rdb := srv.Client(t)
	p, g, _ := archivePlane(t, rdb)
	runArchiver(t, p, "n1")
	sendN(t, p, 1, 3)
	waitSQL(t, g, 3)
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// Rights and the counter come back from SQL (the fake rights and the
	// graph), and the next messages are 4 and 5.
	sendN(t, p, 2, 2)
	waitSQL(t, g, 5)
}

// On a Redis Cluster the stream is in another slot than the conversation,
// so the node queues the message after the send script.
func TestArchiverOnACluster(t *testing.T) {
	rdb := storetest.Cluster(t).Client(t)
	p, g, _ := archivePlane(t, rdb)
	runArchiver(t, p, "n1")
	sendN(t, p, 1, 20)
	waitSQL(t, g, 20)
	ms, err := g.Messages(context.Background(), "d1-2", 0, 100)
	if err != nil || len(ms) != 20 || ms[19].Body != "m19" {
		t.Fatalf("SQL holds %d: %v", len(ms), err)
	}
}

// A counter that went back (a replica promoted without the last writes)
// hands out a seq SQL holds: the later message is kept under a new seq,
// and the counter goes above it, so that the next send is above SQL.
func TestArchiverKeepsAMessageWhoseSeqWasReused(t *testing.T) {
	srv := storetest.Redis(t)
	rdb := srv.Client(t)
	p, g, _ := archivePlane(t, rdb)
	obs := runArchiver(t, p, "n1")
	ctx := context.Background()
	sendN(t, p, 1, 3)
	waitSQL(t, g, 3)
	seqKey := p.Options().Prefix + "seq:{c:d1-2}"
	if err := rdb.Set(ctx, seqKey, 1, 0).Err(); err != nil { // as the promoted replica had it
		t.Fatal(err)
	}
	sendN(t, p, 2, 1) // handed seq 2, which SQL holds for m1 of user 1
	waitSQL(t, g, 4)
	storetest.WaitFor(t, 5*time.Second, "the counter to go above SQL", func() bool {
		n, _ := rdb.Get(ctx, seqKey).Int64()
		return n >= 4
	})
	if obs.reused.Load() != 1 {
		t.Fatalf("reused %d, want 1", obs.reused.Load())
	}
	sendN(t, p, 1, 1)
	waitSQL(t, g, 5)
	ms, _ := g.Messages(ctx, "d1-2", 0, 10)
	if len(ms) != 5 || ms[1].From != 1 || ms[3].From != 2 || ms[3].Body != "m0" {
		t.Fatalf("SQL: %+v", ms)
	}
}

// A message in the window that never reached the archive's stream (on a
// cluster the node adds it after the send script, and may die between the
// two) is found as a gap below the next batch and written from the window.
func TestArchiverFillsAGapFromTheWindow(t *testing.T) {
	srv := storetest.Redis(t)
	rdb := srv.Client(t)
	p, g, _ := archivePlane(t, rdb)
	runArchiver(t, p, "n1")
	ctx := context.Background()
	sendN(t, p, 1, 3)
	waitSQL(t, g, 3)
	prefix := p.Options().Prefix
	lost := `{"conv":"d1-2","seq":4,"from":2,"to":1,"type":"single","body":"never queued","ts":1796000000000}`
	if err := rdb.LPush(ctx, prefix+"hist:{c:d1-2}", lost).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Incr(ctx, prefix+"seq:{c:d1-2}")
	sendN(t, p, 1, 1) // seq 5, queued as usual
	waitSQL(t, g, 5)
	storetest.WaitFor(t, 5*time.Second, "seq 4 in SQL", func() bool {
		ms, err := g.Messages(ctx, "d1-2", 5, 1)
		return err == nil && len(ms) == 1 && ms[0].Seq == 4 && ms[0].Body == "never queued"
	})
}
