package sqlgraph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"webchat/store"
	"webchat/store/sqlgraph"
	"webchat/store/storetest"
)

func msg(conv string, seq int64, from store.UserID, to int64, body string) store.Message {
	typ := store.TypeSingle
	if conv[0] == 'g' {
		typ = store.TypeGroup
	}
	return store.Message{Conv: conv, Seq: seq, From: from, To: to, Type: typ, Body: body, TS: 1_000 + seq}
}

func archive(ctx context.Context, g *sqlgraph.Graph, msgs []store.Message, reads []store.ReadMarker) error {
	_, err := g.Archive(ctx, msgs, reads)
	return err
}

// A seq that SQL holds for another message (Redis's counter went back: a
// replica promoted without the last writes) is kept under the next free
// seq, above the batch's own, and reported.
func TestArchiveKeepsAMessageWhoseSeqWasReused(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		ctx := t.Context()
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "bob")
		conv := store.DirectConv(a.ID, b.ID).String()
		checkErr(t, "archive", archive(ctx, g, []store.Message{msg(conv, 1, a.ID, int64(b.ID), "one"), msg(conv, 2, a.ID, int64(b.ID), "two")}, nil), nil)
		reused := msg(conv, 2, b.ID, int64(a.ID), "two again")
		reused.TS = 5_000
		after := msg(conv, 3, a.ID, int64(b.ID), "three")
		moved, err := g.Archive(ctx, []store.Message{reused, after}, nil)
		checkErr(t, "archive a reused seq", err, nil)
		if len(moved) != 1 || moved[0].Seq != 4 || moved[0].Body != "two again" {
			t.Fatalf("moved %+v, want two again at seq 4", moved)
		}
		page, _ := g.Messages(ctx, conv, 0, 10)
		var got []string
		for _, m := range page {
			got = append(got, fmt.Sprint(m.Seq, ":", m.Body))
		}
		if fmt.Sprint(got) != "[1:one 2:two 3:three 4:two again]" {
			t.Fatalf("history %v", got)
		}
		// The same batch again: nothing moves, nothing doubles.
		if moved, err := g.Archive(ctx, []store.Message{after}, nil); err != nil || len(moved) != 0 {
			t.Fatalf("again: %v %+v", err, moved)
		}
	})
}

// Archiving is idempotent, pages come back oldest first below before, and
// the counter's restore point is the highest seq held.
func TestArchivePagesAndLastSeq(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		ctx := t.Context()
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "bob")
		conv := store.DirectConv(a.ID, b.ID).String()
		var batch []store.Message
		for s := int64(1); s <= 1500; s++ { // more than one INSERT, and clash checks in slices
			batch = append(batch, msg(conv, s, a.ID, int64(b.ID), fmt.Sprint("m", s)))
		}
		checkErr(t, "archive", archive(ctx, g, batch, nil), nil)
		// Again, overlapping, with a changed body: the first write stays.
		again := append([]store.Message{}, batch[400:]...)
		again[0].Body = "changed"
		checkErr(t, "archive again", archive(ctx, g, again, nil), nil)
		last, err := g.LastSeq(ctx, conv)
		checkErr(t, "last seq", err, nil)
		if last != 1500 {
			t.Fatalf("last seq %d, want 1500", last)
		}
		if n, _ := g.LastSeq(ctx, "d98-99"); n != 0 {
			t.Fatalf("last seq of nothing %d", n)
		}
		page, err := g.Messages(ctx, conv, 402, 3)
		checkErr(t, "page", err, nil)
		if len(page) != 3 || page[0].Seq != 399 || page[2].Seq != 401 || page[2].Body != "m401" {
			t.Fatalf("page %+v", page)
		}
		page, _ = g.Messages(ctx, conv, 0, 1)
		if len(page) != 1 || page[0].Seq != 1500 {
			t.Fatalf("newest %+v", page)
		}
		if got, _ := g.Messages(ctx, conv, 402, 1); got[0].Body != "m401" {
			t.Fatalf("a second archive changed a message: %+v", got)
		}
	})
}

// Search finds substrings in any script, Latin case-insensitively, only in
// the conversations the reader may read now, newest first, in pages.
func TestSearchFindsOnlyWhatTheReaderMayRead(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		ctx := t.Context()
		a, b, c := mkUser(t, g, "ann"), mkUser(t, g, "bob"), mkUser(t, g, "cat")
		ab, bc := store.DirectConv(a.ID, b.ID).String(), store.DirectConv(b.ID, c.ID).String()
		grp, err := g.CreateGroup(ctx, b.ID, "team", "", 10)
		checkErr(t, "create group", err, nil)
		gc := store.GroupConv(grp.ID).String()
		all := []store.Message{
			msg(ab, 1, a.ID, int64(b.ID), "大家你好啊"),
			msg(ab, 2, b.ID, int64(a.ID), "Hello there"),
			msg(ab, 3, a.ID, int64(b.ID), "100% sure_thing"),
			msg(bc, 1, b.ID, int64(c.ID), "hello from bob to cat"),
			msg(gc, 1, b.ID, int64(grp.ID), "hello group 你好"),
		}
		for i := range all {
			all[i].TS = int64(1000 + i) // sent in this order
		}
		checkErr(t, "archive", archive(ctx, g, all, nil), nil)
		find := func(u store.UserID, q string, conv string) []string {
			t.Helper()
			ms, err := g.Search(ctx, sqlgraph.SearchQuery{User: u, Text: q, Conv: conv, Limit: 10})
			checkErr(t, "search "+q, err, nil)
			var out []string
			for _, m := range ms {
				out = append(out, fmt.Sprint(m.Conv, "/", m.Seq))
			}
			return out
		}
		want := func(got []string, w ...string) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Fatalf("got %v, want %v", got, w)
			}
		}
		want(find(a.ID, "你好", ""), ab+"/1")
		want(find(a.ID, "hello", ""), ab+"/2")
		want(find(a.ID, "HELLO", ab), ab+"/2")
		want(find(a.ID, "%", ""), ab+"/3") // LIKE's wildcards are plain text
		want(find(a.ID, "e_t", ""), ab+"/3")
		want(find(a.ID, "o_t", ""))   // _ is no wildcard either
		want(find(a.ID, "hello", bc)) // someone else's conversation
		want(find(b.ID, "hello", ""), gc+"/1", bc+"/1", ab+"/2")
		want(find(b.ID, "你好", ""), gc+"/1", ab+"/1")
		// Paging: the page after the first hit.
		first, _ := g.Search(ctx, sqlgraph.SearchQuery{User: b.ID, Text: "hello", Limit: 1})
		rest, _ := g.Search(ctx, sqlgraph.SearchQuery{User: b.ID, Text: "hello", Limit: 5,
			Before: store.SearchPos{TS: first[0].TS, Conv: first[0].Conv, Seq: first[0].Seq}})
		if len(first) != 1 || len(rest) != 2 || rest[0].Conv != bc {
			t.Fatalf("pages %+v then %+v", first, rest)
		}
		// Someone who never joined the group does not find its messages.
		want(find(c.ID, "hello", ""), bc+"/1")
	})
}

