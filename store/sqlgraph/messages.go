package sqlgraph

import (
	"context"
	"math"
	"strings"

	"webchat/store"
)

// archiveChunk is how many rows one INSERT carries: 8 values each, well
// under both databases' limits on a statement's parameters.
const archiveChunk = 1000

// Archive writes messages and read markers in one transaction. It is
// idempotent: a message already held (the same conv, seq, sender and ts)
// is left as it is, and a read marker only ever rises, so a batch archived
// twice, or two nodes archiving the same batch, write each row once.
//
// A message whose (conv, seq) SQL holds for another message means Redis
// handed out a seq twice: a replica promoted without the last writes, its
// counter behind what SQL holds. That message is kept under the
// conversation's next free seq, and returned in moved, so that the caller
// raises the counter above it.
func (g *Graph) Archive(ctx context.Context, msgs []store.Message, reads []store.ReadMarker) (moved []store.Message, err error) {
	// The highest seq of each conversation in the batch, so that a moved
	// message goes above the batch too.
	top := map[string]int64{}
	for _, m := range msgs {
		top[m.Conv] = max(top[m.Conv], m.Seq)
	}
	err = g.inTx(ctx, "archive", func(r runner) error {
		moved = moved[:0]
		next := map[string]int64{} // the next free seq of a conversation that had a clash
		for len(msgs) > 0 {
			n := min(len(msgs), archiveChunk)
			inserted, err := insertMessages(ctx, r, msgs[:n])
			if err != nil {
				return err
			}
			if inserted < int64(n) {
				// Some were held already: the same messages again (a batch
				// archived twice), or a clash.
				clash, err := clashes(ctx, r, msgs[:n])
				if err != nil {
					return err
				}
				var again []store.Message
				for _, m := range msgs[:n] {
					if !clash[[2]any{m.Conv, m.Seq}] {
						continue
					}
					if next[m.Conv] == 0 {
						first, err := nextSeq(ctx, r, m.Conv)
						if err != nil {
							return err
						}
						next[m.Conv] = max(first, top[m.Conv]+1)
					}
					m.Seq = next[m.Conv]
					next[m.Conv]++
					again = append(again, m)
				}
				if _, err := insertMessages(ctx, r, again); err != nil {
					return err
				}
				moved = append(moved, again...)
			}
			msgs = msgs[n:]
		}
		return upsertReadMarkers(ctx, r, reads)
	})
	return moved, err
}

