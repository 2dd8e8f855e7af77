// Package rights changes who may talk to whom: friendships and group
// membership, each a change in the SQL graph written through to the Redis
// plane's rights keys, and the events each change publishes. It speaks no
// HTTP: the gateway decodes a request, calls one method, and encodes what
// it answers.
//
// The order of each change is the protocol that keeps the two stores
// honest: a right is granted in SQL first and then written through (a
// write-through that fails is repaired by the next send, which asks SQL);
// a right is revoked through plane.Plane.Revoke, which marks the
// conversation before the SQL commit and deletes the Redis right after
// it, so that no rebuild can put a removed right back. Events go out on a
// context that outlives the caller's: a client that hangs up after the
// change committed must not stop the others from hearing of it.
package rights

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"webchat/store"
	"webchat/store/plane"
	"webchat/store/sqlgraph"
)

// Actor is who makes a change: the user, and the device the change comes
// from, which has the answer and so is not sent the event too.
type Actor struct {
	User   store.UserID
	Device string
}

// Service makes the changes. It is safe for concurrent use.
type Service struct {
	graph *sqlgraph.Graph
	plane *plane.Plane
	log   *slog.Logger
	// requestID names, in logs, the request a context belongs to.
	requestID func(context.Context) string

	newsWG sync.WaitGroup // groupNews's fan-outs still to come
}

// Options tune a Service. Zero fields take the defaults.
type Options struct {
	// RequestID returns the id of the request ctx belongs to, for logs.
	RequestID func(ctx context.Context) string
}

// New returns a service over graph and pl that logs to log (nil:
// nowhere). It starts nothing; Close waits for the group news it has
// scheduled.
func New(graph *sqlgraph.Graph, pl *plane.Plane, log *slog.Logger, o Options) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.RequestID == nil {
		o.RequestID = func(context.Context) string { return "" }
	}
	return &Service{graph: graph, plane: pl, log: log, requestID: o.RequestID}
}

// GroupNewsWindow is how long member-count news of one group is gathered
// before one group_updated goes to its members.
const GroupNewsWindow = time.Second

// groupNewsBound bounds one window's fan-out (its SQL reads and delivery),
// so that a dependency that hangs cannot hold a node's shutdown.
const groupNewsBound = 10 * time.Second

// Close waits for the group news still to send (each at most
// GroupNewsWindow and groupNewsBound away), or until ctx ends.
func (s *Service) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.newsWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("group news still to send: %w", ctx.Err())
	}
}

// publish delivers one event to each of to, skipping the actor's own
// device, on a context the caller's hang-up does not end.
func (s *Service) publish(ctx context.Context, a Actor, typ, field string, v any, to ...store.UserID) {
	s.deliver(context.WithoutCancel(ctx), a, typ, field, v, to...)
}

// deliver delivers one event to each user of to on ctx, skipping device
// a.Device of user a.User (none: the zero Actor), and logs what it could
// not deliver: an event is news of a change already made, so its failure
// is not the caller's.
func (s *Service) deliver(ctx context.Context, a Actor, typ, field string, v any, to ...store.UserID) {
	if len(to) == 0 {
		return
	}
	payload, err := plane.EncodeEvent(typ, field, v)
	if err != nil {
		s.log.Error("encode event", "type", typ, "err", err)
		return
	}
	ds := make([]plane.Delivery, 0, len(to))
	for _, u := range to {
		d := plane.Delivery{To: u, Payload: payload}
		if u == a.User {
			d.SkipDevice = a.Device
		}
		ds = append(ds, d)
	}
	if _, err := s.plane.Publish(ctx, ds); err != nil {
		s.log.Warn("publish event", "type", typ, "recipients", len(to), "request_id", s.requestID(ctx), "err", err)
	}
}

// grantWarn logs a failed write-through of a new right: harmless, since a
// send that finds the right missing asks SQL and repairs the key.
func (s *Service) grantWarn(ctx context.Context, what string, err error) {
	if err != nil {
		s.log.Warn("write through "+what, "request_id", s.requestID(ctx), "err", err)
	}
}