// Unread counts come back from the read markers, without a group's
// messages from before one joined, and a marker only ever rises.
func TestUnreadFromReadMarkers(t *testing.T) {
	forEachGraph(t, func(t *testing.T, g *sqlgraph.Graph) {
		ctx := t.Context()
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "bob")
		ab := store.DirectConv(a.ID, b.ID).String()
		var batch []store.Message
		for s := int64(1); s <= 6; s++ {
			batch = append(batch, msg(ab, s, a.ID, int64(b.ID), "x"))
		}
		batch = append(batch, msg(ab, 7, b.ID, int64(a.ID), "mine"))
		checkErr(t, "archive", archive(ctx, g, batch, []store.ReadMarker{{User: b.ID, Conv: ab, Seq: 4}}), nil)
		checkErr(t, "lower marker", archive(ctx, g, nil, []store.ReadMarker{{User: b.ID, Conv: ab, Seq: 2}}), nil)
		marks, err := g.ReadMarkers(ctx, b.ID)
		checkErr(t, "markers", err, nil)
		if marks[ab] != 4 {
			t.Fatalf("markers %v", marks)
		}
		got, err := g.Unread(ctx, b.ID, []store.UnreadSpan{{Conv: ab, Upto: 100}})
		checkErr(t, "unread", err, nil)
		if got[ab] != (store.UnreadCount{N: 2, Last: 6}) {
			t.Fatalf("unread %v, want 2 up to 6", got)
		}
		got, _ = g.Unread(ctx, b.ID, []store.UnreadSpan{{Conv: ab, Upto: 5}})
		if got[ab] != (store.UnreadCount{N: 1, Last: 5}) {
			t.Fatalf("unread up to 5: %v", got)
		}
		// One batch with a user's marker of a conversation several times,
		// out of order (reads archived together): the highest stands, and
		// another user's marker of the same conversation is their own.
		checkErr(t, "markers in one batch", archive(ctx, g, nil, []store.ReadMarker{
			{User: b.ID, Conv: ab, Seq: 3}, {User: b.ID, Conv: ab, Seq: 6}, {User: a.ID, Conv: ab, Seq: 7}, {User: b.ID, Conv: ab, Seq: 5},
		}), nil)
		for u, want := range map[store.UserID]int64{a.ID: 7, b.ID: 6} {
			if marks, err := g.ReadMarkers(ctx, u); err != nil || marks[ab] != want {
				t.Fatalf("user %d: markers %v (%v), want %d", u, marks, err, want)
			}
		}
	})
}

// A body changed or removed (a recall, later) leaves the search index too:
// the index follows the table.
func TestSearchForgetsARemovedBody(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, e storetest.Engine) {
		dsn := e.NewDSN(t)
		g := storetest.OpenDSN(t, dsn)
		ctx := t.Context()
		a, b := mkUser(t, g, "ann"), mkUser(t, g, "bob")
		conv := store.DirectConv(a.ID, b.ID).String()
		checkErr(t, "archive", archive(ctx, g, []store.Message{msg(conv, 1, a.ID, int64(b.ID), "secret plans 你好"), msg(conv, 2, a.ID, int64(b.ID), "more secret")}, nil), nil)
		count := func(q string) int {
			ms, err := g.Search(ctx, sqlgraph.SearchQuery{User: b.ID, Text: q, Limit: 10})
			checkErr(t, "search", err, nil)
			return len(ms)
		}
		if count("secret") != 2 || count("你好") != 1 {
			t.Fatal("not found before the change")
		}
		raw := storetest.SQL(t, dsn)
		q := func(s string) string {
			if e.Name == "postgres" {
				return strings.Replace(s, "?", "$1", 1)
			}
			return s
		}
		if _, err := raw.ExecContext(ctx, q(`UPDATE messages SET body = '' WHERE seq = ?`), 1); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, q(`DELETE FROM messages WHERE seq = ?`), 2); err != nil {
			t.Fatal(err)
		}
		if n, m := count("secret"), count("你好"); n != 0 || m != 0 {
			t.Fatalf("found %d and %d after the body was removed", n, m)
		}
	})
}