// upsertReadMarkers raises each user's read marker of a conversation to
// the highest seq reads hold for it, never lowering one, a chunk of rows
// per statement. A row per (user, conv): one statement may not touch a row
// twice (PostgreSQL refuses), and the lower seqs would change nothing.
func upsertReadMarkers(ctx context.Context, r runner, reads []store.ReadMarker) error {
	type key struct {
		u    store.UserID
		conv string
	}
	top := make(map[key]int64, len(reads))
	rows := make([]key, 0, len(reads)) // first-seen order, for a stable statement
	for _, rm := range reads {
		k := key{rm.User, rm.Conv}
		seq, ok := top[k]
		if !ok {
			rows = append(rows, k)
		}
		top[k] = max(seq, rm.Seq)
	}
	for len(rows) > 0 {
		n := min(len(rows), archiveChunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO read_markers (user_id, conv, seq) VALUES `)
		args := make([]any, 0, 3*n)
		for i, k := range rows[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(`(?, ?, ?)`)
			args = append(args, k.u, k.conv, top[k])
		}
		q.WriteString(` ON CONFLICT (user_id, conv) DO UPDATE SET seq = excluded.seq WHERE read_markers.seq < excluded.seq`)
		if _, err := r.exec(ctx, q.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// insertMessages inserts what SQL does not hold yet and returns how many
// rows it inserted.
func insertMessages(ctx context.Context, r runner, msgs []store.Message) (int64, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO messages (conv, seq, sender, recipient, type, body, client_id, ts) VALUES `)
	args := make([]any, 0, 8*len(msgs))
	for i, m := range msgs {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?)`)
		args = append(args, m.Conv, m.Seq, m.From, m.To, m.Type, m.Body, m.ClientID, m.TS)
	}
	q.WriteString(` ON CONFLICT (conv, seq) DO NOTHING`)
	res, err := r.exec(ctx, q.String(), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// clashes returns the (conv, seq) of msgs that SQL holds for a different
// message (another sender or ts); the same message again is no clash. It
// asks in slices of clashSlice, as a chain of ORs has a depth limit.
func clashes(ctx context.Context, r runner, msgs []store.Message) (map[[2]any]bool, error) {
	out := map[[2]any]bool{}
	for len(msgs) > 0 {
		n := min(len(msgs), clashSlice)
		if err := clashesIn(ctx, r, msgs[:n], out); err != nil {
			return nil, err
		}
		msgs = msgs[n:]
	}
	return out, nil
}

const clashSlice = 200

func clashesIn(ctx context.Context, r runner, msgs []store.Message, out map[[2]any]bool) error {
	var q strings.Builder
	q.WriteString(`SELECT conv, seq, sender, ts FROM messages WHERE `)
	args := make([]any, 0, 2*len(msgs))
	want := make(map[[2]any]store.Message, len(msgs))
	for i, m := range msgs {
		if i > 0 {
			q.WriteString(` OR `)
		}
		q.WriteString(`(conv = ? AND seq = ?)`)
		args = append(args, m.Conv, m.Seq)
		want[[2]any{m.Conv, m.Seq}] = m
	}
	rows, err := r.query(ctx, q.String(), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			conv    string
			seq, ts int64
			sender  store.UserID
		)
		if err := rows.Scan(&conv, &seq, &sender, &ts); err != nil {
			return err
		}
		if m := want[[2]any{conv, seq}]; m.From != sender || m.TS != ts {
			out[[2]any{conv, seq}] = true
		}
	}
	return rows.Err()
}

// nextSeq is the seq after the highest SQL holds for conv.
func nextSeq(ctx context.Context, r runner, conv string) (int64, error) {
	var n int64
	err := r.row(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conv = ?`, conv).Scan(&n)
	return n, err
}

// LastSeq returns the highest seq SQL holds for conv, 0 if none: a
// conversation's counter, lost with Redis, starts above it.
func (g *Graph) LastSeq(ctx context.Context, conv string) (int64, error) {
	var n int64
	if err := g.pool().row(ctx, `SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conv = ?`, conv).Scan(&n); err != nil {
		return 0, unavailable("last seq", err)
	}
	return n, nil
}

const messageCols = `conv, seq, sender, recipient, type, body, client_id, ts`

func scanMessages(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]store.Message, error) {
	out := []store.Message{}
	for rows.Next() {
		var m store.Message
		if err := rows.Scan(&m.Conv, &m.Seq, &m.From, &m.To, &m.Type, &m.Body, &m.ClientID, &m.TS); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Messages returns up to limit archived messages of conv with seq below
// before (0: from the newest), oldest first. The caller checks the right
// to read.
func (g *Graph) Messages(ctx context.Context, conv string, before int64, limit int) ([]store.Message, error) {
	const op = "messages"
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := g.pool().query(ctx, `SELECT `+messageCols+` FROM messages
		WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, conv, before, limit)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, unavailable(op, err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, nil
}

// LastMessages returns the newest message of each of convs that has one.
func (g *Graph) LastMessages(ctx context.Context, convs []string) (map[string]store.Message, error) {
	const op = "last messages"
	out := map[string]store.Message{}
	for len(convs) > 0 {
		n := min(len(convs), archiveChunk)
		args := make([]any, n)
		for i, c := range convs[:n] {
			args[i] = c
		}
		in := strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
		rows, err := g.pool().query(ctx, `SELECT `+prefixCols("m.", messageCols)+` FROM messages m
			JOIN (SELECT conv, MAX(seq) AS seq FROM messages WHERE conv IN (`+in+`) GROUP BY conv) t
			ON m.conv = t.conv AND m.seq = t.seq`, args...)
		if err != nil {
			return nil, unavailable(op, err)
		}
		msgs, err := scanMessages(rows)
		rows.Close()
		if err != nil {
			return nil, unavailable(op, err)
		}
		for _, m := range msgs {
			out[m.Conv] = m
		}
		convs = convs[n:]
	}
	return out, nil
}

// SearchQuery is a search of the messages u may read now: the direct
// conversations u is one of (kept readable after an unfriending, as their
// history is) and the groups u is a member of.
type SearchQuery struct {
	User   store.UserID
	Text   string // a substring, matched case-insensitively
	Conv   string // only this conversation, if set
	Before store.SearchPos
	Limit  int
}

// Search returns up to q.Limit messages holding q.Text, newest first.
func (g *Graph) Search(ctx context.Context, q SearchQuery) ([]store.Message, error) {
	const op = "search"
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Text) + "%"
	query := `SELECT ` + prefixCols("m.", messageCols) + ` FROM messages m
		WHERE ` + g.d.bodyLike + `
		AND ((m.type = 'single' AND (m.sender = ? OR m.recipient = ?))
		  OR (m.type = 'group' AND m.recipient IN (SELECT group_id FROM group_members WHERE user_id = ?)))`
	args := []any{like, q.User, q.User, q.User}
	if q.Conv != "" {
		query += ` AND m.conv = ?`
		args = append(args, q.Conv)
	}
	if !q.Before.IsZero() {
		query += ` AND (m.ts < ? OR (m.ts = ? AND (m.conv < ? OR (m.conv = ? AND m.seq < ?))))`
		args = append(args, q.Before.TS, q.Before.TS, q.Before.Conv, q.Before.Conv, q.Before.Seq)
	}
	query += ` ORDER BY m.ts DESC, m.conv DESC, m.seq DESC LIMIT ?`
	args = append(args, q.Limit)
	rows, err := g.pool().query(ctx, query, args...)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, unavailable(op, err)
	}
	return msgs, nil
}

func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Unread counts, for each span, u's unread messages that SQL holds, and
// the highest seq it counted, from u's read markers: what Redis's unread
// counts were before Redis lost them. A group's messages from before u
// joined are not counted. Spans with nothing unread are left out.
func (g *Graph) Unread(ctx context.Context, u store.UserID, spans []store.UnreadSpan) (map[string]store.UnreadCount, error) {
	const op = "unread"
	out := map[string]store.UnreadCount{}
	for _, s := range spans {
		var n, last int64
		err := g.pool().row(ctx, `SELECT COUNT(*), COALESCE(MAX(m.seq), 0) FROM messages m
			WHERE m.conv = ? AND m.seq <= ? AND m.sender <> ?
			AND m.seq > COALESCE((SELECT seq FROM read_markers WHERE user_id = ? AND conv = ?), 0)
			AND (m.type = 'single' OR m.ts >= COALESCE((SELECT joined_at FROM group_members WHERE group_id = m.recipient AND user_id = ?), 0))`,
			s.Conv, s.Upto, u, u, s.Conv, u).Scan(&n, &last)
		if err != nil {
			return nil, unavailable(op, err)
		}
		if n > 0 {
			out[s.Conv] = store.UnreadCount{N: n, Last: last}
		}
	}
	return out, nil
}

// ReadMarkers returns how far u has read each conversation, as SQL holds it.
func (g *Graph) ReadMarkers(ctx context.Context, u store.UserID) (map[string]int64, error) {
	const op = "read markers"
	rows, err := g.pool().query(ctx, `SELECT conv, seq FROM read_markers WHERE user_id = ?`, u)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return nil, unavailable(op, err)
		}
		out[c] = n
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	return out, nil
}
